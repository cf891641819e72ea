"""The ``cytoqa`` command line, on the same core as the napari widgets."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ._cli_parts import (Microns, _analysed_area, _error_line, _plane_series, _region, _write_labels, expansion_px,
                         item_label, level0_pixel_size, plane_of, stack_frame, work_items)
from ._cli_truth import _truth_columns, check_outputs, qc_truth_columns
from ._files import atomic_write
from .detection.export import write_cells
from .io.geojson import write_geojson

log = logging.getLogger("napari_cytoqa")


def _with_bar(gen, name: str, quiet: bool):
    """Run a core ``iter_*`` generator (yielding ``(done, total)`` tiles) under a tqdm bar."""
    from tqdm import tqdm

    from ._generators import run_generator

    with tqdm(desc=name, unit="tile", disable=quiet, leave=False) as bar:
        def advance(item):
            bar.total = item[1]
            bar.update(item[0] - bar.n)

        return run_generator(gen, on_yield=advance)


def _summary_csv(path: Path, rows: list[dict]) -> None:
    """One row per input image (failed ones too, with their ``error``), for a spreadsheet."""
    import pandas as pd

    atomic_write(path, lambda tmp: pd.DataFrame(rows).to_csv(tmp, index=False))


def _qc_row(image: str, s: dict) -> dict:
    flat = {k: v for k, v in s.items() if not isinstance(v, (dict, list))}
    return {"image": image, **flat, **{f"tiles_{k}": v for k, v in s["tiles"].items()},
            **{k: v for k, v in s["exposure"].items()}, "warnings": " | ".join(s["warnings"]), "error": ""}


def _qc(args) -> int:
    from PIL import Image
    from .io import read_slide
    from .quality import iter_assess_quality
    from .quality.html import write_html
    from .quality.render import render_overlay

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summaries, failed, rows, planes, pictures = {}, [], [], {}, {}
    for path, plane in work_items(args.images, args.plane):
        label = str(path)
        try:
            with read_slide(path) as whole:
                slide = plane_of(whole, plane)
                label = item_label(path, plane, whole, slide)
                gen = iter_assess_quality(slide, tile_size=args.tile_size, method=args.method,
                                          model=args.model, device=args.device,
                                          weighting=args.weighting, level=args.level, precision=args.precision,
                                          pixel_size=args.pixel_size, assume_valid=args.assume_cells,
                                          stain_check=args.stain_check)
                report = _with_bar(gen, path.name, args.quiet)
                stem = out / slide.name
                report.to_csv(stem.with_name(f"{slide.name}_tiles.csv"))
                report.to_json(stem.with_name(f"{slide.name}_summary.json"))
                at, frame = stack_frame(whole, slide, plane)
                write_geojson(stem.with_name(f"{slide.name}_tiles.geojson"),  # the tiles, for QuPath
                              report.to_geojson(frame, plane=at))
                Image.fromarray(render_overlay(slide.levels, report)).save(
                    stem.with_name(f"{slide.name}_overlay.png"))
                pictures[label] = f"{slide.name}_overlay.png"
        except (OSError, ValueError) as err:
            failed.append(label)
            rows.append({"image": label, "error": str(err)})
            print(_error_line("qc", path, err), file=sys.stderr)
            continue
        summaries[label] = report.summary()
        rows.append(_qc_row(label, summaries[label]))
        if args.truth:
            try:
                columns, marked = qc_truth_columns(args, path, whole, report, plane if slide is not whole else ())
                rows[-1].update(columns)
                if marked is not None:  # each tile's mark beside its verdict, to see where they differ
                    atomic_write(out / f"{slide.name}_tiles.csv",
                                 lambda tmp: report.tiles.assign(marked=marked).to_csv(tmp, index=False))
            except (OSError, ValueError) as err:  # unreadable marks: the report is written, the scores not
                failed.append(label)
                rows[-1].update(truth_tiles=None)
                print(_error_line("qc --truth", path, err), file=sys.stderr)
        if label != str(path):  # a plane of a stack: its place in the stack's series
            planes.setdefault((path, whole.name), []).append((plane, report))
        if not args.quiet:
            s = report.summary()
            binned = f", tiles binned {s['binning']}x" if s["binning"] > 1 else ""
            binned += ", a cell image by its H&E colour" if s["validity"] == "stain" else ""
            print(f"{Path(label).name}: {s['verdict']}, grade {s['grade'] or '-'}, p_blurry {s['p_blurry']}, "
                  f"tiles {s['tiles']}{binned}")
    atomic_write(out / "summary.json", lambda tmp: Path(tmp).write_text(json.dumps(summaries, indent=2)))
    _summary_csv(out / "summary.csv", rows)
    write_html(out / "report.html", rows, pictures)
    for (path, name), judged in planes.items():
        if len(judged) > 1:  # a series: its per-plane table, and the sharpest plane
            failed += _plane_series(path, judged, out / name, args)
    if not args.quiet:
        print(f"wrote reports for {len(summaries)} image(s) to {out} (open report.html for an overview)")
    return 1 if failed else 0


def _stain(args) -> int:
    import numpy as np
    from PIL import Image
    from .io import read_slide
    from .io.writer import write_pyramid
    from .stain.transfer import DEFAULT_MODEL, iter_transfer_stain

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = None
    failed = 0
    try:
        if args.reference:
            with read_slide(args.reference) as ref:
                reference = ref.levels[-1] if min(ref.levels[-1].shape[:2]) >= 256 else ref.levels[0]
                reference = np.asarray(reference)
    except (OSError, ValueError) as err:
        print(f"cytoqa stain: reference {args.reference}: {err}", file=sys.stderr)
        return 2
    label = (args.model or DEFAULT_MODEL) if args.method == "cyclegan" else args.method
    for path, plane in work_items(args.images, args.plane):
        try:
            with read_slide(path) as slide:
                slide = plane_of(slide, plane)
                gen = iter_transfer_stain(slide, method=args.method, model=args.model, checkpoint=args.checkpoint,
                                          reference=reference, target=args.target, level=args.level,
                                          device=args.device, precision=args.precision)
                result = _with_bar(gen, path.name, args.quiet)
                name = f"{slide.name}_{label}".replace("/", "_")
                big = result.shape[0] * result.shape[1] > 8192 * 8192 or result.dtype != "uint8"
                if args.format == "tif" or (args.format == "auto" and big):
                    dest = write_pyramid(out / f"{name}.ome.tif", result, pixel_size_um=slide.pixel_size_um
                                         and slide.pixel_size_um[0] * 2 ** args.level)
                else:
                    dest = out / f"{name}.png"
                    Image.fromarray(result).save(dest)
        except (OSError, ValueError, KeyError) as err:
            failed += 1
            print(_error_line("stain", path, err), file=sys.stderr)
            continue
        if not args.quiet:
            print(f"{path.name} -> {dest}")
    return 1 if failed else 0


def _detect(args) -> int:
    import numpy as np

    from .detection import iter_detect_cells
    from .detection.detect import DENOISE_CHOICES
    from .io import read_slide

    if args.tta and args.detector == "otsu":  # before anything is written
        print("cytoqa detect: --tta applies to the learned detectors (unet, yolo)", file=sys.stderr)
        return 2
    if args.merge and args.detector != "unet":
        print("cytoqa detect: --merge applies to the U-Net (--detector unet)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"detector": args.detector, "tile_size": args.tile_size, "overlap": args.overlap, "level": args.level,
               "diameter": args.diameter, "size_model": args.size_model, "stain": args.stain,
               "pixel_size": args.pixel_size}  # the file's own or --pixel-size: for µm and the scale hint
    if isinstance(args.diameter, Microns):  # in µm: converted with that pixel size
        options.update(diameter=None, diameter_um=float(args.diameter))
    if args.detector in ("unet", "yolo"):
        options.update(routing=args.routing, device=args.device, threshold=args.threshold, model=args.model,
                       precision=args.precision, sharp_model=args.sharp_model, blurry_model=args.blurry_model)
        if args.denoise:  # else detect_cells' default
            options["denoise"] = DENOISE_CHOICES[args.denoise]
    if args.tta:  # else detect_cells' default
        options["tta"] = args.tta == "on"
    if args.merge:
        options["merge"] = args.merge == "on"
    if args.min_score is not None:
        options["min_score"] = args.min_score
    if (args.labels or args.qupath_cells) and args.detector == "yolo":
        print(f"cytoqa detect: {'--labels' if args.labels else '--qupath-cells'}: YOLO finds boxes, not instance "
              "labels; only boxes are written", file=sys.stderr)
    failed, rows = 0, []
    for path, plane in work_items(args.images, args.plane):
        label = str(path)
        try:
            with read_slide(path) as whole:
                slide = plane_of(whole, plane)
                label = item_label(path, plane, whole, slide)
                check_outputs(args, path, whole, slide)
                analysed = slide.levels[min(args.level, len(slide.levels) - 1)].shape[:2]
                down = slide.levels[0].shape[0] / analysed[0]
                if args.region:  # level-0 pixels to the analysed level's
                    options["region"] = _region(args.region, down, plane if slide is not whole else (), whole)
                # instance labels only when asked for: a whole slide's would not fit in memory
                gen = iter_detect_cells(slide, keep_labels="auto" if args.labels or args.qupath_cells else False,
                                        **options)
                det = _with_bar(gen, path.name, args.quiet)
                area = _analysed_area(det, slide, args, down)
                at, frame = stack_frame(whole, slide, plane)  # boxes (and areas) in level-0 pixels, on the plane
                write_cells(out / f"{slide.name}_cells.csv", det, pixel_size_um=level0_pixel_size(slide, args),
                            downsample=down, plane=at, frame=frame,
                            cell_expansion=expansion_px(args.qupath_cells, slide, args, down))
                if args.labels and det.labels is not None:
                    _write_labels(out / f"{slide.name}_labels.tif", det.labels,  # a region's: on the whole level
                                  slide.pixel_size_um and tuple(v * down for v in slide.pixel_size_um),
                                  shape=analysed, origin=det.origin)
        except (OSError, ValueError, KeyError) as err:
            failed += 1
            rows.append({"image": label, "error": str(err)})
            print(_error_line("detect", path, err), file=sys.stderr)
            continue
        try:
            scores = _truth_columns(args, path, whole, det, down, plane if slide is not whole else (),
                                    options.get("region")) if args.truth else {}
        except ValueError as err:  # annotations that are not GeoJSON: the cells are written, the scores not
            failed += 1
            print(_error_line("detect --truth", path, err), file=sys.stderr)
            scores = {"truth_cells": None}
        rows.append({"image": label, "cells": det.count, "diameter_px": det.diameter, "detector": args.detector,
                     "models": " ".join(sorted(set(map(str, det.route)))), "tiles": len(det.tile_counts),
                     "median_score": float(np.median(det.scores)) if det.count else None,
                     "min_score": args.min_score, "stain": det.stain,
                     "saturated": round(det.saturated, 4), **area,
                     "cells_per_mm2": det.count / area["area_mm2"] if area["area_mm2"] else None,
                     **scores, "warnings": " | ".join(det.warnings), "error": ""})
        if not args.quiet:
            size = "" if det.diameter is None else f" (diameter {det.diameter:.1f} px)"
            print(f"{Path(label).name}: {det.count} cells{size}")
    _summary_csv(out / "summary.csv", rows)
    return 1 if failed else 0


def _models(args) -> int:
    from .models import list_models

    for spec in list_models(task=args.task):
        print(f"{spec.name:28s} {spec.task:10s} {spec.source:8s} {spec.architecture:18s} {spec.alias}")
    return 0


def _sample_data(args) -> int:
    from .synthetic.samples import write_sample_data

    for path in write_sample_data(args.out):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ._cli_args import build_parser as parser

    return parser({"qc": _qc, "stain": _stain, "detect": _detect, "models": _models, "sample-data": _sample_data})


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if getattr(args, "out", None) is not None:  # one clear error for an unusable output folder
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            print(f"cytoqa {args.func.__name__.strip('_').replace('_', '-')}: cannot use {args.out} as the output "
                  f"folder: {err.strerror or err}", file=sys.stderr)
            return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
