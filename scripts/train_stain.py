"""Train the shipped CycleGAN stain-transfer models (H&E-like ↔ Giemsa-like smears).

    python scripts/train_stain.py                    # ~20 min on 2 CPU cores, seconds on a GPU
    python scripts/train_stain.py --epochs 2 --steps 5 --out /tmp/m   # smoke run

Data: unpaired synthetic smears from napari_cytoqa.synthetic (A: stain "he", seeds 0–47;
B: stain "giemsa", seeds 500–547; 320 × 320, blur levels 0–2, varied cell density). The epoch
whose generator is closest in colour (mean CIEDE2000) to the true other-stain rendering of 8
paired validation smears (seeds 5000–5007, never used for training or for the evaluation in
benchmarks/bench_stain.py) becomes the default weights; epochs 4, 8, 12, … are kept as
selectable checkpoints (seed 004: later epochs start to change morphology).
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_cytoqa.models import ModelSpec, save_model
from napari_cytoqa.models.architectures import count_parameters
from napari_cytoqa.models.weights_io import load_state
from napari_cytoqa.stain import delta_e2000
from napari_cytoqa.stain.cyclegan import ResnetGenerator
from napari_cytoqa.stain.train import CycleGANConfig, train_cyclegan
from napari_cytoqa.synthetic import make_smear

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "napari_cytoqa" / "models" / "weights"


def smears(stain, seeds, size, rng):
    return [make_smear((size, size), stain=stain, seed=int(s), blur_level=float(rng.uniform(0, 2)),
                       cell_density=float(rng.uniform(2.5e-4, 6e-4))).image for s in seeds]


def translate(g, img):
    import torch

    x = torch.as_tensor(img.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1)
    with torch.no_grad():
        y = g.eval()(x)[0].numpy().transpose(1, 2, 0)
    return np.clip(np.rint((y + 1) * 127.5), 0, 255).astype(np.uint8)


def val_delta_e(state, cfg, src, dst):
    g = ResnetGenerator(cfg.ngf, cfg.n_blocks)
    g.load_state_dict(state)
    return float(np.mean([delta_e2000(translate(g, a), b).mean() for a, b in zip(src, dst)]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--steps", type=int, default=125)
    ap.add_argument("--keep-every", type=int, default=4)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(BUNDLED))
    ap.add_argument("--preview", default="docs/images/stain_checkpoints.png")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    a = smears("he", range(48), 320, rng)
    b = smears("giemsa", range(500, 548), 320, rng)
    val_rng = np.random.default_rng(1)
    val_seeds = range(5000, 5008)
    val_levels = val_rng.uniform(0, 2, len(val_seeds))
    val_a = [make_smear((256, 256), stain="he", seed=s, blur_level=lv).image for s, lv in zip(val_seeds, val_levels)]
    val_b = [make_smear((256, 256), stain="giemsa", seed=s, blur_level=lv).image
             for s, lv in zip(val_seeds, val_levels)]
    cfg = CycleGANConfig(epochs=args.epochs, steps_per_epoch=args.steps, batch_size=2, crop=96, ngf=16,
                         n_blocks=4, ndf=32, seed=0, device=args.device)
    tmp = Path(tempfile.mkdtemp(prefix="cytoqa-cyclegan-"))
    t0 = time.time()
    last = [0.0]

    def progress(ev):
        if ev["event"] == "epoch":
            print(f"epoch {ev['epoch'] + 1}/{ev['epochs']}: G {ev['g_gan']:.3f} cycle {ev['cycle']:.3f} "
                  f"id {ev['identity']:.3f} D {ev['d']:.3f}  ({time.time() - t0:.0f} s)", flush=True)
        elif time.time() - last[0] > 60:
            last[0] = time.time()
            print(f"  epoch {ev['epoch'] + 1} step {ev['step']}/{ev['steps']} loss {ev['loss']:.3f}", flush=True)

    result = train_cyclegan(a, b, cfg, checkpoint_dir=tmp, progress=progress, preview_tile=val_a[0] / 255.0)
    seconds = time.time() - t0
    before = {"he_to_giemsa": float(np.mean([delta_e2000(x, y).mean() for x, y in zip(val_a, val_b)]))}
    before["giemsa_to_he"] = before["he_to_giemsa"]
    out = Path(args.out)
    previews = []
    for key, name, src, dst, alias in (
            ("ab", "cytoqa-stain-he-to-giemsa", val_a, val_b, "CycleGAN H&E-like → Giemsa-like"),
            ("ba", "cytoqa-stain-giemsa-to-he", val_b, val_a, "CycleGAN Giemsa-like → H&E-like")):
        scores = {e: val_delta_e(load_state(p[key], _sha(p[key])), cfg, src, dst)
                  for e, p in result.checkpoints.items()}
        best = min(scores, key=lambda e: (round(scores[e], 2), e))
        kept = sorted(e for e in scores if e % args.keep_every == 0 and e != best)  # best = the default
        state = load_state(result.checkpoints[best][key], _sha(result.checkpoints[best][key]))
        g = ResnetGenerator(cfg.ngf, cfg.n_blocks)
        g.load_state_dict(state)
        direction = name.split("stain-")[1].replace("-", "_")
        spec = ModelSpec(
            name=name, alias=alias, task="stain", architecture="cyclegan_generator",
            weights=f"{name}.safetensors", sha256="",
            config={"ngf": cfg.ngf, "n_blocks": cfg.n_blocks},
            input={"channels": 3, "normalisation": "RGB / full scale * 2 - 1", "tile": 512, "overlap": 64,
                   "from_stain": "he" if key == "ab" else "giemsa", "to_stain": "giemsa" if key == "ab" else "he"},
            data={"recipe": "scripts/train_stain.py", "seed": 0, "domain_a": "48 synthetic H&E-like smears, "
                  "seeds 0-47, 320 px", "domain_b": "48 synthetic Giemsa-like smears, seeds 500-547, 320 px",
                  "validation": "8 paired smears (seeds 5000-5007) rendered in both stains",
                  "never_used": "scikit-image sample images; benchmarks/bench_stain.py evaluation seeds"},
            metrics={"default_checkpoint": f"epoch{best:03d}", "train_seconds": round(seconds),
                     "device": result.device, "parameters": count_parameters(g), "config": result.config,
                     "validation_delta_e2000_before": round(before[direction], 3),
                     "validation_delta_e2000_per_epoch": {f"epoch{e:03d}": round(v, 3) for e, v in scores.items()},
                     "history": [{k: round(v, 4) for k, v in h.items()} for h in result.history]})
        ckpts = {f"epoch{e:03d}": load_state(result.checkpoints[e][key], _sha(result.checkpoints[e][key]))
                 for e in kept}
        save_model(g, spec, out, half=True, checkpoints=ckpts)
        # fp16 storage check: the shipped default's validation error
        half_state = load_state(out / spec.weights, spec.sha256)
        spec.metrics["validation_delta_e2000_fp16_default"] = round(val_delta_e(half_state, cfg, src, dst), 3)
        (out / f"{name}.json").write_text(spec.to_json())
        print(name, "best epoch", best, "val dE", round(scores[best], 3), "before", round(before[direction], 3),
              "fp16", spec.metrics["validation_delta_e2000_fp16_default"], "kept", kept)
        if key == "ab":
            previews = [(f"epoch {e}", translate(_gen(result.checkpoints[e][key], cfg), val_a[0])) for e in kept]
    if args.preview and previews:
        _save_previews(val_a[0], val_b[0], previews, args.preview)
    print(json.dumps({"seconds": round(seconds), "device": result.device}))


def _sha(path):
    from napari_cytoqa.models import sha256_file

    return sha256_file(path)


def _gen(path, cfg):
    g = ResnetGenerator(cfg.ngf, cfg.n_blocks)
    g.load_state_dict(load_state(path, _sha(path)))
    return g


def _save_previews(src, truth, previews, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("H&E-like input", src), *previews, ("true Giemsa-like", truth)]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.7))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
