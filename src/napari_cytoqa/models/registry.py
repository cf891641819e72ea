"""The one models registry: bundled, user-trained and downloadable models.

- bundled: ``<package>/models/weights/*.json`` beside their safetensors;
- user: ``$CYTOQA_MODELS_DIR`` (default: the platform's user data dir ``…/napari-cytoqa/models``),
  scanned on every :func:`list_models` call, so newly trained models appear at once;
- URL: specs registered with :func:`register_model` whose weights download through pooch
  into ``$CYTOQA_CACHE_DIR`` (default: the platform's user cache dir) with the sha256 check.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .spec import ModelSpec
from .weights_io import ModelHashError, load_state

log = logging.getLogger(__name__)
BUNDLED_DIR = Path(__file__).parent / "weights"
_URL_SPECS: dict[str, ModelSpec] = {}
_CACHE: dict[tuple, "LoadedModel"] = {}
_LOCK = threading.Lock()


def user_models_dir() -> Path:
    env = os.environ.get("CYTOQA_MODELS_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-cytoqa")) / "models"


def cache_dir() -> Path:
    env = os.environ.get("CYTOQA_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("napari-cytoqa"))


#: (path, modification time) of unreadable specs already reported: the registry is scanned on
#: every lookup, and one stray JSON file in a models directory should be one warning, not many
_WARNED: set = set()


def _scan(directory: Path, source: str) -> list[ModelSpec]:
    specs = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            try:
                specs.append(ModelSpec.from_json(path, source=source))
            except (ValueError, TypeError, KeyError) as err:
                key = (str(path), path.stat().st_mtime_ns)
                if key not in _WARNED:
                    _WARNED.add(key)
                    log.warning("ignoring unreadable model spec %s: %s", path, err)
    return specs


def list_models(task: str | None = None) -> list[ModelSpec]:
    """All known models (user models shadow bundled ones of the same name), optionally of one task."""
    found: dict[str, ModelSpec] = {}
    for spec in [*_scan(BUNDLED_DIR, "bundled"), *_URL_SPECS.values(),
                 *_scan(user_models_dir(), "user")]:
        found[spec.name] = spec
    return [s for s in found.values() if task is None or s.task == task]


def register_model(spec: ModelSpec) -> None:
    """Make a downloadable model known (its ``url`` and ``sha256`` must be set)."""
    if not spec.url:
        raise ValueError("register_model needs a spec with a url")
    spec.source = "url"
    _URL_SPECS[spec.name] = spec


def find_model(name: str) -> ModelSpec:
    for spec in list_models():
        if name in (spec.name, spec.alias):
            return spec
    known = ", ".join(s.name for s in list_models()) or "none"
    raise KeyError(f"no model named {name!r}; known models: {known}")


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → CUDA, then Apple MPS, then CPU."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def weights_file(spec: ModelSpec) -> Path:
    """Local path of a spec's weights, downloading URL models (hash-checked by pooch)."""
    if spec.source != "url":
        return spec.weights_path()
    import pooch

    try:
        return Path(pooch.retrieve(spec.url, known_hash=f"sha256:{spec.sha256}",
                                   fname=spec.weights, path=cache_dir(), progressbar=False))
    except ValueError as err:  # pooch's hash mismatch (the bad download is deleted)
        raise ModelHashError(f"download of {spec.name} failed its sha256 check: {err}") from err


@dataclass
class LoadedModel:
    """A built, weight-loaded model in eval mode on ``device``, with its spec."""

    spec: ModelSpec
    module: object
    device: str
    _inference: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def inference_module(self):
        """A frozen copy for prediction only (batch norms folded, channels-last); built once.
        ``module`` stays the trainable original."""
        if self._inference is None:
            from .inference import for_inference

            self._inference = for_inference(self.module)
        return self._inference


def build(spec: ModelSpec):
    from .architectures import ARCHITECTURES

    if spec.architecture not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {spec.architecture!r}")
    return ARCHITECTURES[spec.architecture](**spec.config)


def get_model(name: str, device: str = "auto", checkpoint=None) -> LoadedModel:
    """Build and load a model by name or alias (cached per name, weights hash and device).

    ``checkpoint`` selects one of ``spec.checkpoints`` (e.g. a CycleGAN epoch) instead of the
    default weights; its hash is checked the same way.
    """
    spec = find_model(name)
    fname, sha = spec.checkpoint(checkpoint)
    if fname != spec.weights and spec.source == "url":
        raise ValueError("checkpoints of downloadable models are not supported")
    dev = resolve_device(device)
    key = (spec.name, sha, dev)
    with _LOCK:
        if key not in _CACHE:
            path = weights_file(spec) if fname == spec.weights else Path(spec.directory) / fname
            state = load_state(path, sha)
            module = build(spec)
            module.load_state_dict(state)
            module.to(dev).eval()
            _CACHE[key] = LoadedModel(spec, module, dev)
        return _CACHE[key]


def training_state(name: str, architecture: str) -> tuple[dict, ModelSpec]:
    """A registry model's weights (hash-checked on loading) as float32 CPU tensors of their own,
    and its spec — the start for continuing its training; ``ValueError`` when the model is not
    of ``architecture``."""
    loaded = get_model(name, device="cpu")
    if loaded.spec.architecture != architecture:
        raise ValueError(f"{name!r} is a {loaded.spec.architecture!r} model, not {architecture!r}")
    return {k: v.detach().float().clone() for k, v in loaded.module.state_dict().items()}, loaded.spec


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
