"""Overlay pictures of a :class:`QualityReport` (PNG for reports; no Qt)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

#: RGBA colour of each tile verdict, shared by the PNG overlay and the napari layers.
VERDICT_COLORS = {
    "sharp": (46, 204, 113, 255),
    "blurry": (231, 76, 60, 255),
    "empty": (149, 165, 166, 255),
    "invalid": (142, 68, 173, 255),
}


def preview(levels, max_size: int = 1024) -> tuple[np.ndarray, float]:
    """An 8-bit RGB preview of the smallest pyramid level that is at least ``max_size``
    on its long side (or the largest available), and its downsample from level 0."""
    full = levels[0].shape[:2]
    pick = levels[0]
    for lvl in levels:
        if max(lvl.shape[:2]) >= max_size:
            pick = lvl
    step = max(1, int(np.ceil(max(pick.shape[:2]) / max_size)))
    img = np.asarray(pick[::step, ::step]).astype(np.float64)
    if img.ndim == 3:
        img = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img[..., :1], 3, axis=-1)
    else:
        img = np.repeat(img[..., None], 3, axis=-1)
    finite = img[np.isfinite(img)]
    lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0))
    img = np.clip((np.nan_to_num(img, nan=lo) - lo) / max(hi - lo, 1e-12), 0, 1)
    return (img * 255).astype(np.uint8), full[0] / img.shape[0]


def render_overlay(levels, report, *, max_size: int = 1024, alpha: float = 0.35) -> np.ndarray:
    """RGB picture: the image with each tile tinted and outlined by its verdict, plus a legend."""
    base, down = preview(levels, max_size)
    canvas = Image.fromarray(base).convert("RGBA")
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width = 1 if len(report.tiles) > 400 else 2
    for y0, x0, y1, x1, verdict in report.tiles[["y0", "x0", "y1", "x1", "verdict"]].itertuples(index=False):
        r, g, b, _ = VERDICT_COLORS[verdict]
        box = [x0 / down, y0 / down, x1 / down - 1, y1 / down - 1]
        draw.rectangle(box, fill=(r, g, b, int(255 * alpha)), outline=(r, g, b, 255), width=width)
    out = Image.alpha_composite(canvas, layer)
    legend = ImageDraw.Draw(out)
    text = (f"{report.verdict}  grade {report.grade or '-'}  p_blurry "
            f"{report.p_blurry:.2f}" if np.isfinite(report.p_blurry) else f"{report.verdict}")
    legend.rectangle([0, 0, 8 + 7 * len(text), 18], fill=(0, 0, 0, 180))
    legend.text((4, 3), text, fill=(255, 255, 255, 255))
    y = 22
    legend.rectangle([0, 20, 110, 22 + 14 * len(VERDICT_COLORS)], fill=(255, 255, 255, 200))
    for name, colour in VERDICT_COLORS.items():
        legend.rectangle([4, y, 16, y + 10], fill=colour)
        legend.text((20, y - 1), f"{name} ({report.counts.get(name, 0)})", fill=(0, 0, 0, 255))
        y += 14
    return np.asarray(out.convert("RGB"))
