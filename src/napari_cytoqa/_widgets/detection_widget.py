"""The Cell Detection dock widget (thin: the work is :func:`napari_cytoqa.detection.detect_cells`)."""
from __future__ import annotations

import napari
import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox, create_widget
from napari.utils.notifications import show_warning

from .._layers import add_detection_layers, layer_levels
from ..detection import DETECTORS, iter_detect_cells
from ..detection.detect import ROUTINGS
from ._jobs import start_job


class DetectionWidget(Container):
    """Image layer, detector, blur routing, threshold and tile size; runs off the GUI thread with
    progress and Stop; draws ``<layer> cells`` (labels), ``<layer> boxes`` (rectangles, or points
    beyond 2,000 cells) and ``<layer> tile counts``; re-runs update those layers."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self.image = create_widget(annotation=napari.layers.Image, label="image")
        self.detector = ComboBox(choices=sorted(DETECTORS, key=lambda d: d != "unet"), value="unet", label="detector")
        self.routing = ComboBox(choices=list(ROUTINGS), value="combined", label="routing")
        self.threshold = FloatSpinBox(value=0.5, min=0.05, max=0.95, step=0.05, label="threshold")
        self.tile_size = SpinBox(value=512, min=64, max=4096, step=64, label="tile size (px)")
        self.level = SpinBox(value=0, min=0, max=16, label="pyramid level")
        self.run_button = PushButton(text="Detect cells")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.status = Label(value="", label="cells")
        self.extend([self.image, self.detector, self.routing, self.threshold, self.tile_size, self.level,
                     self.run_button, self.stop_button, self.status])
        self.detector.changed.connect(self._detector_changed)
        self.run_button.changed.connect(self.run)
        self.worker = None

    def _detector_changed(self, detector):
        self.routing.enabled = self.threshold.enabled = detector == "unet"

    def options(self) -> dict:
        """Keyword arguments for :func:`detect_cells` that the widget's state stands for."""
        opts = {"detector": self.detector.value, "tile_size": self.tile_size.value, "level": self.level.value}
        if self.detector.value == "unet":
            opts.update(routing=self.routing.value, threshold=self.threshold.value)
        return opts

    def run(self):
        layer = self.image.value
        if layer is None:
            show_warning("Choose an image layer first.")
            return
        levels = layer_levels(layer)
        opts = self.options()
        opts["level"] = min(opts["level"], len(levels) - 1)
        self.status.value = "running…"
        self.worker = start_job(lambda: iter_detect_cells(levels, **opts),
                                description=f"Cell detection in {layer.name}",
                                on_done=lambda det: self._show(det, layer, opts["level"]),
                                on_error=lambda err: setattr(self.status, "value", "failed"),
                                on_abort=lambda: setattr(self.status, "value", "stopped"),
                                buttons=(self.run_button,), stop_button=self.stop_button)

    def _show(self, det, layer, level):
        add_detection_layers(self._viewer, det, layer, level=level)
        routes = ", ".join(f"{k.replace('cytoqa-unet-', '')} {v}" for k, v in
                           zip(*np.unique(det.route.astype(str), return_counts=True)))
        self.status.value = f"{det.count}" + (f" ({routes})" if routes else "")
