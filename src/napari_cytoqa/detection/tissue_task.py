"""Training data for a detector of nuclei in stained tissue, seen through the hematoxylin channel.

The shipped detectors learned cells on glass and fluorescence nuclei; on real H&E sections they
found almost nothing, and even through the hematoxylin channel (``detect_cells(stain=...)``,
:mod:`.stain_input`) they took collagen streaks for nuclei (docs/detection.md). This module
makes the data a tissue model learns from: synthetic H&E (and some IHC) sections
(``synthetic.tissue.tissue_series``, most with collagen bundles, regional density and
epithelium-like zones) at every blur level, rendered exactly as ``detect_cells`` renders a stained
section — :class:`.stain_input.HematoxylinInput` fitted on the whole scene, smoothed over a sixth of
the scene's median nucleus diameter — then scaled by the detectors' own image statistics
(:func:`.unet_task.image_stats`) into the U-Net's input. Nuclei are drawn around the detectors'
16-px reference diameter (magnification log-uniform in :data:`TISSUE_SCALE`), as ``detect_cells``
rescales every image to that size.
"""
from __future__ import annotations

import numpy as np

from ..synthetic.tissue import tissue_series
from .instances import fill_label_holes
from .size import equivalent_diameters
from .stain_input import SMOOTH_DIAMETERS, HematoxylinInput
from .unet import centre_map
from .unet_task import add_crops, image_stats, unet_input

#: magnification of the synthetic sections, log-uniform: median nucleus diameters about 12-22 px
TISSUE_SCALE = (1.0, 1.9)
#: shares of the scenes: IHC (hematoxylin counterstain and DAB), and H&E with tissue architecture
#: (collagen bundles, regional density, epithelium); the rest plain H&E (fibres, scattered nuclei)
IHC_SHARE, ARCHITECTURE_SHARE = 0.15, 0.65
#: stain colour drift and stroma's hematoxylin uptake (``tissue_series``), uniform: both put
#: stroma into the hematoxylin channel as real sections do (fibre streaks the detectors must ignore)
STAIN_JITTER, STROMA_HEMATOXYLIN = (0.05, 0.2), (0.0, 0.35)
#: chromatin texture strength of the nuclei where asked for (``tissue_series``; about half of them
#: vesicular), uniform. The shipped tissue U-Net was trained without it: with it, it did no better on
#: the development fields (docs/detection.md, *A U-Net for stained tissue*)
CHROMATIN = (0.3, 1.0)
#: nuclei per pixel at scale 1 (``tissue_series`` doubles it with architecture), log-uniform
DENSITY = (5e-4, 2.5e-3)


def tissue_scene(rng: np.random.Generator, shape, levels, chromatin: bool = False):
    """One synthetic stained section at every blur level in ``levels`` (``tissue_series``);
    ``chromatin``: textured, partly vesicular nuclei (strength uniform in :data:`CHROMATIN`)."""
    kind = rng.random()
    ihc = kind < IHC_SHARE
    architecture = kind < IHC_SHARE + ARCHITECTURE_SHARE  # IHC sections too
    scale = float(np.exp(rng.uniform(*np.log(TISSUE_SCALE))))
    density = float(np.exp(rng.uniform(*np.log(DENSITY))))
    return tissue_series(shape, levels, nucleus_density=density, scale=scale, noise=float(rng.uniform(0.005, 0.03)),
                         ihc=ihc, architecture=architecture, stain_jitter=float(rng.uniform(*STAIN_JITTER)),
                         stroma_hematoxylin=float(rng.uniform(*STROMA_HEMATOXYLIN)),
                         **({"chromatin": float(rng.uniform(*CHROMATIN))} if chromatin else {}),
                         seed=int(rng.integers(2**31)))


def tissue_input(image: np.ndarray, diameter: float) -> np.ndarray:
    """``(3, H, W)`` U-Net input of a whole 8-bit RGB section, as ``detect_cells(stain="hematoxylin")``
    prepares it: the hematoxylin rendering, then the detectors' statistics of that rendering."""
    render = HematoxylinInput(image, 255.0, sigma=SMOOTH_DIAMETERS * float(diameter))
    h = render(image)
    return unet_input(h, image_stats(h)[1])


def build_tissue_dataset(n_scenes: int, levels, *, size: int = 256, crop: int = 128, crops_per_image: int = 2,
                         seed: int = 0, chromatin: bool = False):
    """Like :func:`.unet_task.build_detection_dataset` (same outputs: ``x``, ``y`` foreground and
    centre map, ``level``, ``group``), from synthetic stained sections seen through the
    hematoxylin channel (``chromatin``: see :func:`tissue_scene`)."""
    rng = np.random.default_rng(seed)
    xs, ys, lv_out, groups = [], [], [], []
    for scene in range(n_scenes):
        series = tissue_scene(rng, (size, size), levels, chromatin)
        labels = series[0].labels
        if labels.max() == 0:
            continue
        labels = fill_label_holes(labels)  # textured nuclei leave holes in the generator's masks
        diameter = float(np.median(equivalent_diameters(labels)))
        target = np.stack([(labels > 0).astype(np.float32), centre_map(labels)])
        for img in series:
            add_crops((xs, ys, lv_out, groups), tissue_input(img.image, diameter), target, img.meta["blur_level"],
                      scene, rng, crop, crops_per_image)
    return np.stack(xs), np.stack(ys), np.asarray(lv_out, np.float32), np.asarray(groups)
