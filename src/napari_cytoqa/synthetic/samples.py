"""The bundled sample images (napari sample data, ``sample_data/``, the quick start)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .degrade import dark_ring, defocus
from .smear import SyntheticImage, make_fluorescence, make_smear


def smear_with_blurry_region(shape=(1024, 1536), *, level: float = 8, seed: int = 0) -> SyntheticImage:
    """A smear whose right part is defocused to ``level``; ``meta['blur_map']`` is the truth."""
    sharp = make_smear(shape, seed=seed, stain="giemsa")
    blurred = defocus(sharp.image, level)
    xx = np.arange(shape[1], dtype=np.float64)
    ramp = np.clip((xx - 0.55 * shape[1]) / (0.1 * shape[1]), 0, 1)  # smooth transition
    mix = np.broadcast_to(ramp, shape)[..., None]
    image = np.rint(sharp.image * (1 - mix) + blurred * mix).astype(np.uint8)
    meta = dict(sharp.meta, blur_map=(np.broadcast_to(ramp, shape) * level).astype(np.float32))
    return SyntheticImage(image, sharp.labels, sharp.classes, sharp.boxes, "brightfield", meta)


def fluorescence_field(shape=(768, 768), *, seed: int = 1) -> SyntheticImage:
    """A 16-bit fluorescence field of nuclei, the lower-left quarter mildly defocused (level 7)."""
    sharp = make_fluorescence(shape, seed=seed)
    blurred = make_fluorescence(shape, seed=seed, blur_level=7)
    image = sharp.image.copy()
    h, w = shape
    image[h // 2:, : w // 2] = blurred.image[h // 2:, : w // 2]
    return SyntheticImage(image, sharp.labels, sharp.classes, sharp.boxes, "fluorescence", sharp.meta)


def pyramid_smear(block: int = 768, reps: int = 4, *, seed: int = 2) -> np.ndarray:
    """A ``block·reps`` square RGB smear built from flipped copies of 4 generated blocks,
    with one blurry block (level 7) so the QC overlay has something to find."""
    blocks = [make_smear((block, block), seed=seed + i).image for i in range(4)]
    blurry = defocus(blocks[0], 7)
    rows = []
    for r in range(reps):
        row = []
        for c in range(reps):
            b = blurry if (r, c) == (1, 2) else blocks[(r * reps + c) % 4]
            row.append(b[::(-1) ** r, ::(-1) ** c])
        rows.append(np.concatenate(row, axis=1))
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def write_sample_data(out="sample_data") -> list[Path]:
    """Write the sample files; returns their paths. Deterministic for a given version."""
    import imageio.v3 as iio
    import tifffile

    from ..io.writer import build_pyramid, write_pyramid

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    smear = smear_with_blurry_region()
    paths.append(out / "smear_blurry_region.jpg")
    iio.imwrite(paths[-1], smear.image, quality=92)
    ring = dark_ring(make_smear((512, 512), seed=5).image, radius=0.42, seed=5)
    paths.append(out / "smear_dark_ring.png")
    iio.imwrite(paths[-1], ring)
    fluo = fluorescence_field()
    paths.append(out / "fluorescence_nuclei.tif")
    tifffile.imwrite(paths[-1], fluo.image, compression="zlib", resolution=(2e4, 2e4),
                     resolutionunit="CENTIMETER")
    paths.append(out / "slide_pyramid.ome.tif")
    write_pyramid(paths[-1], build_pyramid(pyramid_smear()), pixel_size_um=0.5,
                  compression="jpeg", quality=85)
    return paths
