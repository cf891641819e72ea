"""Argument types and small helpers of the ``cytoqa`` command line (kept apart so :mod:`.cli` stays small)."""
from __future__ import annotations

import argparse
import functools
import re
import sys
from pathlib import Path

from ._files import atomic_write


def _pixel_size(text: str):
    """``--pixel-size``: 'auto' or µm per pixel, checked by the core's own rule."""
    from .quality.scale import resolve_pixel_size

    if text == "auto":
        return text
    try:
        value = float(text)
        resolve_pixel_size(None, value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive pixel size in um, got {text!r}") from None
    return value


def _auto_or(convert, what: str):
    """An argparse type: ``"auto"`` as it is, anything else through ``convert`` (``what`` names it)."""
    def parse(text: str):
        if text == "auto":
            return text
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected {what} or "auto", got {text!r}') from None
    return parse


_overlap_arg = _auto_or(int, "a whole number of pixels")


class Microns(float):
    """A ``--diameter`` given in µm (``8um``, ``8µm``): converted with the image's pixel size."""


_UM = re.compile(r"^\s*([0-9.eE+-]+)\s*(?:um|µm|μm|micron|microns)\s*$")


def diameter_arg(text: str):
    """``--diameter``: ``"auto"``, pixels (``12.5``) or µm (``8um`` / ``8µm``)."""
    m = _UM.match(text)
    try:
        return Microns(float(m.group(1))) if m else _auto_or(float, "a number of pixels")(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f'expected a number of pixels, µm (e.g. 8um) or "auto", got {text!r}') \
            from None


def distance_arg(text: str):
    """``--qupath-cells``: pixels (``10``) or µm (``5um``), above 0."""
    m = _UM.match(text)
    try:
        value = float(m.group(1) if m else text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a distance above 0 in pixels or µm (e.g. 5um), got {text!r}")
    return Microns(value) if m else value


def expansion_px(distance, slide, args, down: float) -> float:
    """``--qupath-cells`` in pixels of the analysed level (µm through the file's pixel size or
    ``--pixel-size``; a ``ValueError`` when neither gives one); 0 when not asked for."""
    if not distance:
        return 0.0
    if not isinstance(distance, Microns):
        return float(distance) / down  # level-0 pixels, as every distance on the command line
    from .quality.scale import resolve_pixel_size  # as detect_cells converts --diameter in µm

    size = resolve_pixel_size(slide, "auto" if args.pixel_size is None else args.pixel_size)
    if not size:
        raise ValueError("--qupath-cells in µm needs the pixel size: the file records none, give --pixel-size or "
                         "the distance in pixels")
    return float(distance) / size / down


def region_arg(text: str) -> tuple[float, float, float, float] | Path:
    """``--region``: ``Y0,X0,Y1,X1`` in level-0 pixels, or a GeoJSON file of regions (e.g. QuPath's
    annotations: its rectangles and polygons, in level-0 pixels)."""
    if text.lower().endswith((".geojson", ".json")):
        if not Path(text).is_file():
            raise argparse.ArgumentTypeError(f"no such GeoJSON file: {text}")
        return Path(text)
    try:
        values = tuple(float(v) for v in text.split(","))
        if len(values) != 4:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected Y0,X0,Y1,X1 (level-0 pixels), got {text!r}") from None
    return values


def plane_arg(text: str) -> tuple[int, ...] | str:
    """``--plane``: ``K`` or ``K1,K2,...`` (one index per axis beside the image plane), or ``all``."""
    if text == "all":
        return text
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected plane indices K or K1,K2,..., got {text!r}") from None
    if min(values) < 0:
        raise argparse.ArgumentTypeError(f"plane indices start at 0, got {text!r}")
    return values


def work_items(paths, plane):
    """``(path, plane)`` pairs to analyse: ``--plane all`` expands each stack into all its planes
    (a file that does not open stays one item, so that its error is reported where it is read)."""
    from itertools import product

    from .io import read_slide

    for path in map(Path, paths):
        planes = []
        if plane == "all":
            try:
                with read_slide(path) as slide:
                    planes = list(product(*map(range, slide.planes)))
            except (OSError, ValueError):
                pass
        yield from ((path, k) for k in planes) if planes else [(path, None if plane == "all" else plane)]


def item_label(path, plane, whole, slide) -> str:
    """How summaries name an analysed image: its path, with the plane of a stack (``slide`` is
    ``whole``'s plane ``plane``, or ``whole`` itself)."""
    return str(path) if slide is whole else f"{path} [{'-'.join(map(str, plane))}]"


def plane_of(slide, plane):
    """The 2-D image ``--plane`` picks of a stack (:meth:`~napari_cytoqa.io.Slide.plane`); a gray or
    RGB image as it is. A stack without ``--plane`` is a ``ValueError`` that says how to pick one."""
    if not slide.planes:
        return slide
    if plane is None:
        ks = ",".join("K" for _ in slide.planes)
        raise ValueError(f"a stack of {' x '.join(map(str, slide.planes))} planes (axes {slide.axes}): pick one "
                         f"2-D plane with --plane {ks}")
    return slide.plane(plane)


#: Tile side of the tiled TIFFs :func:`write_tiff` writes for a part of a larger image.
TIFF_TILE = 256


def _placed_tiles(data, shape: tuple, origin: tuple):
    """The tiles, row by row, of an image of ``shape`` that is zero except for ``data`` at ``origin``."""
    import numpy as np

    oy, ox = (int(v) for v in origin)
    h, w = data.shape[:2]
    for y in range(0, shape[0], TIFF_TILE):
        for x in range(0, shape[1], TIFF_TILE):
            tile = np.zeros((TIFF_TILE, TIFF_TILE) + data.shape[2:], data.dtype)
            y0, x0 = max(y, oy), max(x, ox)
            y1, x1 = min(y + TIFF_TILE, oy + h, shape[0]), min(x + TIFF_TILE, ox + w, shape[1])
            if y0 < y1 and x0 < x1:
                tile[y0 - y:y1 - y, x0 - x:x1 - x] = data[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
            yield tile


#: The TIFF description of the label images ``cytoqa detect --labels`` writes: ``--truth auto`` and a
#: ``--truth`` folder pass over them, so that a run is never scored against an earlier run's output.
DETECTED_LABELS = "napari-cytoqa: cytoqa detect --labels (cells found, not annotated)"


def write_tiff(path: Path, data, pixel_size_um=None, *, shape=None, origin=(0, 0), description=None) -> None:
    """``data`` as a zlib-compressed TIFF (RGB where it has 3 samples), with its pixel size ``(y, x)``
    in µm as the TIFF resolution when known; written beside and renamed, so a failed write leaves no
    partial file. ``shape``: of the whole image ``data`` is the part at ``origin`` (y, x) of (a region):
    the file then has that shape, zero elsewhere, tiled so that it is written tile by tile at any size
    and lies on the image wherever it is opened."""
    import numpy as np
    import tifffile

    data = np.asarray(data)
    extra = {"photometric": "rgb" if data.ndim == 3 and data.shape[-1] == 3 else "minisblack"}
    if description:
        extra["description"] = description
    if pixel_size_um:
        extra |= {"resolution": (1e4 / pixel_size_um[1], 1e4 / pixel_size_um[0]), "resolutionunit": "CENTIMETER"}
    if shape is not None and (tuple(shape[:2]) != data.shape[:2] or any(origin)):
        shape = tuple(int(v) for v in shape[:2])
        extra |= {"shape": shape + data.shape[2:], "dtype": data.dtype, "tile": (TIFF_TILE, TIFF_TILE)}
        data = _placed_tiles(data, shape, origin)
    atomic_write(path, lambda tmp: tifffile.imwrite(tmp, data, compression="zlib", **extra))


def _write_labels(path: Path, labels, pixel_size_um, *, shape=None, origin=(0, 0)) -> None:
    """The instance label image as :func:`write_tiff` writes it, uint16 where the labels fit."""
    import numpy as np

    labels = np.asarray(labels)
    write_tiff(path, labels.astype(np.uint16) if labels.max(initial=0) < 2 ** 16 else labels.astype(np.uint32),
               pixel_size_um, shape=shape, origin=origin, description=DETECTED_LABELS)


def level0_pixel_size(slide, args):
    """``cytoqa detect``'s level-0 pixel size in µm: --pixel-size, else the file's own (None: unknown)."""
    return args.pixel_size if args.pixel_size != "auto" else slide.pixel_size_um


def _analysed_area(det, slide, args, down: float) -> dict:
    """The area searched (``Detections.area``: the region, else the whole level) in level-0 pixels
    and, where the pixel size is known (the file's, or --pixel-size), in mm²; and the cells' median
    equivalent diameter (U-Net, Otsu) in level-0 pixels and µm: how far they are from the 16 px
    (8 µm) the detectors were made for."""
    import numpy as np

    from .quality.scale import resolve_pixel_size

    px = level0_pixel_size(slide, args)
    um2 = det.area_um2(px, downsample=down)
    sizes, median = det.areas, None
    if sizes is not None and len(sizes):
        median = float(np.median(np.sqrt(4 * np.asarray(sizes, float) / np.pi))) * down
    return {"area_px": det.area * down ** 2, "area_mm2": None if um2 is None else um2 / 1e6,
            "median_cell_diameter_px": median,
            "median_cell_diameter_um": None if median is None or px is None else median * resolve_pixel_size(None, px)}


def _error_line(command: str, path: Path, err: Exception) -> str:
    """``cytoqa COMMAND: PATH: message``, without the file's name twice where the message
    already starts with it (the slide readers name the file they could not read)."""
    text, name = str(err), Path(path).name
    if text.startswith(name):
        return f"cytoqa {command}: {path}{text[len(name):]}"
    return f"cytoqa {command}: {path}: {text}"


def _plane_series(path: Path, judged, stem: Path, args) -> list:
    """``<stem>_planes.csv``: one row per judged plane of the stack at ``path`` (a focus curve); the
    sharpest plane printed; with ``--compose``, ``<stem>_sharpest.tif``. Returns ``[path]`` where the
    composite failed, else ``[]``."""
    import numpy as np

    from .io import read_slide
    from .quality.compose import compose_sharpest
    from .quality.planes import PlaneSeries, plane_label

    series = PlaneSeries.from_reports(judged)
    series.to_csv(stem.with_name(f"{stem.name}_planes.csv"))
    best = series.sharpest
    if not args.quiet and best is not None:
        level = series.row(best)["blur_level"]
        tie = f", tied with {len(series.tied) - 1} more" if len(series.tied) > 1 else ""
        print(f"{path.name}: sharpest plane [{plane_label(best)}] (blur level {level:.1f}{tie})")
    if not args.compose:
        return []
    try:
        with read_slide(path) as whole:
            if len(whole.planes) != 1:
                raise ValueError(f"--compose takes a stack with one axis beside the image plane (a focus series), "
                                 f"not {' x '.join(map(str, whole.planes))} planes (axes {whole.axes})")
            down = float(np.sqrt(np.prod(judged[0][1].downsample)))
            px = None if whole.pixel_size_um is None else tuple(v * down for v in whole.pixel_size_um)
            write_tiff(stem.with_name(f"{stem.name}_sharpest.tif"), compose_sharpest(whole, series), px)
    except (OSError, ValueError) as err:
        print(_error_line("qc --compose", path, err), file=sys.stderr)
        return [path]
    return []


def _annotations(path: Path):
    """A GeoJSON file's annotations, read once while the file stays as it is (``--region FILE`` and
    ``--truth FILE`` name one file for every image of a batch)."""
    return _read_annotations(Path(path), *stamp(path))


def stamp(path) -> tuple:
    """``(mtime_ns, size)`` of a file: the key under which a batch's one annotation file is read once."""
    stat = Path(path).stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _read_annotations(path: Path, _mtime_ns: int, _size: int):
    from .io import read_geojson

    return read_geojson(path)


def stack_frame(whole, slide, plane) -> tuple[tuple, dict | None]:
    """The plane of ``whole`` analysed (``()`` unless ``slide`` is one of its planes) and the
    ``cytoqa_frame`` of the GeoJSON written for it: the pixel size and, on a stack, its plane axes and
    the channel (napari shows one layer per channel), so that napari and QuPath place the shapes."""
    from .io.geojson import pixel_frame

    at = tuple(int(i) for i in plane) if slide is not whole else ()
    ch = whole.channel_plane
    return at, pixel_frame(slide.pixel_size_um, None if ch is None or not at else [ch, at[ch]],
                           whole.plane_axes if at else "")


def _on_stack(path: Path, whole):
    """A GeoJSON file's annotations with QuPath's planes placed on the stack ``whole`` (a Slide)."""
    from .io.planes import place_qupath_planes

    return place_qupath_planes(_annotations(path), whole.plane_axes, whole.channel_plane)


def _region(region, down: float, plane: tuple, whole):
    """``--region`` in pixels of the analysed level: a box, or a GeoJSON file's polygons on ``plane``
    of ``whole`` (see ``detection.compare.on_plane``)."""
    if not isinstance(region, Path):
        return tuple(v / down for v in region)
    from .detection.compare import annotation_polygons

    polygons = annotation_polygons(_on_stack(region, whole), downsample=down, plane=plane,
                                   channel=whole.channel_plane)
    if not polygons:
        raise ValueError(f"{region.name} holds no rectangle or polygon to detect in" + (
            f" on plane {','.join(map(str, plane))}" if plane else ""))
    return polygons
