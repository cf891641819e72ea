"""One registry detection network per route: a tile in, instances or boxes with scores out.

:class:`UNetRunner` turns the U-Net's foreground and centre maps into instances
(:func:`.unet.instances_from_maps`), :class:`YoloRunner` decodes YOLO's boxes; both load their
model from the registry, hash-checked, and run it in the precision asked for.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .instances import boxes_from_labels


class UNetRunner:
    """One registry U-Net: tile → instances with scores (mean foreground probability)."""

    architecture, label = "unet", "U-Net"

    def __init__(self, model: str, device: str, threshold, precision: str | None = None, tta: bool = False,
                 merge: bool = False):
        from ..models import get_model
        from ..models.precision import module_for

        self.loaded = get_model(model, device=device)
        if self.loaded.spec.task != "detection" or self.loaded.spec.architecture != self.architecture:
            raise ValueError(f"model {model!r} is not a {self.label} detection model")
        self.net, self.precision = module_for(self.loaded, precision or "fp32")
        self.input = self.loaded.spec.input
        self.threshold = float(self.input.get("threshold", 0.5) if threshold is None else threshold)
        self.name = self.loaded.spec.name
        self.tta = bool(tta)
        self.merge = bool(merge)  # U-Net only: join pieces of one cell

    def __call__(self, tile, stats):
        from .unet import instances_from_maps
        from .unet_task import predict_maps, unet_input

        fg, centre = predict_maps(self.net, unet_input(tile, stats), self.loaded.device, flips=self.tta)
        labels = instances_from_maps(fg, centre, threshold=self.threshold, core=float(self.input.get("core", 0.5)),
                                     min_size=int(self.input.get("min_size", 12)), merge=self.merge)
        n = int(labels.max())
        scores = np.asarray(ndi.mean(fg, labels, np.arange(1, n + 1)), float) if n else np.zeros(0)
        return labels, boxes_from_labels(labels), scores


class YoloRunner(UNetRunner):
    """One registry YOLO: tile → boxes with confidences (no instance labels)."""

    architecture, label = "yolo", "YOLO"

    def __call__(self, tile, stats):
        from .yolo import predict_boxes, yolo_input

        boxes, scores = predict_boxes(self.net, yolo_input(tile, stats), self.loaded.device, conf=self.threshold,
                                      iou=float(self.input.get("iou", 0.5)), flips=self.tta)
        return None, boxes, scores
