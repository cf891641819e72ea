"""Knowledge distillation of the quality network: a small student learns a large teacher's outputs.

"Consistent teaching" (Beyer et al., CVPR 2022, *Knowledge distillation: a good teacher is
patient and consistent*): teacher and student see the same augmented crop, and mixed-up crops
(which have no true label) are labelled by the teacher alone — the student learns the teacher's
function, not only its answers on the training set. Used by ``scripts/train_quality.py
--teacher``; the engine itself is unchanged (the teacher rides inside the model's forward pass).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..quality.crops import MIN_STD

KEYS = ("blur", "valid", "grade")


class Distiller(nn.Module):
    """The student's outputs plus a frozen teacher's (as ``teacher_<key>``) in one forward pass.

    The teacher is held outside the module tree, so it is not trained, not switched to training
    mode, not in ``state_dict()`` and not moved by ``.to()``: pass it on the training device, in
    the number format it should run in (e.g. :func:`..models.precision.module_for`); inputs are
    cast to it.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module):
        from ..models.precision import input_dtype

        super().__init__()
        self.student = student
        self._teacher = (teacher.eval().requires_grad_(False),)
        self.teacher_dtype = input_dtype(teacher)

    def forward(self, x):
        out = dict(self.student(x))
        with torch.no_grad():
            t = self._teacher[0](x.to(self.teacher_dtype))
        out.update({f"teacher_{k}": t[k].detach().float() for k in KEYS})
        return out


def _standardise(x):
    """Per crop: channel means removed, divided by the crop's std (as at inference)."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x / x.flatten(1).std(dim=1).clamp_min(MIN_STD)[:, None, None, None]


def mixup(p: float = 0.5, alpha: float = 1.0):
    """A ``joint_augment`` that, with probability ``p`` per batch, replaces every crop by a
    mixture with another crop of the batch (weight ~ Beta(alpha, alpha)), re-standardised; mixed
    crops lose their labels (blur/grade -1, validity -1), so only the teacher teaches on them."""
    beta = torch.distributions.Beta(alpha, alpha)

    def joint(batch):
        x, blur, valid, grade = batch
        if p <= 0 or float(torch.rand(())) >= p:
            return batch
        lam = beta.sample((len(x), 1, 1, 1)).to(x.device)
        mixed = _standardise(lam * x + (1 - lam) * x[torch.randperm(len(x), device=x.device)])
        return (mixed, torch.full_like(blur, -1), torch.full_like(valid, -1.0),
                torch.full_like(grade, -1))

    return joint


def make_distill_loss(hard_loss, *, pos_weight: float = 1.0, temperature: float = 2.0,
                      weight: float = 1.0, grade_weight: float = 0.5, heads=KEYS):
    """``hard_loss`` on labelled crops plus ``weight`` × the distillation terms on every crop.

    Blur level and grade: KL divergence from the teacher's softened distribution (temperature
    T, scaled by T²), weighted per crop by the teacher's belief that it is a cell image (its
    blur/grade heads were trained on cell crops only). Validity: binary cross-entropy against the
    teacher's probability, with the hard loss's ``pos_weight``. ``heads`` names the outputs the
    teacher teaches (e.g. ``("valid",)`` anchors validity to the teacher while blur level and
    grade learn from the labels alone).
    """
    unknown = set(heads) - set(KEYS)
    if unknown or not heads:
        raise ValueError(f"heads must be a non-empty subset of {KEYS}, got {tuple(heads)}")

    def loss_fn(out, blur, valid, grade):
        known = valid >= 0
        loss = out["valid"].new_zeros(())
        if known.any():
            loss = loss + hard_loss({k: out[k][known] for k in KEYS}, blur[known], valid[known],
                                    grade[known])
        t_valid = torch.sigmoid(out["teacher_valid"])
        kd = out["valid"].new_zeros(())
        if "valid" in heads:
            kd = kd + F.binary_cross_entropy_with_logits(out["valid"], t_valid,
                                                         pos_weight=torch.tensor(pos_weight, device=valid.device))
        for key, w in (("blur", 1.0), ("grade", grade_weight)):
            if key not in heads:
                continue
            t = F.softmax(out[f"teacher_{key}"] / temperature, dim=1)
            log_s = F.log_softmax(out[key] / temperature, dim=1)
            kl = (t * (torch.log(t.clamp_min(1e-8)) - log_s)).sum(1)
            kd = kd + w * temperature**2 * (t_valid * kl).sum() / t_valid.sum().clamp_min(1e-6)
        return loss + weight * kd

    return loss_fn
