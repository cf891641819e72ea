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
    source: str = "bundled"
    directory: str | None = None

    @property
    def display_name(self) -> str:
        return self.alias or self.name

    def weights_path(self) -> Path | None:
        return Path(self.directory) / self.weights if self.directory else None

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
