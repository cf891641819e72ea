"""The learned tile scorer: one forward pass of the quality network answers blur level,
validity and grade for every tile; cheap classical measures decide content and exposure."""
from __future__ import annotations

import numpy as np

from .calibration import GRADES, SHARP_BLURRY_BOUNDARY
from .crops import CROP, tile_crops
from .measures import MIN_CONTENT, IntensityStats, quick_measures_batch, tile_flag, usability

DEFAULT_MODEL = "cytoqa-quality"


def predict(model, x, device, batch_size: int = 256) -> dict:
    """Blur probabilities, validity probabilities and grade probabilities for crops ``x``."""
    import torch

    from ..models.precision import input_dtype

    outs = {"blur": [], "valid": [], "grade": []}
    model.eval()
    dtype = input_dtype(model)
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            xb = torch.as_tensor(np.asarray(x[s:s + batch_size])).to(device=device, dtype=dtype)
            o = {k: v.float() for k, v in model(xb.contiguous(memory_format=torch.channels_last)).items()}
            outs["blur"].append(torch.softmax(o["blur"], 1).cpu().numpy())
            outs["valid"].append(torch.sigmoid(o["valid"]).cpu().numpy())
            outs["grade"].append(torch.softmax(o["grade"], 1).cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in outs.items()}


class LearnedScorer:
    """Scores tiles with a registry model of task ``"quality"`` (see :mod:`napari_cytoqa.models`)."""

    name = "learned"
    #: its ``p_valid`` is a judgement of "cell image or not" (``assess_quality(stain_check=)`` may
    #: overrule its doubt); the classical scorer's is usability only
    judges_cells = True

    def __init__(self, stats: IntensityStats, *, model: str = DEFAULT_MODEL, device: str = "auto",
                 precision: str = "auto"):
        from ..models import get_model
        from ..models.precision import bf16_module, check_precision, resolve_precision
        from .int8 import PRECISIONS, int8_module, use_int8

        self.stats = stats
        self.loaded = get_model(model, device=device)
        if self.loaded.spec.task != "quality":
            raise ValueError(f"model {model!r} is a {self.loaded.spec.task!r} model, not a quality model")
        precision = resolve_precision(check_precision(precision, PRECISIONS), self.loaded.device)
        if precision == "bf16":
            self.module, self.precision = bf16_module(self.loaded), "bf16"
        else:
            quantized = int8_module(self.loaded) if use_int8(precision, self.loaded.device) else None
            self.module = self.loaded.inference_module if quantized is None else quantized
            self.precision = "fp32" if quantized is None else "int8"
        self.n_crops = int(self.loaded.spec.input.get("crops_per_tile", 4))
        self.crop = int(self.loaded.spec.input.get("crop", CROP))

    def score_batch(self, tiles) -> list[dict]:
        crops, weights = [], []
        for tile in tiles:
            c, w = tile_crops(tile, self.stats, n=self.n_crops, crop=self.crop)
            crops.append(c)
            weights.append(np.maximum(w, 1e-3))
        p = predict(self.module, np.concatenate(crops), self.loaded.device)
        out, start = [], 0
        for q, w in zip(quick_measures_batch(tiles, self.stats), weights):
            sl = slice(start, start + len(w))
            start += len(w)
            w = w / w.sum()
            blur = (p["blur"][sl] * w[:, None]).sum(0)
            grade = (p["grade"][sl] * w[:, None]).sum(0)
            out.append(self._row(q, blur, float((p["valid"][sl] * w).sum()), grade))
        return out

    @staticmethod
    def _row(q, blur_probs, p_cell, grade_probs) -> dict:
        level = float((blur_probs * np.arange(len(blur_probs))).sum())
        usable = usability(q["dark"], q["clipped"])
        return {**q, "blur_level": level, "focus": 1.0 - level / 10.0,
                "p_blurry": float(blur_probs[int(np.ceil(SHARP_BLURRY_BOUNDARY)):].sum()),
                "has_content": q["content"] >= MIN_CONTENT, "p_cell": p_cell,
                "p_valid": float(p_cell * usable), "grade": GRADES[int(np.argmax(grade_probs))],
                "flag": tile_flag(q["dark"], q["clipped"])}
