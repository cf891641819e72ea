"""Stain transfer: CycleGAN between labs' stains and the classical Macenko / Reinhard normalisers."""
from .classical import StainFitWarning, StainTarget, default_target, fit_target
from .colour import StainInputError, delta_e2000

__all__ = ["StainFitWarning", "StainInputError", "StainTarget", "default_target", "delta_e2000", "fit_target"]
