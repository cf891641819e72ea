"""``--truth`` of ``cytoqa detect`` and ``cytoqa qc``: finding a run's annotations (GeoJSON, label
images, masks) and scoring it against them (the scoring itself is ``detection.compare`` and
``quality.compare``)."""
from __future__ import annotations

import filecmp
import functools
import sys
from pathlib import Path

from ._cli_parts import _on_stack, stamp

#: File endings of label images (instance labels or a binary mask) that --truth reads.
LABEL_SUFFIXES = (".tif", ".tiff", ".png")


def truth_file(path: Path, truth: str, name: str, *, marks: str = "cells") -> Path | None:
    """``--truth``: the annotations of the image at ``path`` (its slide name ``name``); a file: that
    file; None when there is none.

    ``marks="cells"`` (``cytoqa detect``): ``auto`` finds the GeoJSON beside the image, as QuPath
    names exports (``slide.svs.geojson`` or ``slide.geojson``), else a label image beside it
    (``<name>_labels.tif``, ``<name>_mask.png`` …); a folder: the same names there, or a label image
    of the image's own file name (a dataset's masks folder) — but never a label image
    ``cytoqa detect --labels`` wrote (cells found, not annotated).
    ``marks="blurry"`` (``cytoqa qc``): beside the image only ``<name>_blurry.geojson`` /
    ``.png`` / ``.tif`` (so that a file of annotated cells is never taken for blurry areas); in a
    folder also the QuPath names and a mask of the image's own file name."""
    path = Path(path)
    folder = path.parent if truth == "auto" else Path(truth)
    if truth != "auto" and not folder.is_dir():
        return folder if folder.is_file() else None
    tags = ("_labels", "_label", "_masks", "_mask") if marks == "cells" else ("_blurry",)
    tagged = [folder / f"{name}{tag}{suffix}" for tag in tags for suffix in (".geojson",) * (marks != "cells")
              + LABEL_SUFFIXES]
    if marks != "cells" and truth == "auto":
        return next((c for c in tagged if c.is_file() and not _detected(c)), None)
    candidates = [folder / f"{path.name}.geojson", folder / f"{name}.geojson"]
    same = folder / path.name  # a masks folder's file of the image's name, unless it is a copy of the image
    if folder.resolve() != path.parent.resolve() and same.is_file() and not filecmp.cmp(same, path, shallow=False):
        candidates.append(same)
    return next((c for c in candidates + tagged if c.is_file() and not _detected(c)), None)


def _detected(path: Path) -> bool:
    """Whether ``path`` is a label image ``cytoqa detect --labels`` wrote (cells found, not annotated)."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return False
    import tifffile

    from ._cli_parts import DETECTED_LABELS

    try:
        with tifffile.TiffFile(path) as tif:
            return (tif.pages[0].description or "").startswith(DETECTED_LABELS)
    except Exception:  # not a TIFF we can read: reading it as truth will say so
        return False


def check_outputs(args, path: Path, whole, slide) -> None:
    """Refuse, before anything is written, a run on ``slide`` (``whole`` or one of its planes) whose
    ``--labels`` output would overwrite the ``--truth`` file it is to be scored against (a
    ``ValueError``: that image fails, nothing is lost)."""
    if not (args.truth and args.labels):
        return
    found = truth_file(path, args.truth, whole.name)
    if found is not None and found.resolve() == (Path(args.out) / f"{slide.name}_labels.tif").resolve():
        raise ValueError(f"--labels would overwrite {found} (the --truth labels): write to another --out")


def qc_truth_columns(args, path: Path, whole, report, plane: tuple) -> tuple[dict, list | None]:
    """``cytoqa qc --truth``: the tiles' sharp/blurry verdicts against the areas marked in the image's
    GeoJSON or painted in its mask (:mod:`napari_cytoqa.quality.compare`): ``(columns, marked)`` —
    summary.csv's truth_tiles, focus_accuracy, blurry_recall and sharp_recall, and each tile's mark
    (blurry, sharp or empty: unmarked); empty columns, None and a note where it has none."""
    from .detection.compare import annotation_areas
    from .quality.compare import focus_line, focus_scores, mask_truth, tile_truth

    found = truth_file(path, args.truth, whole.name, marks="blurry")
    if found is None:
        print(f"cytoqa qc: {path}: no marked areas found for --truth {args.truth}", file=sys.stderr)
        return {"truth_tiles": None}, None
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
            "blurry_recall": num(scores["blurry_recall"]), "sharp_recall": num(scores["sharp_recall"])}, list(truth)


def _label_truth(found: Path, whole, plane: tuple, down: float):
    """Boxes of the instances of a label image (:func:`~napari_cytoqa.detection.compare.label_boxes`)
    on ``plane`` of ``whole``, in pixels of the analysed level (see :func:`_label_plane`)."""
    from .detection.compare import label_boxes

    return label_boxes(_label_plane(found, whole, plane)) / down


def _label_plane(found: Path, whole, plane: tuple):
    """The 2-D plane ``plane`` of the label image or mask ``found`` for ``whole``: a stack of the
    image's planes (or of them without the channel axis), or one 2-D image for every plane; in the
    image's full-resolution pixels, else a ``ValueError`` naming both sizes."""
    labels = _read_labels(found, *stamp(found))
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


def _truth_columns(args, path: Path, whole, det, down: float, plane: tuple, region) -> dict:
    """``--truth``: the run scored against the image's annotated cells (summary.csv's truth_cells,
    ap50, precision, recall, f1, tp, fp, fn, count_ape and the mistakes by kind, :func:`~napari_cytoqa.detection.
    compare.truth_errors`); empty columns and a note where it has none."""
    from .detection.compare import (annotation_boxes, annotation_points, point_scores, score_row, truth_errors,
                                    truth_scores)
    from .detection.errors import mistakes_clause

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
    by_points = bool(len(points) and not len(boxes))  # cells marked by clicks: a point in a box is a hit
    if by_points:
        (scores, n), kind = point_scores(det, points, region=region), "points"
    else:
        (scores, n), kind = truth_scores(det, boxes, region=region), "labels" if labelled else "boxes"
    errors = truth_errors(det, points if by_points else boxes, region=region, points=by_points)
    if not args.quiet:
        print(f"{Path(path).name}: {det.count} cells vs {n} annotated ({kind}) in {found.name}: "
              f"AP@0.5 {scores.ap50:.3f}" + mistakes_clause(errors, n))
    return score_row(scores, n, det.count, errors) | {"truth_kind": kind}
