"""Shapes and Points layers to and from GeoJSON in image pixels (napari's writer and reader
contributions for ``.geojson``; QuPath opens what they write and they open QuPath's exports).

No napari import: the writers get napari's plain ``(data, attributes)``, the reader returns
layer-data tuples. The pixel frame is the image the shapes belong to: for our result layers the
``cytoqa_frame`` in their metadata (the source image's scale, translation and plane), for any
other layer the layer's own grid — the case of a layer made with napari's "new shapes" button
while the image was selected, which inherits the image's scale.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .io.geojson import (
    Annotations,
    GeoJSONError,
    feature_collection,
    feature_properties,
    point_feature,
    read_geojson,
    shape_feature,
    write_geojson,
)
from .io.planes import file_plane, layer_plane, place_qupath_planes

log = logging.getLogger(__name__)


def frame_metadata(source, plane: tuple = ()) -> dict:
    """The ``cytoqa_frame`` of result layers drawn over ``source`` (an image layer) at ``plane``."""
    if source is None:
        return {}
    frame = {"scale": [float(v) for v in source.scale], "translate": [float(v) for v in source.translate]}
    units = getattr(source, "units", None)
    if units is not None:
        frame["units"] = [str(u) for u in units]
    if plane:
        frame["plane"] = [int(p) for p in plane]
    read = (getattr(source, "metadata", None) or {}).get("cytoqa") or {}  # what our reader knew of the file
    if read.get("channel") is not None:  # one channel of a file our reader split: its place among the planes
        frame["channel"] = [int(v) for v in read["channel"]]
    if read.get("plane_axes"):  # a stack's axes: QuPath's plane of each shape can be written
        frame["plane_axes"] = str(read["plane_axes"])
    return {"cytoqa_frame": frame}


class _Frame:
    """Maps a layer's data coordinates to pixel-edge coordinates of its image (and the plane)."""

    def __init__(self, attributes: dict, ndim: int):
        for key, identity in (("rotate", np.eye(ndim)), ("shear", None), ("affine", np.eye(ndim + 1))):
            value = attributes.get(key)
            if value is None:
                continue
            value = np.asarray(value, float)
            if not np.allclose(value, 0 if identity is None else identity):
                raise GeoJSONError(f"the layer is {'sheared' if key == 'shear' else key + 'd'}: GeoJSON in image "
                                   "pixels needs an unrotated, unsheared layer")
        self.scale = np.asarray(attributes.get("scale", np.ones(ndim)), float)[-ndim:]
        self.translate = np.asarray(attributes.get("translate", np.zeros(ndim)), float)[-ndim:]
        meta = (attributes.get("metadata") or {}).get("cytoqa_frame")
        if isinstance(meta, dict):
            fs, ft = np.asarray(meta["scale"], float), np.asarray(meta["translate"], float)
            self.units = meta.get("units")
            self.fixed_plane = tuple(int(p) for p in meta.get("plane", ()))
            self.channel, self.plane_axes = meta.get("channel"), meta.get("plane_axes")
        else:
            self.channel = self.plane_axes = None
            fs, ft = self.scale, self.translate
            units = attributes.get("units")
            self.units = [str(u) for u in units] if units is not None else None
            self.fixed_plane = ()
        self.frame_scale, self.frame_translate = fs, ft
        self.ndim = ndim

    def to_pixels(self, data) -> tuple[np.ndarray, tuple]:
        """``(K, ndim)`` data coordinates → ``(K, 2)`` pixel-edge ``(y, x)`` and the plane indices."""
        d = np.asarray(data, float).reshape(-1, self.ndim)
        world = d * self.scale + self.translate
        yx = (world[:, -2:] - self.frame_translate[-2:]) / self.frame_scale[-2:] + 0.5
        if self.ndim == 2:
            return yx, file_plane(self.fixed_plane, self.channel)
        lead = self.ndim - 2
        if len(self.frame_scale) >= self.ndim:
            idx = (world[:, :lead] - self.frame_translate[-self.ndim:-2]) / self.frame_scale[-self.ndim:-2]
        else:
            idx = d[:, :lead]
        planes = np.unique(np.rint(idx).astype(int), axis=0)
        if len(planes) != 1:
            raise GeoJSONError("a shape spans several planes of the stack; GeoJSON holds 2-D shapes")
        return yx, file_plane(planes[0], self.channel)

    def collection_frame(self) -> dict:
        frame = {"scale": self.frame_scale.tolist(), "translate": self.frame_translate.tolist()}
        if self.units is not None:
            frame["units"] = list(self.units)
        if self.channel is not None:
            frame["channel"] = [int(v) for v in self.channel]
        if self.plane_axes:
            frame["plane_axes"] = self.plane_axes
        return frame


def _rows(attributes: dict, n: int) -> list[dict]:
    features = attributes.get("features")
    if features is None or not len(getattr(features, "columns", ())):
        return [{} for _ in range(n)]
    return features.reset_index(drop=True).to_dict("records")


def _object_type(attributes: dict) -> str:
    return "detection" if "cytoqa_detections" in (attributes.get("metadata") or {}) else "annotation"


def shapes_collection(data, attributes: dict) -> dict:
    """The GeoJSON FeatureCollection of a Shapes layer's ``data`` and ``attributes`` (napari's
    writer arguments): every shape in pixels of its image (see the module's docstring)."""
    ndim = int(attributes.get("ndim") or (np.asarray(data[0]).shape[1] if len(data) else 2))
    frame = _Frame(attributes, ndim)
    kinds = attributes.get("shape_type") or ["polygon"] * len(data)
    rows, otype = _rows(attributes, len(data)), _object_type(attributes)
    feats = []
    for verts, kind, row in zip(data, kinds, rows):
        yx, plane = frame.to_pixels(verts)
        feats.append(shape_feature(yx, kind, feature_properties(row, object_type=otype, plane=plane)))
    return feature_collection(feats, frame.collection_frame())


def points_collection(data, attributes: dict) -> dict:
    """The GeoJSON FeatureCollection of a Points layer (each point a Point feature)."""
    data = np.asarray(data, float)
    ndim = int(attributes.get("ndim") or (data.shape[1] if data.ndim == 2 else 2))
    frame = _Frame(attributes, ndim)
    rows, otype = _rows(attributes, len(data)), _object_type(attributes)
    feats = []
    for point, row in zip(data.reshape(-1, ndim), rows):
        yx, plane = frame.to_pixels(point[None])
        feats.append(point_feature(yx[0], feature_properties(row, object_type=otype, plane=plane)))
    return feature_collection(feats, frame.collection_frame())


def labels_collection(data, attributes: dict) -> dict:
    """The GeoJSON FeatureCollection of a Labels layer: each instance's outline
    (:func:`~napari_cytoqa.detection.outlines.label_outlines`) in pixels of its image, with its
    label and area (pixels of the layer) as measurements; of a stack, each plane's instances."""
    from .detection.outlines import label_outlines

    if isinstance(data, (list, tuple)):  # multiscale: the full-resolution level
        data = data[0]
    data = np.asarray(data)
    ndim = data.ndim
    frame = _Frame(attributes, ndim)
    otype = _object_type(attributes)
    feats = []
    for lead in np.ndindex(data.shape[:-2]):
        plane = data[lead]
        if not plane.any():
            continue
        areas = np.bincount(plane.ravel()) if plane.dtype.kind in "iu" and plane.min() >= 0 else None
        for label, ring in label_outlines(plane).items():
            if len(ring) < 3:
                continue
            yx, at = frame.to_pixels(_with_planes([ring], [lead], ndim)[0])  # pixel edges to data coordinates
            row = {"label": int(label)} | ({"area_px": int(areas[label])} if areas is not None else {})
            feats.append(shape_feature(yx, "polygon", feature_properties(row, object_type=otype, plane=at)))
    return feature_collection(feats, frame.collection_frame())


def write_labels(path: str, data, attributes: dict) -> list[str]:
    """napari writer: a Labels layer's instances as GeoJSON outlines (written atomically)."""
    return [str(write_geojson(_geojson_path(path), labels_collection(data, attributes)))]


def _geojson_path(path) -> Path:
    path = Path(path)
    return path if path.suffix.lower() in (".geojson", ".json") else path.with_suffix(".geojson")


def write_shapes(path: str, data, attributes: dict) -> list[str]:
    """napari writer: a Shapes layer as GeoJSON (written atomically)."""
    return [str(write_geojson(_geojson_path(path), shapes_collection(data, attributes)))]


def write_points(path: str, data, attributes: dict) -> list[str]:
    """napari writer: a Points layer as GeoJSON Point features (written atomically)."""
    return [str(write_geojson(_geojson_path(path), points_collection(data, attributes)))]


# ---------------------------------------------------------------- reading

def sibling_image(path) -> Path | None:
    """The image a GeoJSON file was exported from, when it lies beside it: ``slide.svs.geojson``
    or ``slide.geojson`` next to ``slide.svs`` (QuPath's usual names)."""
    from .io import SUFFIXES

    path = Path(path)
    inner = path.with_suffix("")
    if inner.suffix.lower() in SUFFIXES and inner.is_file():
        return inner
    for suffix in (".ome.tif", ".ome.tiff") + SUFFIXES:
        for candidate in (path.with_name(inner.name + suffix), path.with_name(inner.name + suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def _placement(ann: Annotations, image: dict | None, ndim: int) -> dict:
    """Scale, translate and units of the layers: the file's frame, else the pixel size of the
    image it sits beside (``image``: :func:`_sibling`'s; as our reader places it), else pixels."""
    lead = ndim - 2
    if ann.frame:
        scale, translate = list(ann.frame["scale"]), list(ann.frame["translate"])
        units = ann.frame.get("units")
        scale, translate = ([1.0] * ndim + scale)[-ndim:], ([0.0] * ndim + translate)[-ndim:]
        place = {"scale": tuple(float(v) for v in scale), "translate": tuple(float(v) for v in translate)}
        if units is not None:
            place["units"] = tuple((["pixel"] * ndim + list(units))[-ndim:])
        return place
    size = (image or {}).get("pixel_size_um")
    if size:
        return {"scale": (1.0,) * lead + tuple(float(v) for v in size), "units": ("pixel",) * lead + ("µm", "µm")}
    return {}


def _sibling(path) -> dict | None:
    """The pixel size and plane axes of the image a GeoJSON file lies beside (:func:`sibling_image`),
    as napari shows it: one layer per channel, so without the channel axis; None without one."""
    image = sibling_image(path)
    if image is None:
        return None
    from .io import read_slide

    try:
        with read_slide(image) as slide:
            axes, channel = slide.plane_axes, slide.channel_plane
            return {"pixel_size_um": slide.pixel_size_um,
                    "plane_axes": axes if channel is None else axes[:channel] + axes[channel + 1:]}
    except (OSError, ValueError) as err:
        log.info("napari-cytoqa: %s lies beside %s but it cannot be read: %s", Path(path).name, image.name, err)
        return None


def _with_planes(yx_list, planes, ndim: int) -> list:
    lead = ndim - 2
    out = []
    for yx, plane in zip(yx_list, planes):
        p = (tuple(plane) + (0,) * lead)[:lead]
        out.append(np.concatenate([np.tile(np.asarray(p, float), (len(yx), 1)), np.asarray(yx) - 0.5], axis=1))
    return out


def _point_data(points, planes, ndim: int) -> np.ndarray:
    """``(M, ndim)`` napari data coordinates of ``(y, x)`` pixel-edge points on their planes."""
    return np.asarray(_with_planes([np.asarray(p)[None] for p in points], planes, ndim)).reshape(-1, ndim)


def _colours(table, default: str):
    if "class_color" in table and table["class_color"].notna().all():
        return list(table["class_color"])
    return default


def _edge_width(shapes) -> float:
    """Edges a fiftieth of the typical shape's short side (at least a pixel): a cell's 1 px, a QC
    tile's 5 px, which still show when a whole slide is on screen."""
    sides = [float(np.min(np.ptp(np.asarray(v), axis=0))) for v in shapes]
    return max(1.0, 0.02 * float(np.median(sides))) if sides else 1.0


#: Above this many shapes a file's shapes are drawn as their centres (points): napari builds about
#: 1,500-2,000 shapes a second on this 2-core machine, and the reader runs on the GUI thread.
MAX_SHAPES = 5000


def annotations_layer_data(ann: Annotations, *, name: str, path=None, max_shapes: int | None = MAX_SHAPES
                           ) -> list[tuple]:
    """Layer-data tuples of :class:`Annotations`: a Shapes layer and a Points layer (each when
    there is something to show), in the frame of the file or its image (see :func:`_placement`).
    Beyond ``max_shapes`` shapes (None: no limit) the shapes become a Points layer of their centres,
    ``<name> (centres)``, with the same features (a whole slide's cells from QuPath). A file written
    from one channel of a multi-channel file (its frame's ``channel``) is drawn in that channel
    layer's leading indices; a QuPath file beside a stack, on that stack's planes (its objects' own
    planes, :func:`~napari_cytoqa.io.planes.place_qupath_planes`)."""
    image = _sibling(path) if path is not None and not ann.frame else None  # read once: planes and pixel size
    if image and image["plane_axes"]:  # napari has no channel axis: channels are layers
        ann = place_qupath_planes(ann, image["plane_axes"])
    channel = (ann.frame or {}).get("channel")
    if channel is not None:
        from dataclasses import replace

        ann = replace(ann, shape_planes=[layer_plane(p, channel) for p in ann.shape_planes],
                      point_planes=[layer_plane(p, channel) for p in ann.point_planes])
    planes = list(ann.shape_planes) + list(ann.point_planes)
    ndim = 2 + max((len(p) for p in planes), default=0)
    place = _placement(ann, image, ndim)
    meta = {"cytoqa_geojson": {"path": str(path) if path else None, "dropped": ann.dropped}}
    if ann.frame:
        meta["cytoqa_frame"] = ann.frame
    out = []
    if ann.shapes and max_shapes is not None and len(ann.shapes) > max_shapes:
        log.warning("napari-cytoqa: %s: %d shapes, drawn as their centres: napari builds about 2,000 shapes a "
                    "second, so more than %d would hold up the viewer (napari_cytoqa.io.read_geojson keeps them "
                    "all)", name, len(ann.shapes), max_shapes)
        table = ann.table("shapes")
        table["shape_type"] = list(ann.shape_type)
        centres = [(v.min(axis=0) + v.max(axis=0)) / 2 for v in ann.shapes]
        out.append((_point_data(centres, ann.shape_planes, ndim),
                    {"name": f"{name} (centres)", "features": table, "size": 6, "face_color": _colours(table, "yellow"),
                     "border_width": 0, "metadata": meta | {"cytoqa_geojson": meta["cytoqa_geojson"] | {
                         "as_centres": True}}, **place}, "points"))
    elif ann.shapes:
        table = ann.table("shapes")
        out.append((_with_planes(ann.shapes, ann.shape_planes, ndim), {
            "name": name, "shape_type": list(ann.shape_type), "features": table, "face_color": "transparent",
            "edge_color": _colours(table, "yellow"), "edge_width": _edge_width(ann.shapes), "metadata": meta, **place},
            "shapes"))
    if ann.points:
        table = ann.table("points")
        out.append((_point_data(ann.points, ann.point_planes, ndim),
                    {"name": f"{name} points" if ann.shapes else name, "features": table, "size": 6,
                     "face_color": _colours(table, "yellow"), "border_width": 0, "metadata": meta, **place},
                    "points"))
    return out


def read_geojson_layers(path) -> list[tuple]:
    """napari reader body for a ``.geojson`` file (see :func:`annotations_layer_data`)."""
    ann = read_geojson(path)
    if not ann.count:
        raise GeoJSONError(f"{Path(path).name}: no shapes or points to show")
    if ann.dropped:
        log.warning("napari-cytoqa: %s: %d geometries or polygon holes left out (napari shapes have no holes)",
                    Path(path).name, ann.dropped)
    stem = Path(path).name
    stem = stem[: -len(".geojson")] if stem.lower().endswith(".geojson") else stem
    types = {str(row.get("objectType", "annotation")) for row in ann.shape_properties + ann.point_properties}
    # QuPath names an export after its image: "slide annotations" beside the layer "slide"
    return annotations_layer_data(ann, name=f"{stem} {'detections' if types == {'detection'} else 'annotations'}",
                                  path=path)
