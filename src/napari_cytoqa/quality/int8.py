"""8-bit CPU inference for quality networks (post-training static quantization), GUI-free.

Opt-in (``assess_quality(..., precision="int8")``, ``cytoqa qc --precision int8``): on the
CPU the quality network is about half of a learned assessment's time and int8 convolutions
run it 3–4× faster, at a small accuracy cost (docs/benchmarks.md: 94.5 % vs 95.1 % on the
held-out real-microscopy test), so it is not the default (float32, or bfloat16 where the CPU
has it natively: :mod:`napari_cytoqa.models.precision`, same accuracy as float32). The
quantized copy is built once per model and process (~5 s: calibration crops and
conversion) with torch's eager-mode quantization: conv-BN-ReLU blocks fused, weights per channel, activation ranges observed on a
fixed, seeded set of synthetic training-style crops (never user data, so the result does not
depend on which image came first). Anything that cannot be quantized (another architecture,
a torch without a quantized engine) falls back to float32 with a log line.
Agreement with float32 is measured in docs/benchmarks.md and tested.
"""
from __future__ import annotations

import copy
import logging
import warnings

log = logging.getLogger(__name__)

#: the calibration crops: ``build_quality_dataset(**CALIBRATION)`` (~100 crops, ~2 s)
CALIBRATION = {"n_sources": 4, "n_non_cell": 8, "seed": 20261122}
#: the learned scorer's precisions: "auto" is "bf16" (:mod:`napari_cytoqa.models.precision`)
#: on a CPU that computes in bfloat16 natively, else "fp32"
PRECISIONS = ("auto", "fp32", "bf16", "int8")
_CACHE: dict = {}


def engine() -> str | None:
    """torch's quantized engine when it has one this qconfig can target, else None."""
    import torch

    name = torch.backends.quantized.engine
    return name if name in ("x86", "fbgemm", "qnnpack", "onednn") else None


def use_int8(precision: str, device: str) -> bool:
    """Whether a model on ``device`` runs in int8 for ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and device != "cpu":
        raise ValueError(f"int8 inference runs on the CPU only (device {device!r}); use precision='fp32'")
    return precision == "int8"


def _quantizable(module) -> bool:
    """A :class:`~napari_cytoqa.models.architectures.QualityNet` layout: ``features`` of
    conv-BN-ReLU blocks (then pooling and flattening) and ``heads``."""
    import torch.nn as nn

    features = getattr(module, "features", None)
    if not isinstance(features, nn.Sequential) or not hasattr(module, "heads"):
        return False
    return all(isinstance(b, (nn.AdaptiveAvgPool2d, nn.Flatten)) or (
        isinstance(b, nn.Sequential) and [type(m) for m in b] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU])
        for b in features)


def calibration_crops(crop: int):
    from ..training.quality_data import build_quality_dataset

    return build_quality_dataset(**CALIBRATION, crop=crop).x


def quantize(module, crop: int):
    """An int8 copy of a quality ``module`` (dict outputs blur/valid/grade), calibrated.

    Eager-mode quantization: each conv-BN-ReLU block fused into one int8 convolution, the
    small heads kept in float32. (FX graph mode traces through ``torch._dynamo``, which loads
    triton's LLVM; inside napari next to Mesa's LLVM that crashed the process.)"""
    import torch
    import torch.nn as nn
    from torch.ao import quantization as tq

    if not _quantizable(module):
        raise TypeError(f"{type(module).__name__} is not a conv-BN-ReLU feature stack with heads")

    class Quantized(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.features, self.heads = net.features, net.heads

        def forward(self, x):
            return self.heads(self.dequant(self.features(self.quant(x))))

    net = Quantized(copy.deepcopy(module).cpu().eval()).eval()
    for block in net.features:
        if isinstance(block, nn.Sequential):
            tq.fuse_modules(block, [["0", "1", "2"]], inplace=True)
    net.qconfig = tq.get_default_qconfig(engine())
    net.heads.qconfig = None
    x = torch.as_tensor(calibration_crops(crop)).float()
    with warnings.catch_warnings():  # eager quantization announces its move to torchao
        warnings.simplefilter("ignore")
        tq.prepare(net, inplace=True)
        with torch.no_grad():
            net(x)
        tq.convert(net, inplace=True)
    return net


def int8_module(loaded):
    """The int8 copy of a loaded quality model (built once per model and weights), or None
    when it cannot be quantized here."""
    key = (loaded.spec.name, loaded.spec.sha256, id(loaded.module))
    if key not in _CACHE:
        try:
            _CACHE[key] = quantize(loaded.module, int(loaded.spec.input.get("crop", 96)))
        except Exception as err:  # noqa: BLE001 - any failure: float32 is always right
            log.warning("int8 quantization of %s failed (%s); running float32", loaded.spec.name, err)
            _CACHE[key] = None
    return _CACHE[key]
