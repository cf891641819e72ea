"""Images that are *not* cell microscopy, for the validity check (seed 000's negatives).

Seed 000 drew its non-cell class from ImageNet classes that look most like cytology
(jellyfish, bubbles, cauliflower, Petri dish, nematodes, velvet, jigsaw puzzles…). We cannot
download them, so we make their look-alikes plus generic non-microscopy content: textures,
text, cartoons of shapes, gradients, blank slides, noise, bubbles, jellyfish-like shapes,
worm-like curves, fabric weaves and checkerboards. ``photo_crops`` adds crops of the photos
and rasters matplotlib ships, when matplotlib is installed.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

KINDS = ("noise", "texture", "text", "shapes", "gradient", "blank", "bubbles", "jellyfish",
         "worms", "weave", "checker", "cauliflower")


def _colour(rng, dark=False):
    base = rng.uniform(0, 0.5 if dark else 1.0, 3)
    return tuple(int(v * 255) for v in base)


def _canvas(shape, rng, colour=None):
    return Image.new("RGB", (shape[1], shape[0]), colour or _colour(rng))


def _noise(shape, rng):
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8) if rng.random() < 0.5 else \
        np.repeat(rng.integers(0, 256, (*shape, 1), dtype=np.uint8), 3, axis=2)


def _texture(shape, rng):
    sigma = rng.uniform(1, 12)
    field = ndi.gaussian_filter(rng.normal(0, 1, (*shape, 3)), (sigma, sigma, 0))
    field = (field - field.min()) / (np.ptp(field) + 1e-9)
    if rng.random() < 0.5:
        field = field.mean(-1, keepdims=True).repeat(3, -1) * rng.uniform(0.3, 1, 3)
    return (field * 255).astype(np.uint8)


def _text(shape, rng):
    img = _canvas(shape, rng, _colour(rng) if rng.random() < 0.3 else (245, 245, 240))
    draw = ImageDraw.Draw(img)
    size = int(rng.uniform(10, 40))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:
        font = ImageFont.load_default()
    letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,;"
    for y in range(0, shape[0], size + 4):
        line = "".join(rng.choice(list(letters), int(shape[1] / size * 1.5)))
        draw.text((int(rng.uniform(-10, 10)), y), line, fill=_colour(rng, dark=True), font=font)
    return np.asarray(img)


def _shapes(shape, rng):
    img = _canvas(shape, rng)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 25))):
        x0, y0 = rng.uniform(-50, shape[1]), rng.uniform(-50, shape[0])
        w, h = rng.uniform(10, shape[1] / 2, 2)
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=_colour(rng))
        elif kind == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=_colour(rng))
        else:
            pts = [(x0 + rng.uniform(0, w), y0 + rng.uniform(0, h)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=_colour(rng))
    return np.asarray(img)


def _gradient(shape, rng):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    a, b = _colour(rng), _colour(rng)
    t = np.clip(rng.uniform(-1, 1) * yy + rng.uniform(-1, 1) * xx + rng.uniform(0, 0.5), 0, 1)[..., None]
    return (np.array(a) * (1 - t) + np.array(b) * t).astype(np.uint8)


def _blank(shape, rng):
    level = rng.uniform(0.05, 0.98) * 255
    tint = rng.uniform(0.9, 1.0, 3)
    img = level * tint + rng.normal(0, rng.uniform(0, 4), (*shape, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _bubbles(shape, rng):
    light = rng.random() < 0.7
    img = _canvas(shape, rng, (230, 232, 235) if light else (20, 30, 60))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 30))):
        r = rng.uniform(8, shape[0] / 4)
        cx, cy = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        rim = _colour(rng, dark=light)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=rim, width=int(rng.integers(1, 5)))
        hr = r * 0.25
        draw.ellipse([cx - r * 0.5 - hr, cy - r * 0.5 - hr, cx - r * 0.5 + hr, cy - r * 0.5 + hr],
                     fill=(250, 250, 250))
    return np.asarray(img)


def _jellyfish(shape, rng):
    img = _canvas(shape, rng, (int(rng.uniform(0, 40)), int(rng.uniform(20, 80)), int(rng.uniform(60, 140))))
    draw = ImageDraw.Draw(img, "RGBA")
    for _ in range(int(rng.integers(1, 5))):
        r = rng.uniform(20, shape[0] / 3)
        cx, cy = rng.uniform(0, shape[1]), rng.uniform(0, shape[0] * 0.7)
        col = tuple(int(v) for v in rng.uniform(150, 255, 3)) + (int(rng.uniform(90, 200)),)
        draw.pieslice([cx - r, cy - r, cx + r, cy + r], 180, 360, fill=col)
        for k in range(int(rng.integers(4, 12))):
            x = cx - r + 2 * r * k / 10
            pts = [(x + 8 * np.sin(t / 6 + k), cy + t) for t in np.linspace(0, r * 2, 20)]
            draw.line(pts, fill=col, width=2)
    return np.asarray(img)


def _worms(shape, rng):
    img = _canvas(shape, rng, (225, 225, 215) if rng.random() < 0.6 else _colour(rng))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 8))):
        x, y = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        angle, pts = rng.uniform(0, 2 * np.pi), []
        for _ in range(40):
            angle += rng.normal(0, 0.3)
            x, y = x + 5 * np.cos(angle), y + 5 * np.sin(angle)
            pts.append((x, y))
        draw.line(pts, fill=_colour(rng, dark=True), width=int(rng.integers(3, 10)))
    return np.asarray(img)


def _weave(shape, rng):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    period = rng.uniform(3, 15)
    angle = rng.uniform(0, np.pi)
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    pattern = 0.5 + 0.25 * np.sin(2 * np.pi * u / period) * np.sign(np.sin(2 * np.pi * v / period))
    pattern += ndi.gaussian_filter(rng.normal(0, 0.15, shape), 1)
    colour = rng.uniform(0.2, 1.0, 3)
    return np.clip(pattern[..., None] * colour * 255, 0, 255).astype(np.uint8)


def _checker(shape, rng):
    size = int(rng.integers(6, 60))
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    board = ((yy // size + xx // size) % 2).astype(bool)
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    return np.where(board[..., None], a, b).astype(np.uint8)


def _cauliflower(shape, rng):
    img = np.full((*shape, 3), rng.uniform(20, 80), dtype=np.float64)
    base = rng.uniform(180, 250, 3)
    for _ in range(int(rng.integers(40, 200))):
        r = rng.uniform(4, 25)
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        yy, xx = np.ogrid[0:shape[0], 0:shape[1]]
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        bump = np.clip(1 - d / r, 0, 1) ** 0.5
        img = np.maximum(img, bump[..., None] * base * rng.uniform(0.7, 1.0))
    return img.astype(np.uint8)


_MAKERS = {"noise": _noise, "texture": _texture, "text": _text, "shapes": _shapes,
           "gradient": _gradient, "blank": _blank, "bubbles": _bubbles, "jellyfish": _jellyfish,
           "worms": _worms, "weave": _weave, "checker": _checker, "cauliflower": _cauliflower}


def make_non_cell(shape=(256, 256), *, kind: str | None = None, seed=None) -> np.ndarray:
    """An 8-bit RGB non-microscopy image of ``kind`` (random kind if None)."""
    rng = np.random.default_rng(seed)
    kind = kind or str(rng.choice(KINDS))
    if kind not in _MAKERS:
        raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")
    img = _MAKERS[kind](tuple(shape), rng)
    if rng.random() < 0.3:  # some are out of focus too
        img = ndi.gaussian_filter(img.astype(float), (rng.uniform(1, 4),) * 2 + (0,)).astype(np.uint8)
    return np.ascontiguousarray(img)


def photo_crops(shape=(256, 256), *, n: int = 20, seed=None) -> list[np.ndarray]:
    """Random crops of the photos and rasters matplotlib ships (empty if matplotlib is absent)."""
    try:
        import matplotlib
        from matplotlib import cbook
    except ImportError:
        return []
    rng = np.random.default_rng(seed)
    sources = []
    for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"):
        try:
            with cbook.get_sample_data(name) as fh:
                sources.append(np.asarray(Image.open(fh).convert("RGB")))
        except (OSError, ValueError):
            continue
    for name in ("jacksboro_fault_dem.npz", "topobathy.npz"):
        try:
            data = cbook.get_sample_data(name)  # an NpzFile already
            z = data[data.files[0]].astype(float)
            z = (z - z.min()) / (np.ptp(z) + 1e-9)
            cmap = matplotlib.colormaps[str(rng.choice(["terrain", "viridis", "gist_earth"]))]
            sources.append((cmap(z)[..., :3] * 255).astype(np.uint8))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    out = []
    for _ in range(n if sources else 0):
        src = sources[int(rng.integers(len(sources)))]
        zoom = rng.uniform(0.5, 2.0)
        h, w = int(shape[0] / zoom), int(shape[1] / zoom)
        if src.shape[0] <= h or src.shape[1] <= w:
            h, w = min(h, src.shape[0] - 1), min(w, src.shape[1] - 1)
        y, x = int(rng.integers(0, src.shape[0] - h)), int(rng.integers(0, src.shape[1] - w))
        crop = Image.fromarray(src[y:y + h, x:x + w]).resize((shape[1], shape[0]), Image.BILINEAR)
        out.append(np.asarray(crop))
    return out
