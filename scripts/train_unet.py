"""Train a shipped U-Net cell detector on synthetic z-series (seed 003's sharp / blurry / combined).

    python scripts/train_unet.py --variant combined     # blur levels 0-10 (~20 min on 2 CPU cores)
    python scripts/train_unet.py --variant sharp        # levels 0-5 (220 scenes)
    python scripts/train_unet.py --variant blurry       # levels 6-10 (264 scenes)
    python scripts/train_unet.py --scenes 4 --epochs 1 --out /tmp/m   # smoke run
    python scripts/train_unet.py --variant sharp --recipe 3 --init cytoqa-unet-sharp --epochs 3 --lr 3e-4
                                                      # continue a registry U-Net on other data
    python scripts/train_unet.py --tissue --scenes 110 --init cytoqa-unet-combined --epochs 4 --lr 3e-4
                                                      # cytoqa-unet-tissue: stained sections through the
                                                      # hematoxylin channel (detection.tissue_task)

Data: ``build_detection_dataset`` — half brightfield smears in random stains, half
fluorescence nuclei (8/16-bit), every scene at every blur level of the variant (120 / 220 /
264 scenes for combined / sharp / blurry: 2,640 crops each), 256 px,
two random 128-px crops per image; scenes split 85/15 by group (all blur levels of one scene
in the same split). Seed 0. Scikit-image images are never used.
"""
import argparse
import time
from pathlib import Path

from napari_cytoqa.detection.unet import UNet
from napari_cytoqa.detection.unet_task import (EXPOSURE_KINDS, build_detection_dataset, evaluate, format_recipe,
                                              joint_augment, make_loss, parse_recipe)
from napari_cytoqa.models import ModelSpec, save_model
from napari_cytoqa.models.architectures import count_parameters
from napari_cytoqa.models.precision import FLOAT_PRECISIONS
from napari_cytoqa.training import FitConfig, fit, group_split

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "napari_cytoqa" / "models" / "weights"
VARIANTS = {"combined": range(0, 11), "sharp": range(0, 6), "blurry": range(6, 11)}
#: scenes per variant: equal crop counts (scenes x levels x 2 = 2,640); with 120 scenes each, the
#: specialists had about half the combined model's data and routing lost to combined at levels 5-6
SCENES = {"combined": 120, "sharp": 220, "blurry": 264}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", choices=list(VARIANTS), default="combined")
    ap.add_argument("--scenes", type=int, default=None, help="default: SCENES[variant]")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--max-steps", type=int, default=None, help="cap on steps per epoch")
    ap.add_argument("--recipe", type=parse_recipe, default=1,
                    help="synthetic scene recipe (unet_task.RECIPES), or a mix such as 1,3 (scenes take them in turn)")
    ap.add_argument("--name", default=None, help="model name (default cytoqa-unet-<variant>)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32", choices=FLOAT_PRECISIONS,
                    help="training arithmetic (bf16 autocast; the shipped U-Nets were trained in fp32)")
    ap.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine decay)")
    ap.add_argument("--exposure-share", type=float, default=0.0,
                    help="share of the scenes over-exposed (unet_task.over_exposed; default 0: no over-exposure)")
    ap.add_argument("--exposure-kinds", default="brightfield,fluorescence",
                    help="the scene kinds --exposure-share over-exposes (comma-separated; default both)")
    ap.add_argument("--init", default=None,
                    help="a registry U-Net to continue training from (its weights, a fresh schedule) "
                         "instead of starting from scratch")
    ap.add_argument("--tissue", action="store_true",
                    help="synthetic stained sections seen through the hematoxylin channel (detection.tissue_task) "
                         "instead of the recipe's smears and fluorescence; --recipe and --exposure-* do not apply")
    ap.add_argument("--tissue-chromatin", action="store_true",
                    help="with --tissue: textured, partly vesicular nuclei (not used by the shipped tissue U-Net)")
    ap.add_argument("--out", default=str(BUNDLED))
    args = ap.parse_args()
    args.scenes = args.scenes or SCENES[args.variant]
    levels = VARIANTS[args.variant]
    kinds = tuple(k for k in args.exposure_kinds.split(",") if k)
    t0 = time.time()
    if args.tissue:
        from napari_cytoqa.detection.tissue_task import build_tissue_dataset

        x, y, lv, groups = build_tissue_dataset(args.scenes, levels, seed=0, chromatin=args.tissue_chromatin)
    else:
        x, y, lv, groups = build_detection_dataset(args.scenes, levels, seed=0, recipe=args.recipe,
                                                   exposure_share=args.exposure_share, exposure_kinds=kinds)
    tr, va = group_split(groups, val_fraction=0.15, seed=0)
    print(f"data: {len(x)} crops ({len(tr)} train / {len(va)} val) in {time.time() - t0:.0f} s", flush=True)
    net = UNet()
    init_note = ""
    if args.init:
        from napari_cytoqa.models import training_state

        try:
            state, start = training_state(args.init, "unet")
        except ValueError as exc:
            raise SystemExit(f"--init: {exc}") from None
        net.load_state_dict(state)
        init_note = f" --init {args.init} (weights sha256 {start.sha256}) --epochs {args.epochs} --lr {args.lr:g}"
    cfg = FitConfig(epochs=args.epochs, batch_size=8, lr=args.lr, patience=3, seed=0, device=args.device,
                    lr_schedule="cosine", max_steps_per_epoch=args.max_steps, precision=args.precision)
    t1 = time.time()
    last = [0.0]

    def progress(ev):
        if ev["event"] == "epoch":
            print(f"epoch {ev['epoch'] + 1}/{ev['epochs']}: train {ev['train_loss']:.4f} val {ev['val_loss']:.4f} "
                  f"pixel F1 {ev['pixel_f1']:.3f} centre MAE {ev['centre_mae']:.3f} ({time.time() - t1:.0f} s)",
                  flush=True)
        elif time.time() - last[0] > 60:
            last[0] = time.time()
            print(f"  epoch {ev['epoch'] + 1} step {ev['step']}/{ev['steps']} loss {ev['loss']:.4f}", flush=True)

    result = fit(net, (x[tr], y[tr]), (x[va], y[va]), make_loss(), cfg, progress=progress, evaluate=evaluate,
                 joint_augment=joint_augment)
    best = result.history[result.best_epoch]
    name = args.name or ("cytoqa-unet-tissue" if args.tissue else f"cytoqa-unet-{args.variant}")
    spec = ModelSpec(
        name=name, alias=f"U-Net ({'stained tissue, hematoxylin channel' if args.tissue else args.variant}: "
                         f"blur levels {levels.start}-{levels.stop - 1})",
        task="detection", architecture="unet", weights=f"{name}.safetensors", sha256="",
        config={"widths": [16, 32, 64, 128, 256]},
        input={"channels": 3, "multiple": 16, "normalisation": "image luminance 0.5-99.5 percentiles -> [0, 1], "
               "gray repeated to RGB, brightfield inverted (cells bright)", "outputs": ["foreground", "centre"],
               "threshold": 0.5, "core": 0.5, "min_size": 12, "pixel_size_um": 0.5,
               "blur_levels": [levels.start, levels.stop - 1], "variant": args.variant,
               **({"stain": "hematoxylin"} if args.tissue else {})},
        data={"recipe": f"scripts/train_unet.py --variant {args.variant} --scenes {args.scenes} "
                        + (("--tissue" + " --tissue-chromatin" * args.tissue_chromatin) if args.tissue
                           else f"--recipe {format_recipe(args.recipe)}")
                        + (f" --exposure-share {args.exposure_share:g}" if args.exposure_share else "")
                        + (f" --exposure-kinds {args.exposure_kinds}" if args.exposure_share
                           and set(kinds) != set(EXPOSURE_KINDS) else "")
                        + f"{init_note}", "seed": 0,
              "scenes": args.scenes, "scene_recipe": args.recipe,  # a mix is written as a JSON list
              "crops": int(len(x)), "train_crops": int(len(tr)), "val_crops": int(len(va)),
              "sources": ("synthetic H&E / IHC sections (detection.tissue_task) through the hematoxylin channel"
                          if args.tissue else "synthetic smears (random stains) and fluorescence nuclei")
              + ", 256 px, 2 crops of 128 px",
              "split": "group-aware 85/15 (all blur levels of a scene together)",
              "never_used": "scikit-image sample images"},
        metrics={"best_epoch": result.best_epoch + 1, "train_seconds": round(time.time() - t1),
                 "device": result.device, "parameters": count_parameters(net),
                 "validation (synthetic crops)": {k: round(float(v), 4) for k, v in best.items()
                                                  if k not in ("epoch", "best")}})
    save_model(net, spec, args.out, half=True)
    print(f"saved {name} to {args.out}: best epoch {result.best_epoch + 1}, {best}")


if __name__ == "__main__":
    main()
