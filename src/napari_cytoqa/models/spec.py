"""Model specs: everything needed to build, feed, verify and describe one model."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ModelSpec:
    """One model of the registry (torchvision's ``Weights`` idea).

    ``architecture`` names a builder in :data:`napari_cytoqa.models.architectures.ARCHITECTURES`
    called with ``config``; ``weights`` is a safetensors file name (beside the spec for
    bundled and user models, in the download cache for URL models) whose ``sha256`` is
    checked before anything is loaded.
    """

    name: str
    task: str
    architecture: str
    weights: str
    sha256: str
    alias: str = ""
    config: dict = field(default_factory=dict)
    input: dict = field(default_factory=dict)
    url: str | None = None
    data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    #: other selectable weights of the same network, e.g. CycleGAN epochs:
    #: ``{label: {"weights": file name, "sha256": hex}}``; ``weights`` is the default choice
    checkpoints: dict = field(default_factory=dict)
    source: str = "bundled"
    directory: str | None = None

    @property
    def display_name(self) -> str:
        return self.alias or self.name

    def weights_path(self) -> Path | None:
        return Path(self.directory) / self.weights if self.directory else None

    def checkpoint(self, label) -> tuple[str, str]:
        """``(weights file name, sha256)`` of checkpoint ``label`` (None → the default weights)."""
        if label is None or str(label) in ("", "default"):
            return self.weights, self.sha256
        entry = self.checkpoints.get(str(label))
        if entry is None:
            known = ", ".join(self.checkpoints) or "none"
            raise KeyError(f"model {self.name!r} has no checkpoint {label!r}; checkpoints: {known}")
        return entry["weights"], entry["sha256"]

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("directory")
        d.pop("source")
        return json.dumps(d, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path, *, source: str) -> "ModelSpec":
        path = Path(path)
        d = json.loads(path.read_text())
        return cls(**d, source=source, directory=str(path.parent))
