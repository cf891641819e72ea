"""Stain transfer: CycleGAN between labs' stains and the classical Macenko / Reinhard normalisers.

``transfer_stain(image, method="cyclegan"|"macenko"|"reinhard", ...)`` returns a new array of the
input's shape and dtype; ``fit_target(reference)`` gives storable target statistics;
``train_cyclegan(images_a, images_b, config)`` trains a new pair of generators (see
:mod:`napari_cytoqa.stain.train`).
"""
from .classical import StainFitWarning, StainTarget, default_target, fit_target
from .colour import StainInputError, delta_e2000
from .train import CycleGANConfig, iter_train_cyclegan, train_cyclegan
from .transfer import METHODS, iter_transfer_stain, transfer_stain

__all__ = ["METHODS", "CycleGANConfig", "StainFitWarning", "StainInputError", "StainTarget", "default_target",
           "delta_e2000", "fit_target", "iter_train_cyclegan", "iter_transfer_stain", "train_cyclegan",
           "transfer_stain"]
