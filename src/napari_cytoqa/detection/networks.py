"""One registry detection network per route: a tile in, instances or boxes with scores out.

:class:`UNetRunner` turns the U-Net's foreground and centre maps into instances
(:func:`.unet.instances_from_maps`), :class:`YoloRunner` decodes YOLO's boxes; both load their
model from the registry, hash-checked, and run it in the precision asked for.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .instances import boxes_from_labels


#: joins the registry names of models whose outputs one route averages (U-Net: ``"a+b"``)
ENSEMBLE_SEP = "+"


def model_names(model: str) -> list[str]:
    """The registry names in ``model``: one name, or several joined by :data:`ENSEMBLE_SEP`
    (e.g. ``"cytoqa-unet-sharp+cytoqa-unet-combined"``: the U-Net averages their maps)."""
    names = [n.strip() for n in str(model).split(ENSEMBLE_SEP)]
    if not all(names):
        raise ValueError(f"empty model name in {model!r}")
    return names


class UNetRunner:
    """One registry U-Net, or several averaged (``"a+b"``): tile → instances with scores (mean
    foreground probability). Several U-Nets: the foreground and centre maps are the mean of each
    model's maps (each with its mirror views where ``tta``); the threshold and instance settings
    are the first model's."""

    architecture, label = "unet", "U-Net"
    ensembles = True

    def __init__(self, model: str, device: str, threshold, precision: str | None = None, tta: bool = False,
                 merge: bool = False):
        from ..models import get_model
        from ..models.precision import module_for

        names = model_names(model)
        if len(names) > 1 and not self.ensembles:
            raise ValueError(f"{model!r}: only U-Nets average several models; name one {self.label} model")
        loaded = [get_model(n, device=device) for n in names]
        for n, one in zip(names, loaded):
            if one.spec.task != "detection" or one.spec.architecture != self.architecture:
                raise ValueError(f"model {n!r} is not a {self.label} detection model")
        self.loaded = loaded[0]
        modules = [module_for(one, precision or "fp32") for one in loaded]
        self.nets = [net for net, _ in modules]
        self.net, self.precision = modules[0]
        self.input = self.loaded.spec.input
        self.threshold = float(self.input.get("threshold", 0.5) if threshold is None else threshold)
        self.name = ENSEMBLE_SEP.join(one.spec.name for one in loaded)
        self.tta = bool(tta)
        self.merge = bool(merge)  # U-Net only: join pieces of one cell

    def __call__(self, tile, stats):
        from .unet import instances_from_maps
        from .unet_task import predict_maps, unet_input

        x = unet_input(tile, stats)
        maps = [predict_maps(net, x, self.loaded.device, flips=self.tta) for net in self.nets]
        fg, centre = (maps[0] if len(maps) == 1 else
                      (np.mean([m[0] for m in maps], axis=0), np.mean([m[1] for m in maps], axis=0)))
        labels = instances_from_maps(fg, centre, threshold=self.threshold, core=float(self.input.get("core", 0.5)),
                                     min_size=int(self.input.get("min_size", 12)), merge=self.merge)
        n = int(labels.max())
        scores = np.asarray(ndi.mean(fg, labels, np.arange(1, n + 1)), float) if n else np.zeros(0)
        return labels, boxes_from_labels(labels), scores


class YoloRunner(UNetRunner):
    """One registry YOLO: tile → boxes with confidences (no instance labels)."""

    architecture, label = "yolo", "YOLO"
    ensembles = False

    def __call__(self, tile, stats):
        from .yolo import predict_boxes, yolo_input

        boxes, scores = predict_boxes(self.net, yolo_input(tile, stats), self.loaded.device, conf=self.threshold,
                                      iou=float(self.input.get("iou", 0.5)), flips=self.tta)
        return None, boxes, scores
