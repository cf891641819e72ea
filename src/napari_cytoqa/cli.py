"""The ``cytoqa`` command line, on the same core as the napari widgets."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("napari_cytoqa")


def _qc(args) -> int:
    from PIL import Image
    from tqdm import tqdm

    from .io import read_slide
    from .quality import iter_assess_quality
    from .quality.render import render_overlay

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summaries, failed = {}, []
    for path in args.images:
        path = Path(path)
        try:
            with read_slide(path) as slide:
                gen = iter_assess_quality(slide, tile_size=args.tile_size, method=args.method,
                                          model=args.model, device=args.device,
                                          weighting=args.weighting, level=args.level)
                with tqdm(desc=path.name, unit="tile", disable=args.quiet, leave=False) as bar:
                    try:
                        while True:
                            done, total = next(gen)
                            bar.total = total
                            bar.update(done - bar.n)
                    except StopIteration as stop:
                        report = stop.value
                stem = out / slide.name
                report.to_csv(stem.with_name(f"{slide.name}_tiles.csv"))
                report.to_json(stem.with_name(f"{slide.name}_summary.json"))
                Image.fromarray(render_overlay(slide.levels, report)).save(
                    stem.with_name(f"{slide.name}_overlay.png"))
        except (OSError, ValueError) as err:
            failed.append(str(path))
            print(f"cytoqa qc: {path}: {err}", file=sys.stderr)
            continue
        summaries[str(path)] = report.summary()
        if not args.quiet:
            s = report.summary()
            print(f"{path.name}: {s['verdict']}, grade {s['grade'] or '-'}, p_blurry {s['p_blurry']}, "
                  f"tiles {s['tiles']}")
    (out / "summary.json").write_text(json.dumps(summaries, indent=2))
    if not args.quiet:
        print(f"wrote reports for {len(summaries)} image(s) to {out}")
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
    from .quality import METHODS
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
    qc.add_argument("--quiet", action="store_true")
    qc.set_defaults(func=_qc)
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
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
