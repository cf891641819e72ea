"""Rule S: does the H&E colour check (``assess_quality(stain_check=True)``) make real H&E sections
cell images without making anything else one?

Runs the quality check with ``stain_check`` off and on, slide level, 256-px tiles as in
``evaluate_quality.py``'s validity sections, on

1. every validity image of ``evaluate_quality.py`` (the scikit-image set and the six blind
   extensions: cell and non-cell images; fetched from wheels by ``_wheel_data.py``), and
2. images the generator makes that no check here has seen: ``make_non_cell`` non-cell images
   (``--non-cell`` of them, seeds from ``--seed``) and synthetic H&E and IHC tissue at blur
   levels 0, 5 and 10 (seeds from ``--seed`` + 500,000).

The check can only turn "not a cell image" into "cell image", so the rule counts what it turns.

    python scripts/evaluate_stain_check.py --json docs/stain_check_rule_s.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import evaluate_quality as eq  # noqa: E402

from napari_cytoqa import assess_quality  # noqa: E402
from napari_cytoqa._dtypes import transparent_as_nan  # noqa: E402
from napari_cytoqa.quality.assess import MAX_STAT_PIXELS, strided_sample  # noqa: E402
from napari_cytoqa.quality.measures import IntensityStats  # noqa: E402
from napari_cytoqa.quality.stain_check import he_shares, is_he_section  # noqa: E402
from napari_cytoqa.synthetic.noncell import make_non_cell  # noqa: E402
from napari_cytoqa.synthetic.tissue import tissue_series  # noqa: E402


def colour(img) -> dict:
    """The check's colour shares of an array image, measured on the sample ``assess_quality``
    takes (whether or not the check needed them: it measures only where the network is unsure)."""
    sample = transparent_as_nan(strided_sample(np.asarray(img), MAX_STAT_PIXELS))
    shares = he_shares(sample, IntensityStats.from_sample(sample, np.asarray(img).dtype).full_scale)
    return shares | {"section": is_he_section(shares)}


def judge(img, model=None) -> dict:
    off = assess_quality(img, tile_size=256, model=model, precision="fp32", stain_check=False)
    on = assess_quality(img, tile_size=256, model=model, precision="fp32", stain_check=True)
    return {"p_valid": round(float(on.p_valid), 4), "off": bool(off.valid), "on": bool(on.valid),
            "validity": on.validity, **{f"colour_{k}": (v if isinstance(v, bool) else round(float(v), 3))
                                         for k, v in colour(img).items()}}


def real_sets():
    """(section, truth, name, image) for every validity image of evaluate_quality.py."""
    sections = [("scikit-image set", eq.validity_images()), ("blind 1", eq.blind_images()),
                ("blind 2", eq.blind_images_2()), ("blind 3", eq.blind_images_3())]
    skimage_samples, other = eq.blind_images_4()
    sections += [("blind 4", (skimage_samples + other, [])), ("blind 5", eq.blind_images_5()),
                 ("blind 6", eq.blind_images_6())]
    for section, (cells, non_cells) in sections:
        for truth, items in (("cell", cells), ("non-cell", non_cells)):
            for name, img in items:
                yield section, truth, name, img


def generated(n_non_cell: int, seed: int):
    for i in range(n_non_cell):
        name = f"make_non_cell seed {seed + i}"
        yield "generated non-cell", "non-cell", name, make_non_cell((256, 256), seed=seed + i)
    for k, kw in enumerate(({}, {"architecture": True}, {"ihc": True})):
        kind = "ihc" if kw.get("ihc") else ("architecture" if kw else "h&e")
        for j in range(4):
            s = seed + 500_000 + 10 * k + j
            for im in tissue_series((512, 512), [0, 5, 10], seed=s, **kw):
                yield "generated tissue", "cell", f"{kind} seed {s} level {im.meta['blur_level']}", im.image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--non-cell", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=10_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for source in (real_sets(), generated(args.non_cell, args.seed)):
        for section, truth, name, img in source:
            r = {"section": section, "truth": truth, "image": name, **judge(img, args.model)}
            rows.append(r)
            if r["on"] != r["off"] or section not in ("generated non-cell", "generated tissue"):
                print(json.dumps(r), flush=True)
    summary = {}
    for section in dict.fromkeys(r["section"] for r in rows):
        part = [r for r in rows if r["section"] == section]
        summary[section] = {
            "images": len(part),
            "right off / on": [sum((r["truth"] == "cell") == r[k] for r in part) for k in ("off", "on")],
            "turned cell image": [r["image"] for r in part if r["on"] and not r["off"]],
            "colour says H&E": sum(bool(r.get("colour_section")) for r in part)}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
