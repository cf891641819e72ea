"""The cell table (CSV) and its cells (GeoJSON: outlines where instance labels were kept, else boxes)
of a detection run, as ``cytoqa detect`` and the Detection widget's export write them: level-0 pixels,
µm where the pixel size is known (GUI-free)."""
from __future__ import annotations

from pathlib import Path

from .._files import atomic_write
from ..io.geojson import feature_collection, write_geojson
from ..io.planes import file_plane
from ..stacks import plane_label
from .planes import PlaneDetections
from .result import Detections


def _pairs(found, plane: tuple) -> list:
    """``(plane indices, Detections)`` of a :class:`PlaneDetections`, or of one run on ``plane``."""
    return list(found.detections.items()) if isinstance(found, PlaneDetections) else [(tuple(plane), found)]


def cells_table(found, pixel_size_um=None, *, downsample: float = 1.0, plane: tuple = ()):
    """One row per cell (:meth:`Detections.to_dataframe`); of a :class:`PlaneDetections` (or a
    ``plane`` of a stack) with the plane's label first, every plane's cells in order."""
    import pandas as pd

    frames = []
    for at, det in _pairs(found, plane):
        df = det.to_dataframe(pixel_size_um, downsample=downsample)
        if at:
            df.insert(0, "plane", plane_label(at))
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cells_geojson(found, *, downsample: float = 1.0, plane: tuple = (), frame: dict | None = None,
                  cell_expansion: float = 0.0) -> dict:
    """The cells as a GeoJSON FeatureCollection (:meth:`Detections.to_geojson`) in level-0 pixels —
    their outlines where instance labels were kept (U-Net, Otsu), else their boxes —
    each on its plane (a ``plane`` property) for a stack; ``frame``: the image's ``cytoqa_frame``
    (see :mod:`napari_cytoqa.io.geojson`); ``cell_expansion`` > 0 (pixels of the analysed level): QuPath
    cells around the nuclei (:meth:`Detections.to_geojson`)."""
    features = []
    for at, det in _pairs(found, plane):
        for feature in det.to_geojson(downsample=downsample, outlines=True, cell_expansion=cell_expansion)["features"]:
            if at:
                feature["properties"]["plane"] = [int(i) for i in at]
            features.append(feature)
    return feature_collection(features, frame)


def in_file_planes(found, plane: tuple, channel) -> tuple:
    """``(found, plane)`` of a run on a layer that shows channel ``channel = [position, index]`` of a
    multi-channel file (:func:`~napari_cytoqa.io.planes.file_plane`), in the file's plane indices —
    what ``cytoqa detect --plane`` names — instead of the layer's leading indices."""
    import pandas as pd

    if channel is None:
        return found, plane
    if isinstance(found, PlaneDetections):
        keys = [file_plane(k, channel) for k in found.detections]
        table = found.table.copy()
        table["plane"] = [plane_label(k) for k in keys]
        table["index"] = pd.Series(keys, index=table.index, dtype=object)
        found = PlaneDetections(table=table, detections=dict(zip(keys, found.detections.values())))
    return found, file_plane(plane, channel)


def write_cells(csv_path, found: Detections | PlaneDetections, *, pixel_size_um=None, downsample: float = 1.0,
                plane: tuple = (), frame: dict | None = None, cell_expansion: float = 0.0) -> list[Path]:
    """Write ``csv_path`` (:func:`cells_table`), the GeoJSON beside it (same stem) and, for a
    :class:`PlaneDetections`, the count per plane as ``<stem>_planes.csv``; each atomically. Planes
    are the file's (:func:`in_file_planes` for a run on one channel layer).
    Returns the paths written."""
    csv_path = Path(csv_path)
    table = cells_table(found, pixel_size_um, downsample=downsample, plane=plane)
    atomic_write(csv_path, lambda tmp: table.to_csv(tmp, index=False))
    written = [csv_path, write_geojson(csv_path.with_suffix(".geojson"),
                                       cells_geojson(found, downsample=downsample, plane=plane, frame=frame,
                                                     cell_expansion=cell_expansion))]
    if isinstance(found, PlaneDetections):
        counts = csv_path.with_name(f"{csv_path.stem}_planes.csv")
        atomic_write(counts, lambda tmp: found.to_csv(tmp))
        written.append(counts)
    return written
