"""The ``cytoqa`` command line, on the same core as the napari widgets."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ._cli_parts import (Microns, _analysed_area, _error_line, _overlap_arg, _pixel_size, _plane_series, _region,
                         _write_labels, diameter_arg, distance_arg, expansion_px, item_label, plane_arg, plane_of,
                         region_arg, stack_frame, work_items)
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
            **{k: v for k, v in s["exposure"].items()}, "error": ""}


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
                rows[-1].update(qc_truth_columns(args, path, whole, report, plane if slide is not whole else ()))
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
    from .detection.detect import DENOISE_CHOICES, MAX_LABEL_PIXELS
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
               "diameter": args.diameter, "size_model": args.size_model, "stain": args.stain}
    if isinstance(args.diameter, Microns):  # in µm: converted with the file's pixel size or --pixel-size
        options.update(diameter=None, diameter_um=float(args.diameter), pixel_size=args.pixel_size)
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
                write_cells(out / f"{slide.name}_cells.csv", det, pixel_size_um=slide.pixel_size_um, downsample=down,
                            plane=at, frame=frame, cell_expansion=expansion_px(args.qupath_cells, slide, args, down))
                if args.qupath_cells and det.labels is None and args.detector != "yolo":
                    print(f"cytoqa detect: {label}: instance labels are not kept beyond {MAX_LABEL_PIXELS:,} pixels "
                          "of the analysed level: the cells are written as detections, not QuPath cells (a "
                          "coarser --level or a --region keeps them)", file=sys.stderr)
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
    from .detection.detect import DENOISE_CHOICES, DETECTORS, ROUTINGS
    from .detection.stain_input import STAIN_CHOICES
    from .models.precision import FLOAT_PRECISIONS
    from .quality import METHODS
    from .quality.int8 import PRECISIONS
    from .tiling import WEIGHTINGS

    parser = argparse.ArgumentParser(prog="cytoqa", description="Quality control for cytology slides.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    qc = sub.add_parser("qc", help="tile-level quality check; writes CSV, JSON and an overlay PNG per image")
    qc.add_argument("images", nargs="+", help="TIFF/OME-TIFF/SVS/NDPI/PNG/JPEG files")
    qc.add_argument("--out", required=True, help="output directory")
    qc.add_argument("--tile-size", type=int, default=512)
    qc.add_argument("--level", type=int, default=0, help="pyramid level to analyse")
    qc.add_argument("--method", default="learned", choices=list(METHODS))
    qc.add_argument("--model", default=None, help="quality model name or alias (see `cytoqa models`)")
    qc.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, …")
    qc.add_argument("--weighting", default="rgb_var", choices=WEIGHTINGS)
    qc.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="of the quality network; auto: bfloat16 on CPUs with native bf16 (AMX / "
                         "AVX512-BF16), else float32; int8: quantized on the CPU, slightly less accurate")
    qc.add_argument("--pixel-size", type=_pixel_size, default=None, metavar="auto|UM",
                    help="judge finely sampled slides at the 0.5 um/px the checks were made for (tiles binned "
                         "2x at 0.25 um/px): 'auto' uses each file's recorded pixel size, a number (um per "
                         "pixel) applies to every image; default: analyse every image at its own pixels")
    qc.add_argument("--assume-cells", action="store_true",
                    help="these are cell images: skip the validity gate so every tile gets focus and grade "
                         "verdicts (p_valid is still reported); for real IHC (or H&E) sections the model misjudges")
    qc.add_argument("--no-stain-check", dest="stain_check", action="store_false",
                    help="judge 'cell image or not' by the network alone; by default an H&E section by its colour "
                         "(purple and pink stain) counts as a cell image where the network is unsure")
    qc.add_argument("--compose", action="store_true",
                    help="with --plane all: also write <name>_sharpest.tif for each single-axis stack (a focus "
                         "series), each tile taken from its sharpest plane and blended between tile centres")
    qc.add_argument("--truth", default=None, metavar="auto|FOLDER|FILE",
                    help="score the tiles' sharp/blurry verdicts against areas marked on the image (GeoJSON in "
                         "level-0 pixels, e.g. out-of-focus areas outlined in QuPath or napari: tiles inside are "
                         "blurry, the rest sharp; or areas classified sharp/blurry; or a mask image, .tif or .png, "
                         "not 0 where blurry): auto = <name>_blurry.geojson (or .png, .tif) beside the image, a "
                         "folder of <image>.geojson or such files, or one file; adds truth_tiles, focus_accuracy, "
                         "blurry_recall and sharp_recall to summary.csv")
    qc.add_argument("--quiet", action="store_true")
    qc.set_defaults(func=_qc)
    st = sub.add_parser("stain", help="stain transfer (CycleGAN, Macenko, Reinhard); writes one image per input")
    st.add_argument("images", nargs="+")
    st.add_argument("--out", required=True, help="output directory")
    st.add_argument("--method", default="cyclegan", choices=["cyclegan", "macenko", "reinhard"])
    st.add_argument("--model", default=None, help="CycleGAN model (see `cytoqa models --task stain`)")
    st.add_argument("--checkpoint", default=None, help="one of the model's epoch checkpoints")
    st.add_argument("--reference", default=None, help="reference image whose stain is the target (classical)")
    st.add_argument("--target", default=None, help="stored target statistics (JSON) instead of --reference")
    st.add_argument("--level", type=int, default=0)
    st.add_argument("--device", default="auto")
    st.add_argument("--precision", default="fp32", choices=FLOAT_PRECISIONS,
                    help="of the CycleGAN: bf16 is ~3x faster on CPUs with native bf16, within a few grey levels")
    st.add_argument("--format", default="auto", choices=["auto", "png", "tif"],
                    help="auto: PNG for 8-bit images up to 8192², else pyramidal OME-TIFF")
    st.add_argument("--quiet", action="store_true")
    st.set_defaults(func=_stain)
    dt = sub.add_parser("detect", help="cell detection; writes boxes as CSV and GeoJSON per image")
    dt.add_argument("images", nargs="+")
    dt.add_argument("--out", required=True, help="output directory")
    dt.add_argument("--detector", default="unet", choices=list(DETECTORS))
    dt.add_argument("--routing", default="combined", choices=list(ROUTINGS))
    dt.add_argument("--model", default=None, help="registry model name (default: by detector and routing)")
    dt.add_argument("--sharp-model", default=None,
                    help="with --routing blur: the model for in-focus tiles (default or auto: the shipped sharp "
                         "model, or the over-exposure-trained one for images that look over-exposed)")
    dt.add_argument("--blurry-model", default=None, help="with --routing blur: the model for blurry tiles")
    dt.add_argument("--threshold", type=float, default=None,
                    help="foreground probability (U-Net) or confidence (YOLO); default: the model's own")
    dt.add_argument("--diameter", type=diameter_arg, default=None,
                    help='typical cell diameter in pixels, in µm with a unit (e.g. 8um: converted with the '
                         'pixel size the file records, or --pixel-size), or "auto" to measure it per image '
                         "(default: as trained, 16 px at 0.5 µm/px)")
    dt.add_argument("--pixel-size", type=_pixel_size, default="auto", metavar="auto|UM",
                    help="µm per pixel of level 0, for a --diameter in µm and the area in mm² in summary.csv "
                         "(default auto: the file's own)")
    dt.add_argument("--size-model", default="cytoqa-unet-combined",
                    help='with --diameter auto: the U-Net that measures the cell size (default %(default)s; '
                         'cytoqa-unet-combined-r4 was closer on held-out synthetic scenes, docs/detection.md)')
    dt.add_argument("--stain", default="none", choices=list(STAIN_CHOICES),
                    help="auto: stained tissue sections (H&E) are read through their hematoxylin channel, the "
                         "nuclei; hematoxylin: always (RGB only); none (default): the image as it is "
                         "(docs/detection.md, rule H)")
    dt.add_argument("--region", type=region_arg, default=None, metavar="Y0,X0,Y1,X1|FILE.geojson",
                    help="detect only in this box (level-0 pixels) or in the rectangles and polygons of a GeoJSON "
                         "file (e.g. regions drawn in QuPath; on a stack those on the --plane and those with none); "
                         "CSV and GeoJSON stay in the image's coordinates, --labels writes the label image of the "
                         "whole level, zero outside the region")
    dt.add_argument("--truth", default=None, metavar="auto|FOLDER|FILE",
                    help="score each image against its annotated cells (GeoJSON in level-0 pixels, e.g. a QuPath "
                         "export; boxes around its rectangles and polygons, or, in a file of points only, a point in "
                         "a box; or a label image / mask, .tif or .png, the boxes of its instances): auto = the "
                         "GeoJSON beside the image (slide.svs.geojson or slide.geojson), else <name>_labels.tif or "
                         "<name>_mask.png …; a folder of such files, or of masks named like the images; or one "
                         "file; adds truth_cells, truth_kind, ap50, precision, recall, f1, tp, fp, fn and "
                         "count_ape to summary.csv")
    dt.add_argument("--tile-size", type=int, default=512)
    dt.add_argument("--overlap", type=_overlap_arg, default="auto",
                    help="of neighbouring tiles, in pixels; auto (default): 64, or 1.5 cell diameters for cells "
                         "larger than ~43 px, the tile grown to hold three overlaps")
    dt.add_argument("--level", type=int, default=0)
    dt.add_argument("--device", default="auto")
    dt.add_argument("--precision", default=None, choices=FLOAT_PRECISIONS,
                    help="of the networks (default: detectors float32, focus model auto); bf16 is ~2x "
                         "faster for the U-Net, a little less accurate; auto: bf16 where the CPU has it natively")
    dt.add_argument("--denoise", default=None, choices=list(DENOISE_CHOICES),
                    help="smooth tiles noisier than the training images first: on (every model), off, or auto "
                         "(the sharp U-Net only); default: detect_cells' default (see docs/detection.md)")
    dt.add_argument("--tta", default=None, choices=["on", "off"],
                    help="run each tile and its 3 mirror images (4x the network time) and average: the U-Net's "
                         "maps, YOLO's boxes (weighted box fusion); default: detect_cells' default (see "
                         "docs/detection.md, mirror-image averaging)")
    dt.add_argument("--merge", default=None, choices=["on", "off"],
                    help="U-Net: join touching instances that are pieces of one cell (a shared border 1.3x as long "
                         "as the smaller is wide, through a high centre map, or a centre map that barely dips "
                         "between them); default: detect_cells' default, on (docs/detection.md, rules J2 and W)")
    dt.add_argument("--min-score", type=float, default=None,
                    help="keep only objects scoring at least this (0-1; default: all): fewer specks and dust in "
                         "the count, a few true cells lost (docs/detection.md, counting confident objects)")
    dt.add_argument("--labels", action="store_true",
                    help="also write the instance label image (<name>_labels.tif, U-Net and Otsu) and each cell's "
                         "area and equivalent diameter in the CSV (in µm too where the file gives the pixel size)")
    dt.add_argument("--qupath-cells", type=distance_arg, default=None, metavar="DIST|DISTum",
                    help="write the cells GeoJSON as QuPath cell objects: each nucleus (U-Net, Otsu) grown by this "
                         "distance into the background, without crossing a neighbour's (e.g. 5um, QuPath's cell "
                         "expansion; or level-0 pixels), the nucleus outline inside it")
    dt.add_argument("--quiet", action="store_true")
    dt.set_defaults(func=_detect)
    for sp in (qc, st, dt):
        sp.add_argument("--plane", type=plane_arg, default=None, metavar="K[,K...]|all",
                        help="of a stack (Z, time, channels): the 2-D plane to analyse, one index per axis, or "
                             "all: every plane, one summary row each (gray and RGB images ignore it)")
    md = sub.add_parser("models", help="list the models in the registry")
    md.add_argument("--task", default=None)
    md.set_defaults(func=_models)
    sd = sub.add_parser("sample-data", help="write the synthetic sample images")
    sd.add_argument("--out", default="sample_data")
    sd.set_defaults(func=_sample_data)
    return parser


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
