"""Physical defocus point-spread functions and graded blur levels.

The defocus model is scalar Fourier optics: a circular pupil of numerical
aperture ``na`` with the exact defocus phase ``2π Δz sqrt((n/λ)² − ρ²)``; the
incoherent PSF is the squared modulus of its Fourier transform. Near focus it
is the Airy pattern, far from focus it becomes the geometric blur disk with
diffraction rings, as in a real widefield microscope.

Blur levels follow seed 003 (11 classes after Yang et al.; 0–5 sharp, 6–10
blurry) and its BBBC006 z-series, where neighbouring focal planes are 2 µm
apart: level ``L`` is a defocus of ``L * dz_um`` micrometres.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

#: Defocus between neighbouring blur levels, as the 2 µm z-steps of BBBC006.
DZ_UM = 2.0
#: Optics of the default simulated microscope (10x-20x dry objective, camera
#: sampling 0.5 µm per pixel).
DEFAULT_OPTICS = {"na": 0.25, "pixel_size_um": 0.5, "n_medium": 1.0}
#: Centre wavelengths used for the R, G and B channels of brightfield images.
RGB_WAVELENGTHS_UM = (0.60, 0.54, 0.46)
SHARP_MAX_LEVEL = 5  # levels 0..5 sharp, 6..10 blurry (seed 003)


def level_to_defocus_um(level: float, *, dz_um: float = DZ_UM) -> float:
    """Defocus in µm of blur ``level`` (0 = in focus, 10 = heavy blur)."""
    if not 0 <= level <= 10:
        raise ValueError(f"blur level must lie in [0, 10], got {level}")
    return float(level) * dz_um


def geometric_blur_radius_px(defocus_um: float, *, na: float = 0.25,
                             pixel_size_um: float = 0.5, n_medium: float = 1.0) -> float:
    """Radius of the geometric-optics blur disk, in pixels."""
    return abs(defocus_um) * na / np.sqrt(n_medium**2 - na**2) / pixel_size_um


@lru_cache(maxsize=64)
def defocus_psf(defocus_um: float, *, wavelength_um: float = 0.55, na: float = 0.25,
                pixel_size_um: float = 0.5, n_medium: float = 1.0) -> np.ndarray:
    """Incoherent widefield PSF at ``defocus_um`` from focus, sum normalised to 1.

    Returns a square, odd-sized float64 kernel cropped where its energy ends.
    """
    if na <= 0 or na >= n_medium:
        raise ValueError("numerical aperture must satisfy 0 < na < n_medium")
    r_geo = geometric_blur_radius_px(defocus_um, na=na, pixel_size_um=pixel_size_um,
                                     n_medium=n_medium)
    airy_px = 0.61 * wavelength_um / na / pixel_size_um
    n = int(2 ** np.ceil(np.log2(max(64.0, 4 * r_geo + 8 * airy_px + 16))))
    f = np.fft.fftfreq(n, d=pixel_size_um)
    rho2 = f[:, None] ** 2 + f[None, :] ** 2
    inside = rho2 <= (na / wavelength_um) ** 2
    kz = np.sqrt(np.maximum((n_medium / wavelength_um) ** 2 - rho2, 0.0))
    pupil = np.where(inside, np.exp(2j * np.pi * defocus_um * kz), 0)
    psf = np.abs(np.fft.fftshift(np.fft.ifft2(pupil))) ** 2
    psf /= psf.sum()
    # crop to the smallest centred square holding 99.9% of the energy
    c = n // 2
    yy, xx = np.indices(psf.shape)
    radius = np.maximum(abs(yy - c), abs(xx - c)).ravel()
    order = np.argsort(radius, kind="stable")
    cum = np.cumsum(psf.ravel()[order])
    half = int(radius[order][np.searchsorted(cum, 0.999)]) + 1
    half = min(half, c - 1)
    kernel = psf[c - half:c + half + 1, c - half:c + half + 1]
    return kernel / kernel.sum()


def convolve_same(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """FFT convolution with mirrored borders (no darkening at the image edge)."""
    pad = kernel.shape[0] // 2
    padded = np.pad(plane, pad, mode="reflect" if min(plane.shape) > pad else "edge")
    out = signal.fftconvolve(padded, kernel, mode="same")
    return out[pad:pad + plane.shape[0], pad:pad + plane.shape[1]]
