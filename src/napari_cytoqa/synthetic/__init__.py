"""Synthetic cytology images with ground truth, and degradations of known magnitude."""
from .degrade import add_noise, dark_ring, defocus, jpeg, stain_shift, uneven_illumination
from .psf import SHARP_MAX_LEVEL, defocus_psf, level_to_defocus_um
from .smear import CLASSES, STAIN_STYLES, SyntheticImage, make_fluorescence, make_smear

__all__ = ["CLASSES", "SHARP_MAX_LEVEL", "STAIN_STYLES", "SyntheticImage", "add_noise",
           "dark_ring", "defocus", "defocus_psf", "jpeg", "level_to_defocus_um",
           "make_fluorescence", "make_smear", "stain_shift", "uneven_illumination"]
