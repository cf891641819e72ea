"""Hash-checked safetensors weights: verify before load, write atomically. Never unpickles."""
from __future__ import annotations

import hashlib
from pathlib import Path

from .._files import atomic_write


class ModelHashError(ValueError):
    """A weights file's sha256 differs from its spec: nothing was loaded."""


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state(path, sha256: str) -> dict:
    """Verify ``path`` against ``sha256`` and only then read its tensors (float32)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    actual = sha256_file(path)
    if actual != sha256:
        raise ModelHashError(f"{path.name}: sha256 {actual[:12]}… does not match the expected "
                             f"{sha256[:12]}…; the file is corrupt or was replaced — not loaded")
    return {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}


def save_state(state: dict, path, *, half: bool = False) -> str:
    """Write a state dict as safetensors atomically (fp16 floats if ``half``); returns its sha256."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
    return sha256_file(path)


def save_model(module, spec, directory, *, half: bool = False, checkpoints=None) -> "object":
    """Save ``module``'s weights and ``spec`` (sha256 filled in) into ``directory`` atomically.

    ``checkpoints`` (``{label: module or state dict}``) are saved beside it as
    ``<name>.<label>.safetensors`` and listed in ``spec.checkpoints``. The JSON spec is written
    after every weights file, so a half-written model never appears.
    """
    directory = Path(directory)
    for label, obj in (checkpoints or {}).items():
        state = obj.state_dict() if hasattr(obj, "state_dict") else obj
        fname = f"{spec.name}.{label}.safetensors"
        spec.checkpoints[str(label)] = {"weights": fname,
                                        "sha256": save_state(state, directory / fname, half=half)}
    spec.sha256 = save_state(module.state_dict(), directory / spec.weights, half=half)
    spec.directory = str(directory)
    atomic_write(directory / f"{spec.name}.json",
                  lambda tmp: Path(tmp).write_text(spec.to_json()))
    return spec
