"""Argument types and small helpers of the ``cytoqa`` command line (kept apart so :mod:`.cli` stays small)."""
from __future__ import annotations

import argparse
import filecmp
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
    size = slide.pixel_size_um if args.pixel_size in (None, "auto") else (args.pixel_size, args.pixel_size)
    if not size:
        raise ValueError("--qupath-cells in µm needs the pixel size: the file records none, give --pixel-size or "
                         "the distance in pixels")
    return float(distance) / (sum(float(v) for v in size) / len(size)) / down


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


#: File endings of label images (instance labels or a binary mask) that --truth reads.
LABEL_SUFFIXES = (".tif", ".tiff", ".png")


def truth_file(path: Path, truth: str, name: str) -> Path | None:
    """``--truth``: the annotations of the image at ``path`` (its slide name ``name``). ``auto``: the
    GeoJSON beside it, as QuPath names exports (``slide.svs.geojson`` or ``slide.geojson``), else a
    label image beside it (``<name>_labels.tif``, ``<name>_mask.png`` …); a folder: the same names
    there, or a label image of the image's own file name (a dataset's masks folder); a file: that
    file. None when there is none."""
    path = Path(path)
    folder = path.parent if truth == "auto" else Path(truth)
    if truth != "auto" and not folder.is_dir():
        return folder if folder.is_file() else None
    candidates = [folder / f"{path.name}.geojson", folder / f"{name}.geojson"]
    same = folder / path.name  # a masks folder's file of the image's name, unless it is a copy of the image
    if folder.resolve() != path.parent.resolve() and same.is_file() and not filecmp.cmp(same, path, shallow=False):
        candidates.append(same)
    candidates += [folder / f"{name}{tag}{suffix}" for tag in ("_labels", "_label", "_masks", "_mask")
                   for suffix in LABEL_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def check_outputs(args, path: Path, whole, slide) -> None:
    """Refuse, before anything is written, a run on ``slide`` (``whole`` or one of its planes) whose
    ``--labels`` output would overwrite the ``--truth`` file it is to be scored against (a
    ``ValueError``: that image fails, nothing is lost)."""
    if not (args.truth and args.labels):
        return
    found = truth_file(path, args.truth, whole.name)
    if found is not None and found.resolve() == (Path(args.out) / f"{slide.name}_labels.tif").resolve():
        raise ValueError(f"--labels would overwrite {found} (the --truth labels): write to another --out")


def qc_truth_columns(args, path: Path, whole, report, plane: tuple) -> dict:
    """``cytoqa qc --truth``: the tiles' sharp/blurry verdicts against the areas marked in the image's
    GeoJSON or painted in its mask (:mod:`napari_cytoqa.quality.compare`): summary.csv's truth_tiles,
    focus_accuracy, blurry_recall and sharp_recall; empty columns and a note where it has none."""
    from .detection.compare import annotation_areas
    from .quality.compare import focus_line, focus_scores, mask_truth, tile_truth

    found = truth_file(path, args.truth, whole.name)
    if found is None:
        print(f"cytoqa qc: {path}: no marked areas found for --truth {args.truth}", file=sys.stderr)
        return {"truth_tiles": None}
    if found.suffix.lower() in LABEL_SUFFIXES:  # a painted mask: not 0 = blurry
        truth = mask_truth(report.tiles, _label_plane(found, whole, plane))
    else:
        rings, classes = annotation_areas(_on_stack(found, whole), plane=plane, channel=whole.channel_plane)
        truth = tile_truth(report.tiles, rings, classes)
    scores = focus_scores(report.tiles, truth)
    if not args.quiet:
        print(f"{Path(path).name}: {focus_line(scores)} in {found.name}")

    def num(v):
        return None if v != v else round(v, 4)  # NaN: no tile of that kind

    return {"truth_tiles": scores["tiles"], "focus_accuracy": num(scores["accuracy"]),
            "blurry_recall": num(scores["blurry_recall"]), "sharp_recall": num(scores["sharp_recall"])}


def _label_truth(found: Path, whole, plane: tuple, down: float):
    """Boxes of the instances of a label image (:func:`~napari_cytoqa.detection.compare.label_boxes`)
    on ``plane`` of ``whole``, in pixels of the analysed level (see :func:`_label_plane`)."""
    from .detection.compare import label_boxes

    return label_boxes(_label_plane(found, whole, plane)) / down


def _label_plane(found: Path, whole, plane: tuple):
    """The 2-D plane ``plane`` of the label image or mask ``found`` for ``whole``: a stack of the
    image's planes (or of them without the channel axis), or one 2-D image for every plane; in the
    image's full-resolution pixels, else a ``ValueError`` naming both sizes."""
    labels = _read_labels(found, *_stamp(found))
    lead = labels.shape[:-2]
    if lead and lead == tuple(whole.planes) and len(plane) == len(lead):
        labels = labels[tuple(plane)]
    elif lead and whole.channel_plane is not None and len(plane) == len(lead) + 1:
        at = whole.channel_plane
        labels = labels[tuple(plane[:at]) + tuple(plane[at + 1:])]
    elif lead:
        raise ValueError(f"{found.name}: a label stack of shape {labels.shape} does not match the image's planes "
                         f"{' x '.join(map(str, whole.planes)) or '(none)'} (axes {whole.axes})")
    if labels.shape != _image_yx(whole):
        raise ValueError(f"{found.name}: labels of {labels.shape[1]} x {labels.shape[0]} px, the image is "
                         f"{_image_yx(whole)[1]} x {_image_yx(whole)[0]} px at full resolution")
    return labels


def _image_yx(whole) -> tuple[int, int]:
    """The full-resolution ``(Y, X)`` size of a Slide (a stack's planes are beside it)."""
    y = whole.axes.index("Y")
    return tuple(int(v) for v in whole.shape[y:y + 2])


def _stamp(path: Path) -> tuple:
    stat = Path(path).stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=2)
def _read_labels(path: Path, _mtime_ns: int, _size: int):
    """A label image's pixels, read once per batch while the file stays as it is."""
    import numpy as np

    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as im:
            if im.mode not in ("1", "L", "I", "I;16", "I;16B", "I;16L", "P"):
                raise ValueError(f"{path.name} is a {im.mode} colour image: --truth takes instance labels or a "
                                 "mask, one value per pixel")
            return np.asarray(im)
    import tifffile

    return tifffile.imread(path)


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


def write_tiff(path: Path, data, pixel_size_um=None, *, shape=None, origin=(0, 0)) -> None:
    """``data`` as a zlib-compressed TIFF (RGB where it has 3 samples), with its pixel size ``(y, x)``
    in µm as the TIFF resolution when known; written beside and renamed, so a failed write leaves no
    partial file. ``shape``: of the whole image ``data`` is the part at ``origin`` (y, x) of (a region):
    the file then has that shape, zero elsewhere, tiled so that it is written tile by tile at any size
    and lies on the image wherever it is opened."""
    import numpy as np
    import tifffile

    data = np.asarray(data)
    extra = {"photometric": "rgb" if data.ndim == 3 and data.shape[-1] == 3 else "minisblack"}
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
               pixel_size_um, shape=shape, origin=origin)


def _analysed_area(det, slide, args, down: float) -> dict:
    """The area searched (``Detections.area``: the region, else the whole level) in level-0 pixels
    and, where the pixel size is known (the file's, or --pixel-size), in mm²."""
    um2 = det.area_um2(args.pixel_size if args.pixel_size != "auto" else slide.pixel_size_um, downsample=down)
    return {"area_px": det.area * down ** 2, "area_mm2": None if um2 is None else um2 / 1e6}


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
    stat = Path(path).stat()
    return _read_annotations(Path(path), stat.st_mtime_ns, stat.st_size)


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
    from .io.geojson import place_qupath_planes

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


def _truth_columns(args, path: Path, whole, det, down: float, plane: tuple, region) -> dict:
    """``--truth``: the run scored against the image's annotated cells (summary.csv's truth_cells,
    ap50, precision, recall, f1, tp, fp, fn, count_ape); empty columns and a note where it has none."""
    from .detection.compare import annotation_boxes, annotation_points, point_scores, score_row, truth_scores

    found, channel = truth_file(path, args.truth, whole.name), whole.channel_plane
    if found is None:
        print(f"cytoqa detect: {path}: no annotations found for --truth {args.truth}", file=sys.stderr)
        return {"truth_cells": None}
    labelled = found.suffix.lower() in LABEL_SUFFIXES
    if labelled:  # instance labels or a mask, in the image's pixels
        boxes, points = _label_truth(found, whole, plane, down), ()
    else:
        annotations = _on_stack(found, whole)
        boxes = annotation_boxes(annotations, downsample=down, plane=plane, channel=channel)
        points = annotation_points(annotations, downsample=down, plane=plane, channel=channel)
    if len(points) and not len(boxes):  # cells marked by clicks: a point in a box is a hit
        (scores, n), kind = point_scores(det, points, region=region), "points"
    else:
        (scores, n), kind = truth_scores(det, boxes, region=region), "labels" if labelled else "boxes"
    if not args.quiet:
        print(f"{Path(path).name}: {det.count} cells vs {n} annotated ({kind}) in {found.name}: "
              f"AP@0.5 {scores.ap50:.3f}")
    return score_row(scores, n, det.count) | {"truth_kind": kind}
