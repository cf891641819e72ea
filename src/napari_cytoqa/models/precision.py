"""bfloat16 inference for the quality and detection networks, GUI-free.

``precision="bf16"``: a copy of a model's inference module (batch norms folded, channels-last)
with its weights in bfloat16; inputs are cast on the way in (:func:`input_dtype`) and the
outputs back to float32 before any softmax or sigmoid. On CPUs with native bfloat16 (Intel AMX
or AVX512-BF16) oneDNN runs the networks about twice as fast as in float32; elsewhere bfloat16
is emulated (not measured here, expected slower), which is why ``"auto"`` asks
:func:`native_bf16` first. bfloat16 keeps float32's exponent range, so unlike int8 nothing
needs calibrating. Where it is the default (the quality network) and where it is opt-in (the
detectors), with the held-out figures that decided it: docs/benchmarks.md, docs/detection.md.
"""
from __future__ import annotations

_CACHE: dict = {}
#: number formats of the float networks (the quality network also has "int8": quality.int8)
FLOAT_PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str, allowed=FLOAT_PRECISIONS) -> str:
    """``precision`` if it is one of ``allowed``, else a clear ``ValueError``."""
    if precision not in allowed:
        raise ValueError(f"precision must be one of {tuple(allowed)}, got {precision!r}")
    return precision


def native_bf16(device: str = "cpu") -> bool:
    """Whether ``device`` computes in bfloat16 natively (CPU: AMX or AVX512-BF16; CUDA:
    ``torch.cuda.is_bf16_supported()``)."""
    import torch

    if str(device).startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if str(device) != "cpu":
        return False
    try:  # private helpers; absent or failing on other builds means "don't know": no
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except Exception:  # noqa: BLE001
        return False


def resolve_precision(precision: str, device: str) -> str:
    """The precision ``precision`` stands for on ``device``: ``"auto"`` → ``"bf16"`` on a CPU
    with native bfloat16 (same held-out accuracy as float32, ~1.2× faster per image here), else
    ``"fp32"``; anything else is returned as it is."""
    if precision == "auto":
        return "bf16" if str(device) == "cpu" and native_bf16("cpu") else "fp32"
    return precision


def bf16_module(loaded):
    """The bfloat16 copy of a loaded model's inference module (built once per model)."""
    import copy

    import torch

    key = (loaded.spec.name, loaded.spec.sha256, id(loaded.module), str(loaded.device))
    if key not in _CACHE:
        net = copy.deepcopy(loaded.inference_module).to(torch.bfloat16).eval()
        head = getattr(net, "model", None)
        if loaded.spec.architecture == "yolo" and head is not None:
            # the detection head decodes boxes in pixels: bfloat16's 8-bit mantissa would round
            # a coordinate near 500 px to 2-4 px, so the head stays float32
            head = head[-1].float()
            head.register_forward_pre_hook(lambda _m, args: tuple(
                [t.float() for t in a] if isinstance(a, (list, tuple)) else a.float() for a in args))
        _CACHE[key] = net
    return _CACHE[key]


def module_for(loaded, precision: str = "auto"):
    """``(module, precision used)``: the bfloat16 copy where ``precision`` resolves to
    ``"bf16"`` on the model's device, else the float32 inference module."""
    if resolve_precision(check_precision(precision), loaded.device) == "bf16":
        return bf16_module(loaded), "bf16"
    return loaded.inference_module, "fp32"


def input_dtype(module):
    """The dtype a module's input must have: bfloat16 for a bfloat16 copy, else float32 (int8
    modules quantize float32 input themselves)."""
    import torch

    params = getattr(module, "parameters", None)  # any callable network will do
    first = next(params(), None) if callable(params) else None
    return torch.bfloat16 if first is not None and first.dtype == torch.bfloat16 else torch.float32
