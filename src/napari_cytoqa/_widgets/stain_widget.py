"""The Stain Transfer dock widget (thin: the work is :func:`napari_cytoqa.stain.transfer_stain`)."""
from __future__ import annotations

import napari
from magicgui.widgets import ComboBox, Container, Label, PushButton, SpinBox, create_widget
from napari.utils.notifications import show_warning

from .._layers import add_stain_layer, displayed_plane, layer_levels
from ..models import find_model, list_models
from ..stain.transfer import DEFAULT_MODEL, METHODS, iter_transfer_stain
from ._jobs import start_layer_job

DEFAULT_CHECKPOINT = "default"


def _stain_models(_widget=None):
    specs = sorted(list_models(task="stain"), key=lambda s: (s.name != DEFAULT_MODEL, s.name))
    return [(f"{s.display_name} [{s.source}]", s.name) for s in specs]


class StainTransferWidget(Container):
    """Image layer, method, model and checkpoint (CycleGAN) or reference layer (Macenko,
    Reinhard); runs off the GUI thread with progress and Stop; the result is a new image
    layer named ``"<source> [<model or method>]"`` on the source's scale and translate."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self.image = create_widget(annotation=napari.layers.Image, label="image")
        self.method = ComboBox(choices=list(METHODS), value="cyclegan", label="method")
        self.model = ComboBox(choices=_stain_models, label="model")
        self.checkpoint = ComboBox(choices=self._checkpoints, label="checkpoint")
        self.reference = create_widget(annotation=napari.layers.Image | None, label="reference",
                                       options={"nullable": True})
        self.level = SpinBox(value=0, min=0, max=16, label="pyramid level")
        self.run_button = PushButton(text="Transfer stain")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.status = Label(value="", label="status")
        self.extend([self.image, self.method, self.model, self.checkpoint, self.reference, self.level,
                     self.run_button, self.stop_button, self.status])
        self.method.changed.connect(self._method_changed)
        self.model.changed.connect(lambda _: self.checkpoint.reset_choices())
        self.run_button.changed.connect(self.run)
        self._method_changed(self.method.value)
        self.worker = None

    def _checkpoints(self, _widget=None):
        name = getattr(getattr(self, "model", None), "value", None)
        if not name:
            return [DEFAULT_CHECKPOINT]
        try:
            spec = find_model(name)
        except KeyError:
            return [DEFAULT_CHECKPOINT]
        default = spec.metrics.get("default_checkpoint", "")
        return [(f"default ({default})" if default else "default", DEFAULT_CHECKPOINT),
                *[(label, label) for label in sorted(spec.checkpoints)]]

    def _method_changed(self, method):
        gan = method == "cyclegan"
        self.model.enabled = self.checkpoint.enabled = gan
        self.reference.enabled = not gan

    def options(self) -> dict:
        """The keyword arguments for :func:`transfer_stain` that the widget's state stands for."""
        opts = {"method": self.method.value, "level": self.level.value}
        if self.method.value == "cyclegan":
            opts["model"] = self.model.value
            if self.checkpoint.value not in (None, DEFAULT_CHECKPOINT):
                opts["checkpoint"] = self.checkpoint.value
        elif self.reference.value is not None:
            ref = self.reference.value
            opts["reference"] = layer_levels(ref, displayed_plane(ref, self._viewer))
        return opts

    def run(self):
        """Transfer the chosen layer's stain in a worker thread; add or update the result layer."""
        layer = self.image.value
        if layer is None:
            show_warning("Choose an image layer first.")
            return
        if not layer.rgb:
            show_warning(f"{layer.name} is not an RGB image; stain transfer needs brightfield colour.")
            return
        opts = self.options()
        label = opts.get("model", opts["method"]) + (f" {opts['checkpoint']}" if "checkpoint" in opts else "")
        start_layer_job(self, layer, iter_transfer_stain, opts, what="Stain transfer of", status=self.status,
                        on_done=lambda out, plane, level: self._show(out, layer, label, level, plane))

    def _show(self, out, layer, label, level, plane=()):
        new = add_stain_layer(self._viewer, out, layer, label, level=level, plane=plane)
        self.status.value = f"added {new.name}"
