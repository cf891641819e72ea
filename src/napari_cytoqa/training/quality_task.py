"""Losses, augmentation and evaluation of the quality network (used by scripts and the GUI)."""
from __future__ import annotations

import numpy as np

from ..models.architectures import N_BLUR, N_GRADE
from ..quality.learned import predict
from ..synthetic.psf import SHARP_MAX_LEVEL
from .metrics import binary_metrics, multiclass_metrics

SHARP_MAX = SHARP_MAX_LEVEL


def soft_blur_targets(levels, sigma: float = 0.75):
    """Ordinal soft labels: a Gaussian over neighbouring blur levels."""
    import torch

    k = torch.arange(N_BLUR, device=levels.device, dtype=torch.float32)
    t = torch.exp(-((k[None] - levels[:, None].float()) ** 2) / (2 * sigma**2))
    return t / t.sum(1, keepdim=True)


def make_loss(pos_weight: float = 1.0, grade_weight: float = 0.5):
    """Blur (soft-label CE) and grade (CE) on cell samples + weighted BCE validity on all."""
    import torch
    import torch.nn.functional as F

    def loss_fn(out, blur, valid, grade):
        cell = blur >= 0
        pw = torch.tensor(pos_weight, device=valid.device)
        loss = F.binary_cross_entropy_with_logits(out["valid"], valid.float(), pos_weight=pw)
        if cell.any():
            logp = F.log_softmax(out["blur"][cell], dim=1)
            loss = loss - (soft_blur_targets(blur[cell]) * logp).sum(1).mean()
            loss = loss + grade_weight * F.cross_entropy(out["grade"][cell], grade[cell])
        return loss

    return loss_fn


def augment(x):
    """Random flips and 90° rotations of a batch (blur and validity are invariant to them)."""
    import torch

    if torch.rand(()) < 0.5:
        x = x.flip(-1)
    if torch.rand(()) < 0.5:
        x = x.flip(-2)
    return torch.rot90(x, int(torch.randint(0, 4, ())), dims=(-2, -1))


def evaluate(model, data, device) -> dict:
    """Crop-level metrics on ``(x, blur, valid, grade)`` arrays."""
    x, blur, valid, grade = (np.asarray(a.cpu() if hasattr(a, "cpu") else a) for a in data)
    p = predict(model, x, device)
    cell = blur >= 0
    level_pred = p["blur"].argmax(1)
    p_blurry = p["blur"][:, SHARP_MAX + 1:].sum(1)
    sb = binary_metrics(blur[cell] > SHARP_MAX, p_blurry[cell])
    va = binary_metrics(valid, p["valid"])
    return {"blur_exact": float((level_pred[cell] == blur[cell]).mean()),
            "blur_within1": float((np.abs(level_pred[cell] - blur[cell]) <= 1).mean()),
            "sharp_blurry_acc": sb["accuracy"], "sharp_blurry_auc": sb["auc"],
            "valid_acc": va["accuracy"], "valid_auc": va["auc"],
            "grade_acc": multiclass_metrics(grade[cell], p["grade"][cell].argmax(1), N_GRADE)["accuracy"]}
