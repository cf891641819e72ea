"""``transfer_stain``: any-size brightfield RGB image in, same shape and dtype out, tile by tile."""
from __future__ import annotations

import numpy as np

from .._generators import run_tiles
from ..quality.assess import pick_level, stats_level
from ..tiling import blend_window, read_tile, tile_grid
from .classical import CLASSICAL, StainTarget, align_stains, default_target, fit_target, macenko_tile_u8
from .colour import FIT_PIXELS, check_rgb, fit_sample, from_unit, scale_of, to_unit

METHODS = ("cyclegan", "macenko", "reinhard")
DEFAULT_MODEL = "cytoqa-stain-he-to-giemsa"
CLASSICAL_TILE = 1024
GAN_TILE, GAN_OVERLAP = 512, 64


def resolve_target(method: str, reference=None, target=None) -> StainTarget:
    """The target statistics from a :class:`StainTarget` (or its JSON text/path), a reference image
    (array or napari layer), or — Macenko only — the customary H&E default."""
    if target is not None and reference is not None:
        raise ValueError("give either a reference image or target statistics, not both")
    if target is not None:
        return target if isinstance(target, StainTarget) else StainTarget.from_json(target)
    if reference is not None:
        ref = reference if hasattr(reference, "shape") else getattr(reference, "data", reference)
        if isinstance(ref, (list, tuple)):  # multiscale: the smallest level that is not tiny
            ref = next((lv for lv in reversed(ref) if min(lv.shape[:2]) >= 256), ref[0])
        return fit_target(ref)
    if method == "reinhard":
        raise ValueError("Reinhard normalisation needs a reference image or stored target statistics")
    return default_target()


def _classical(arr, method, tgt, scale, tile, fit_on):
    source = fit_target(fit_on)
    if method == "macenko":
        source = align_stains(source, tgt)
    fn = CLASSICAL[method]
    fast = method == "macenko" and np.dtype(arr.dtype) == np.uint8
    grid = tile_grid(arr.shape[:2], (min(tile, arr.shape[0]), min(tile, arr.shape[1])), edge="pad")
    out = np.empty(arr.shape, dtype=arr.dtype)
    yield len(grid)
    for box in grid.boxes:
        y0, x0, y1, x1 = (int(v) for v in box)
        t = np.asarray(read_tile(arr, box))
        rgb = macenko_tile_u8(t, source, tgt) if fast else fn(to_unit(t, scale), source, tgt)
        out[y0:y1, x0:x1] = from_unit(rgb, t, scale)
        yield 1
    return out


def _pad4(x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    h, w = x.shape[:2]
    ph, pw = (-h) % 4, (-w) % 4
    if ph or pw:
        x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
    return x, (h, w)


def _cyclegan(arr, loaded, scale, tile, overlap, batch_size, precision="fp32"):
    import torch

    from ..models.precision import input_dtype, module_for

    h, w = arr.shape[:2]
    tile = (min(tile, h), min(tile, w))
    overlap = (min(overlap, tile[0] // 4), min(overlap, tile[1] // 4))
    grid = tile_grid((h, w), tile, stride=(tile[0] - overlap[0], tile[1] - overlap[1]), edge="shift")
    window = blend_window(tile, overlap).astype(np.float32)
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w), np.float32)
    net, _ = module_for(loaded, precision)  # batch norms folded, channels-last; bfloat16 if asked
    device, dtype = loaded.device, input_dtype(net)
    yield len(grid)
    for start in range(0, len(grid), batch_size):
        boxes = grid.boxes[start:start + batch_size]
        tiles = [to_unit(np.asarray(read_tile(arr, b)), scale).astype(np.float32) for b in boxes]
        padded = [_pad4(t) for t in tiles]
        x = torch.as_tensor(np.stack([p[0] for p in padded]).transpose(0, 3, 1, 2) * 2 - 1).to(device=device,
                                                                                                dtype=dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            y = ((net(x).float() + 1) / 2).clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
        for box, out, (_, (th, tw)) in zip(boxes, y, padded):
            y0, x0, y1, x1 = (int(v) for v in box)
            win = window[:th, :tw]
            acc[y0:y1, x0:x1] += out[:th, :tw] * win[..., None]
            wsum[y0:y1, x0:x1] += win
        yield len(boxes)
    rgb = acc / np.maximum(wsum, 1e-12)[..., None]
    out = np.empty(arr.shape, dtype=arr.dtype)
    for y0 in range(0, h, 2048):  # restore dtype in strips (bounded temporaries)
        part = np.asarray(arr[y0:y0 + 2048])
        out[y0:y0 + 2048] = from_unit(rgb[y0:y0 + 2048], part, scale)
    return out


def iter_transfer_stain(image, *, method: str = "cyclegan", model: str | None = None, checkpoint=None,
                        reference=None, target=None, level: int = 0, tile_size: int | None = None,
                        overlap: int | None = None, device: str = "auto", batch_size: int = 4,
                        precision: str = "fp32"):
    """Generator twin of :func:`transfer_stain`: yields ``(done, total)`` tiles and returns the array."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    from ..models.precision import check_precision

    check_precision(precision)  # before any work, also for the classical methods that ignore it
    levels, arr = pick_level(image, level)
    check_rgb(arr)
    fit_on = stats_level(levels, level, FIT_PIXELS)  # image-wide statistics without reading all of level
    scale = scale_of(arr.dtype, fit_sample(fit_on, 250_000))
    if method == "cyclegan":
        from ..models import get_model

        if reference is not None or target is not None:
            raise ValueError("a CycleGAN carries its target stain in its weights; reference/target are "
                             "for the classical methods")
        loaded = get_model(model or DEFAULT_MODEL, device=device, checkpoint=checkpoint)
        if loaded.spec.task != "stain":
            raise ValueError(f"model {loaded.spec.name!r} is a {loaded.spec.task!r} model, not a stain model")
        work = _cyclegan(arr, loaded, scale, tile_size or GAN_TILE, GAN_OVERLAP if overlap is None else overlap,
                         batch_size, precision)
    else:
        if model is not None:
            raise ValueError(f"{method} needs no model; pass reference= or target=")
        work = _classical(arr, method, resolve_target(method, reference, target), scale,
                          tile_size or CLASSICAL_TILE, fit_on)
    total, done = next(work), 0
    yield 0, total
    try:
        while True:
            done += next(work)
            yield done, total
    except StopIteration as stop:
        return stop.value


def transfer_stain(image, *, method: str = "cyclegan", model: str | None = None, checkpoint=None,
                   reference=None, target=None, level: int = 0, tile_size: int | None = None,
                   overlap: int | None = None, device: str = "auto", precision: str = "fp32", progress=None,
                   cancel=None) -> np.ndarray:
    """Re-stain a brightfield RGB(A) image; returns a new array of the same shape and dtype.

    Parameters
    ----------
    image : array-like (Y, X, 3|4), list of arrays (pyramid) or Slide
        uint8/uint16/float; alpha is passed through; the input is never modified.
    method : {"cyclegan", "macenko", "reinhard"}
        ``"cyclegan"`` runs a registry model of task ``"stain"`` over overlapping tiles with
        feathered blending; the classical methods fit the image's stains once (on a strided
        sample of the whole image) and normalise to ``reference`` or ``target``.
    model, checkpoint : str, optional
        CycleGAN registry name/alias (default ``"cytoqa-stain-he-to-giemsa"``) and one of its
        epoch checkpoints (``spec.checkpoints``; default: the shipped choice).
    reference : array or napari Image layer, optional
        Image whose stain look is the target (classical methods).
    target : StainTarget, JSON text or path, optional
        Stored target statistics instead of a reference image. Without either, Macenko
        normalises to the customary H&E reference; Reinhard needs one of them.
    level : int
        Pyramid level to transfer.
    tile_size, overlap : int, optional
        Tile side (CycleGAN 512 with 64 px overlap; classical 1024, no overlap needed).
    precision : {"fp32", "bf16", "auto"}
        Number format of the CycleGAN (ignored by the classical methods): ``"bf16"`` runs the
        generator in bfloat16, ~3× faster on CPUs with native bfloat16 (Intel AMX /
        AVX512-BF16) and within a few grey levels of float32 (docs/stain-transfer.md);
        ``"auto"`` picks it only on such CPUs. Default float32.
    progress, cancel : callables, optional
        ``progress(done, total)`` after each batch; ``cancel()`` polled between batches
        (raises :class:`~napari_cytoqa.quality.assess.Cancelled`).
    """
    gen = iter_transfer_stain(image, method=method, model=model, checkpoint=checkpoint, reference=reference,
                              target=target, level=level, tile_size=tile_size, overlap=overlap, device=device,
                              precision=precision)
    return run_tiles(gen, progress=progress, cancel=cancel, what="stain transfer")
