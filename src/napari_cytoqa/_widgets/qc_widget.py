"""The Quality Control dock widget."""
from __future__ import annotations

from pathlib import Path

import napari
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, PushButton, SpinBox, create_widget
from napari.utils.notifications import show_error, show_info, show_warning

from .._layers import add_quality_overlay, layer_pixel_size
from ..models import list_models
from ..quality import METHODS, iter_assess_quality
from ..quality.int8 import PRECISIONS
from ..quality.learned import DEFAULT_MODEL
from ..tiling import WEIGHTINGS
from ._jobs import start_layer_job


def _quality_models(_widget=None):
    """Registry models of task "quality" as (label, name), the default first; re-read on every
    reset so user-trained models appear without restarting napari."""
    specs = sorted(list_models(task="quality"), key=lambda s: (s.name != DEFAULT_MODEL, s.name))
    return [(f"{s.display_name} [{s.source}]", s.name) for s in specs]


class QualityControlWidget(Container):
    """Pick an image layer, tile size, method and weighting; run off the GUI thread;
    draw (or update) a verdict overlay; show the slide verdict; export the tile table."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self.image = create_widget(annotation=napari.layers.Image, label="image")
        self.tile_size = SpinBox(value=512, min=32, max=16384, step=32, label="tile size (px)")
        self.level = SpinBox(value=0, min=0, max=16, label="pyramid level")
        self.method = ComboBox(choices=list(METHODS), value="learned", label="method")
        self.model = ComboBox(choices=_quality_models, label="model")
        self.weighting = ComboBox(choices=list(WEIGHTINGS), value="rgb_var", label="weighting")
        self.precision = ComboBox(
            choices=list(PRECISIONS), value="auto", label="precision",
            tooltip="number format of the quality network. auto: bfloat16 on CPUs that have it natively (same "
                    "accuracy as float32, faster), else float32; fp32 for results identical on every machine; "
                    "int8: CPU only, faster still, slightly less accurate, ~5 s to prepare once")
        self.match_scale = CheckBox(
            value=False, text="judge at 0.5 µm/px (layer's pixel size)",
            tooltip="bin the tiles of finely sampled slides (e.g. 2x at 0.25 um/px) to the scale the checks were "
                    "made for; needs a layer whose scale is in length units (slides opened by this plugin)")
        self.assume_cells = CheckBox(
            value=False, text="these are cell images (skip validity)",
            tooltip="count every tile as a cell image, so sections the validity check misjudges (real H&E and IHC "
                    "often are) still get focus and grade verdicts; p_valid is still shown")
        self.stain_check = CheckBox(
            value=True, text="H&E sections by colour",
            tooltip="count a slide whose stain is hematoxylin-purple and eosin-pink as a cell image where the "
                    "network is unsure (real H&E often looks unlike its training); off: the network alone")
        self.run_button = PushButton(text="Run quality check")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.verdict = Label(value="", label="slide")
        self.csv_path = FileEdit(mode="w", filter="*.csv", label="CSV", value="tiles.csv")
        self.export_button = PushButton(text="Export tile table", enabled=False)
        self.extend([self.image, self.tile_size, self.level, self.method, self.model, self.weighting,
                     self.precision, self.match_scale, self.assume_cells, self.stain_check, self.run_button,
                     self.stop_button, self.verdict, self.csv_path, self.export_button])
        self.method.changed.connect(self._method_changed)
        self.run_button.changed.connect(self.run)
        self.export_button.changed.connect(self.export_csv)
        self.worker = None
        self._overlay = None  # name of the overlay the last run drew (the export's table)

    def _method_changed(self, method):
        self.model.enabled = self.precision.enabled = method == "learned"

    def options(self, layer=None) -> dict:
        """Keyword arguments for :func:`assess_quality` that the widget's state stands for
        (``layer``: the image layer, whose pixel size "judge at 0.5 µm/px" passes on)."""
        options = dict(tile_size=self.tile_size.value, method=self.method.value,
                       weighting=self.weighting.value, level=self.level.value)
        if self.assume_cells.value:
            options["assume_valid"] = True
        if not self.stain_check.value:
            options["stain_check"] = False
        if self.match_scale.value:
            options["pixel_size"] = layer_pixel_size(layer)
        if self.method.value == "learned":
            options["model"] = self.model.value
            options["precision"] = self.precision.value
            if self.precision.value == "int8":
                options["device"] = "cpu"
        return options

    def run(self):
        """Start the quality check of the chosen layer in a worker thread."""
        layer = self.image.value
        if layer is None:
            show_warning("Choose an image layer first.")
            return
        options = self.options(layer)
        if self.match_scale.value and options["pixel_size"] is None:
            show_warning(f"{layer.name} has no pixel size in length units: analysed at its own pixels.")
        start_layer_job(self, layer, iter_assess_quality, options, what="Quality check of", status=self.verdict,
                        on_done=lambda report, plane, level: self._show(report, layer, plane))

    def _show(self, report, layer, plane=()):
        self._overlay = add_quality_overlay(self._viewer, report, layer, plane=plane).name
        s = report.summary()
        p = "–" if s["p_blurry"] is None else f"{s['p_blurry']:.2f}"
        binned = f" · {s['binning']}× binned" if s["binning"] > 1 else ""
        why = {"assumed": " · validity assumed", "stain": " · a cell image by its H&E colour"}
        binned += why.get(s["validity"], "")
        self.verdict.value = (f"{s['verdict']} · grade {s['grade'] or '–'} · p_blurry {p}{binned}\n"
                              + " · ".join(f"{k} {v}" for k, v in s["tiles"].items()))
        self.export_button.enabled = True

    def export_csv(self):
        """Write the tile table of the last run's overlay to the chosen CSV path."""
        name = self._overlay
        if name is None or name not in self._viewer.layers or "cytoqa_tiles" not in self._viewer.layers[name].metadata:
            show_warning("Run the quality check first.")
            return
        path = Path(self.csv_path.value).expanduser().resolve()
        try:
            self._viewer.layers[name].metadata["cytoqa_tiles"].to_csv(path, index=False)
        except OSError as err:  # a missing folder, no permission, a full disk: say so, keep the GUI
            show_error(f"Could not write the tile table to {path}: {err.strerror or err}")
            return
        show_info(f"Wrote {path}")
