"""U-Net data, input preparation, loss and inference, shared by training scripts and ``detect_cells``.

Input: a tile scaled by image-wide intensity statistics (so a faint tile stays faint), gray
repeated to 3 channels, and inverted for brightfield — cells are always bright on dark for the
network, whatever the polarity, dtype or bit depth of the image.
"""
from __future__ import annotations

import numpy as np

from .._dtypes import transparent_as_nan
from ..quality.crops import normalise_rgb
from ..quality.measures import IntensityStats
from ..synthetic import fluorescence_series, smear_series
from .sparse import plain_and_detection_stats
from .unet import centre_map, instances_from_maps

MULTIPLE = 16  # 4 poolings


def unet_input(tile: np.ndarray, stats: IntensityStats) -> np.ndarray:
    """``(3, H, W)`` float32 network input for one tile."""
    x = normalise_rgb(np.asarray(tile), stats)
    if stats.polarity == "dark_on_light":
        x = 1.0 - x
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def image_stats(image) -> tuple[IntensityStats, IntensityStats]:
    """Image-wide intensity statistics from one strided sample of at most ``MAX_STAT_PIXELS``:
    the plain ones the quality checks use, and the detectors', corrected for sparse and empty
    fields (:func:`.sparse.plain_and_detection_stats`)."""
    from ..quality.assess import MAX_STAT_PIXELS, strided_sample

    return plain_and_detection_stats(transparent_as_nan(strided_sample(image, MAX_STAT_PIXELS)), image.dtype)


#: Recipes of :func:`scene_series`. 1: the first shipped detectors (nuclei radius 6-11 px, mildly
#: elongated). 2: adds the size and shape spread of real nuclei — magnification log-uniform in
#: 0.75-1.4× and more elongated fluorescence nuclei (aspect ratio up to 2.8, median about 1.4).
#: 3: recipe 2 with fluorescence fields closer to cultured-cell images (BBBC006 / DSB-like):
#: nuclei that abut instead of adding up where they touch (70 % of fields), brightness spread
#: log-uniformly down to 10-50 % of the brightest, smoother chromatin, out-of-focus haze and up
#: to 5 % small, bright condensed (mitotic) nuclei. Smears are recipe 2's. 4: recipe 3 with
#: textured chromatin (``synthetic.chromatin``: dark nucleoli, bright speckles and chromocentres,
#: coarse blotches, a bright rim; field strength 0.5-1) and up to 25 % lobed, rough nuclei. 5: recipe 3
#: with unlabelled dim specks in the fluorescence fields (0-1 per nucleus; ``fluorescence_series``'s
#: ``debris``): the dust and dots of widefield images, which the sharp U-Net took for nuclei. 6: recipe 3
#: with 15-35 % of the fluorescence nuclei bilobed (two overlapping lobes with a waist, one nucleus;
#: ``fluorescence_series``' ``waisted``), which the detectors cut in two at the waist (CHO).
RECIPES = (1, 2, 3, 4, 5, 6)


def scene_recipe(recipe, scene: int) -> int:
    """The recipe of scene ``scene``: ``recipe`` itself, or for a mix (a sequence such as
    ``(1, 3)``) the recipes in turn by pairs of scenes, so that smears (even scenes) and
    fluorescence fields (odd ones) both cycle through every recipe of the mix."""
    mix = (recipe,) if isinstance(recipe, (int, np.integer)) else tuple(recipe)
    if not mix or any(r not in RECIPES for r in mix):
        raise ValueError(f"recipe must be one of {RECIPES} or a sequence of them, got {recipe!r}")
    return int(mix[(scene // 2) % len(mix)])


def parse_recipe(text: str):
    """``"3"`` → 3, ``"1,3"`` → ``(1, 3)`` (a mix, see :func:`scene_recipe`); for scripts' ``--recipe``."""
    try:
        mix = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"recipe must be one of {RECIPES} or a comma-separated mix, got {text!r}") from None
    recipe = mix[0] if len(mix) == 1 else mix
    scene_recipe(recipe, 0)  # validates
    return recipe


def format_recipe(recipe) -> str:
    """The inverse of :func:`parse_recipe`: ``3`` → ``"3"``, ``(1, 3)`` → ``"1,3"``."""
    return str(recipe) if isinstance(recipe, (int, np.integer)) else ",".join(str(r) for r in recipe)


EXPOSURE_KINDS = ("brightfield", "fluorescence")


def scene_series(rng: np.random.Generator, scene: int, shape, levels, recipe=1, exposure_share: float = 0.0,
                 exposure_kinds=EXPOSURE_KINDS):
    """One synthetic training scene at every blur level in ``levels``: even scenes are
    brightfield smears in random stains, odd ones fluorescence nuclei (8- or 16-bit) — the
    recipe shared by the U-Net and YOLO training data (see :data:`RECIPES`; a sequence mixes
    recipes, see :func:`scene_recipe`). ``exposure_share`` of the scenes of the kinds in
    ``exposure_kinds`` are over-exposed (:func:`over_exposed`); at 0 no extra random number is
    drawn, so the data stay as they were. A scene of a kind left out draws the numbers it would
    have drawn, so every other scene is the same as with every kind exposed."""
    unknown = set(exposure_kinds) - set(EXPOSURE_KINDS)
    if unknown:
        raise ValueError(f"exposure_kinds must be among {EXPOSURE_KINDS}, got {sorted(unknown)}")
    series = _scene_series(rng, scene, shape, levels, recipe)
    if exposure_share > 0 and rng.random() < exposure_share:
        if series[0].kind in exposure_kinds:
            series = over_exposed(series, rng)
        else:
            rng.uniform()  # the setting over_exposed would have drawn
    return series


#: Over-exposure of training scenes: brightfield gain (background and pale cells white out) and,
#: in fluorescence, the quantile of the nuclei's pixels that saturates (their tops flatten).
EXPOSURE_GAIN = (1.1, 1.6)
EXPOSURE_NUCLEI_QUANTILE = (0.1, 0.9)


def over_exposed(series, rng: np.random.Generator):
    """One camera setting for a whole defocus series: brightfield a gain drawn from
    :data:`EXPOSURE_GAIN`, fluorescence the clip at a quantile (:data:`EXPOSURE_NUCLEI_QUANTILE`)
    of the nuclei's pixels in the series' sharpest image, at that image's full scale."""
    from dataclasses import replace

    from .._dtypes import integer_full_scale
    from ..synthetic import over_expose

    first = np.asarray(series[0].image)
    top = integer_full_scale(first.dtype, first.max()) if first.dtype.kind in "ui" else 1.0
    if series[0].kind == "brightfield":
        clip = top / float(rng.uniform(*EXPOSURE_GAIN))
    else:
        values = first[series[0].labels > 0]
        values = values.max(axis=-1) if values.ndim == 2 else values
        clip = float(np.quantile(values, rng.uniform(*EXPOSURE_NUCLEI_QUANTILE))) if values.size else top
        clip = min(max(clip, 1.0 if first.dtype.kind in "ui" else 1e-6), top)
    return [replace(s, image=over_expose(s.image, clip, full_scale=top),
                    meta={**s.meta, "exposure_clip": clip, "full_scale": top}) for s in series]


def _scene_series(rng, scene, shape, levels, recipe):
    recipe = scene_recipe(recipe, scene)
    s = int(rng.integers(2**31))
    extra = {}
    if recipe >= 2:
        extra["scale"] = float(np.exp(rng.uniform(np.log(0.75), np.log(1.4))))
    if scene % 2 == 0:
        return smear_series(shape, levels, cell_density=float(rng.uniform(2e-4, 8e-4)),
                            red_cell_density=float(rng.uniform(4e-4, 2e-3)), seed=s, **extra)
    if recipe >= 2:
        extra["elongation"] = float(rng.uniform(0.2, 1.0))
    if recipe >= 3:
        extra.update(brightness=(float(rng.uniform(0.1, 0.5)), 1.0), log_brightness=True,
                     texture_amplitude=float(rng.uniform(0.05, 0.2)),
                     composite="max" if rng.random() < 0.7 else "add",
                     min_gap=float(rng.uniform(0.8, 1.0)), haze=float(rng.uniform(0.0, 0.3)),
                     mitotic=float(rng.uniform(0.0, 0.05)))
    if recipe == 5:
        extra["debris"] = float(rng.uniform(0.0, 1.0))
    if recipe == 6:
        extra["waisted"] = float(rng.uniform(0.15, 0.35))
    if recipe == 4:
        extra.update(chromatin=float(rng.uniform(0.5, 1.0)), irregular=float(rng.uniform(0.0, 0.25)))
    return fluorescence_series(shape, levels, nucleus_density=float(rng.uniform(6e-4, 2e-3)),
                               clustered=float(rng.uniform(0, 0.6)),
                               dtype=np.uint8 if rng.random() < 0.3 else np.uint16,
                               peak=float(rng.uniform(300, 4000)), seed=s, **extra)


def build_detection_dataset(n_scenes: int, levels, *, size: int = 256, crop: int = 128, crops_per_image: int = 2,
                            seed: int = 0, recipe=1, exposure_share: float = 0.0,
                            exposure_kinds=EXPOSURE_KINDS):
    """Synthetic z-series (half brightfield smears in random stains, half fluorescence nuclei):
    every scene at every blur level in ``levels``; ``crops_per_image`` random crops each.
    Returns ``x (N, 3, crop, crop)``, ``y (N, 2, crop, crop)`` (foreground, centre map), ``level``
    and ``group`` (the scene id, for group-aware splits). ``exposure_share``, ``exposure_kinds``:
    see :func:`scene_series`."""
    rng = np.random.default_rng(seed)
    xs, ys, lv_out, groups = [], [], [], []
    for scene in range(n_scenes):
        series = scene_series(rng, scene, (size, size), levels, recipe, exposure_share, exposure_kinds)
        labels = series[0].labels
        target = np.stack([(labels > 0).astype(np.float32), centre_map(labels)])
        for img in series:
            stats = IntensityStats.from_sample(img.image, img.image.dtype)
            add_crops((xs, ys, lv_out, groups), unet_input(img.image, stats), target, img.meta["blur_level"], scene,
                      rng, crop, crops_per_image)
    return (np.stack(xs), np.stack(ys), np.asarray(lv_out, np.float32), np.asarray(groups))


def add_crops(out, x, target, level, group, rng: np.random.Generator, crop: int, n: int) -> None:
    """Append ``n`` random ``crop``-px crops of a square ``(C, S, S)`` input and its target (the same
    window) with their blur level and group to ``out``, the lists ``(xs, ys, levels, groups)``."""
    size = x.shape[-1]
    for _ in range(n):
        oy, ox = rng.integers(0, size - crop + 1, 2)
        out[0].append(x[:, oy:oy + crop, ox:ox + crop])
        out[1].append(target[:, oy:oy + crop, ox:ox + crop])
        out[2].append(level)
        out[3].append(group)


def make_loss(centre_weight: float = 5.0):
    import torch.nn.functional as F

    def loss_fn(out, y):
        fg = F.binary_cross_entropy_with_logits(out[:, 0], y[:, 0])
        centre = F.mse_loss(out[:, 1].sigmoid(), y[:, 1])
        return fg + centre_weight * centre

    return loss_fn


def joint_augment(batch):
    """The same random flips and 90° rotation for the images and their target maps."""
    import torch

    x, y = batch[0], batch[1]
    if torch.rand(()) < 0.5:
        x, y = x.flip(-1), y.flip(-1)
    if torch.rand(()) < 0.5:
        x, y = x.flip(-2), y.flip(-2)
    k = int(torch.randint(0, 4, ()))
    x, y = torch.rot90(x, k, dims=(-2, -1)), torch.rot90(y, k, dims=(-2, -1))
    # brightness/contrast jitter of the input only (staining and exposure vary)
    gain = 1 + 0.2 * (torch.rand(x.shape[0], 1, 1, 1, device=x.device) - 0.5)
    return (x * gain, y, *batch[2:])


def predict_maps(net, x: np.ndarray, device, flips: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Foreground probability and centre map for a ``(3, H, W)`` input (padded to multiples of 16).

    ``flips``: test-time augmentation — the maps are the mean of the network's maps for the
    input and for its left-right, up-down and both-ways mirror images, each mirrored back (one
    batch of 4; each view is padded as a plain input would be, so view 0 is the plain result)."""
    import torch

    from ..models.precision import input_dtype
    from .fusion import mirror_views

    _, h, w = x.shape
    views, axes = mirror_views(x, MULTIPLE, flips)
    with torch.no_grad():
        t = torch.as_tensor(np.stack(views)).to(device=device, dtype=input_dtype(net))
        out = net(t.contiguous(memory_format=torch.channels_last)).float().sigmoid()[:, :, :h, :w].cpu().numpy()
    out = np.mean([np.flip(o, a) if a else o for o, a in zip(out, axes)], axis=0)
    return out[0], out[1]


def evaluate(model, data, device) -> dict:
    """Pixel F1 of the foreground and mean absolute error of the centre map on ``(x, y)`` crops."""
    import torch

    from .metrics import pixel_scores

    x, y = (np.asarray(a.cpu() if hasattr(a, "cpu") else a) for a in data[:2])
    model.eval()
    fgs, cs = [], []
    with torch.no_grad():
        for s in range(0, len(x), 32):
            out = model(torch.as_tensor(x[s:s + 32]).to(device)).sigmoid().cpu().numpy()
            fgs.append(out[:, 0])
            cs.append(out[:, 1])
    fg, c = np.concatenate(fgs), np.concatenate(cs)
    px = pixel_scores(fg[::4, ::2, ::2], y[::4, 0, ::2, ::2])
    return {"pixel_f1": round(px["f1"], 4), "pixel_pr_auc": round(px["pr_auc"], 4),
            "centre_mae": round(float(np.abs(c - y[:, 1]).mean()), 4)}


__all__ = ["add_crops", "build_detection_dataset", "evaluate", "image_stats", "instances_from_maps", "joint_augment",
           "make_loss", "predict_maps", "scene_series", "unet_input"]
