"""The Cell Detection dock widget (thin: the work is :func:`napari_cytoqa.detection.detect_cells`)."""
from __future__ import annotations

from typing import Optional

import napari
import numpy as np
from magicgui.widgets import (CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton, SpinBox,
                              create_widget)
from napari.utils.notifications import show_warning

from .._layers import add_detection_layers, displayed_plane, is_stale, layer_levels, layer_pixel_size
from .._marks import shapes_region
from .._stack_layers import add_series_detection_layers
from ..detection import DETECTORS, iter_detect_cells
from ..detection.detect import DEFAULT_MERGE, DEFAULT_TTA, DENOISE_CHOICES, ROUTINGS
from ..detection.exposure import SATURATION_WARNING
from ..detection.planes import iter_detect_planes
from ..detection.stain_input import STAIN_CHOICES
from ..stacks import series_planes
from ._cell_results import CellResults
from ._compare_box import compare_box
from ._jobs import start_job, start_layer_job
from ._planes import PlaneTable, go_to, stack_axes


class DetectionWidget(CellResults, Container):
    """Image layer, detector, blur routing, registry model, threshold and tile size; runs off the
    GUI thread with progress and Stop; draws ``<layer> cells`` (U-Net labels), ``<layer> boxes``
    (rectangles with score/route/model features, or points beyond 2,000 cells) and ``<layer> tile
    counts``; re-runs update those layers."""

    LEARNED = ("unet", "yolo")
    AUTO = "by routing"
    UNITS = ("px", "µm")

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self.image = create_widget(annotation=napari.layers.Image, label="image")
        self.region = create_widget(annotation=Optional[napari.layers.Shapes], label="region",  # noqa: UP045
                                    options={"tooltip": "a Shapes layer: detect only inside its rectangles and "
                                                        "polygons (none: the whole image)"})
        self.truth = compare_box(  # boxes and outlines, clicked cells, instance labels
            (napari.layers.Shapes, napari.layers.Points, napari.layers.Labels),
            "a Shapes layer of annotated cells (boxes, polygons; e.g. a QuPath GeoJSON or corrected boxes), a "
            "Points layer of cells marked by a click or a Labels layer of instances (corrected cells, a mask): "
            "after a run, AP@0.5, precision, recall and F1 of the cells found against them, inside the region "
            "when one is chosen")
        order = {d: i for i, d in enumerate((*self.LEARNED, "otsu"))}
        self.detector = ComboBox(choices=sorted(DETECTORS, key=lambda d: order.get(d, 99)), value="unet",
                                 label="detector")
        self.routing = ComboBox(choices=list(ROUTINGS), value="combined", label="routing")
        self.model = ComboBox(choices=self._model_choices, label="model")
        self.own_threshold = CheckBox(value=True, text="model's own threshold")
        self.threshold = FloatSpinBox(value=0.5, min=0.01, max=0.99, step=0.05, label="threshold", enabled=False,
                                      tooltip="U-Net: foreground probability; YOLO: confidence (with mirror images "
                                              "averaged, a box at least 2 of the 4 views found at it; its score is "
                                              "averaged over the 4 views and can lie below)")
        self.diameter = FloatSpinBox(value=0, min=0, max=1000, step=1, label="cell diameter",
                                     tooltip="typical cell diameter in this image; 0 = as trained (16 px at 0.5 µm)")
        self.diameter_unit = ComboBox(choices=list(self.UNITS), value="px", label="diameter unit",
                                      tooltip="px: pixels of the analysed level; µm: converted with the layer's "
                                              "pixel size (its scale in µm, as CytoQA's reader sets it)")
        self.auto_diameter = CheckBox(value=False, text="estimate cell size",
                                      tooltip="measure the cell diameter with the U-Net first (a few seconds); "
                                              "the estimate is written into the diameter box")
        self.bf16 = CheckBox(value=False, text="bfloat16 networks (faster with native bf16)",
                             tooltip="about 2× faster U-Net on CPUs with native bfloat16 (Intel AMX / AVX512-BF16), "
                                     "slightly different results; see docs/detection.md")
        self.denoise = ComboBox(choices=list(DENOISE_CHOICES), value="auto", label="denoise",
                                tooltip="smooth tiles noisier than the training images first (dim, photon-starved "
                                        "fields): auto = before the sharp U-Net only (the default), on = before "
                                        "every model, off = never; see docs/detection.md")
        self.stain = ComboBox(choices=list(STAIN_CHOICES), value="none", label="stain",
                              tooltip="auto: a stained tissue section (H&E) is read through its hematoxylin channel "
                                      "(its nuclei); hematoxylin: always (RGB only); none: the image as it is "
                                      "(default); see docs/detection.md, rule H")
        self._tta_for = "unet"
        self.tta = CheckBox(value=DEFAULT_TTA["unet"], text="average mirror images (4× slower)",
                            tooltip="test-time augmentation: each tile and its three mirror images, the U-Net's "
                                    "maps averaged, YOLO's boxes fused (kept where 2 of the 4 views found them); "
                                    "see docs/detection.md")
        self.merge = CheckBox(value=DEFAULT_MERGE, text="join pieces of one cell (U-Net)",
                              tooltip="join touching instances whose shared border is 1.3x as long as the smaller "
                                      "one is wide, through a high centre map, or whose centre map barely dips "
                                      "between them: a nucleus cut along a nucleolus or between speckles; see "
                                      "docs/detection.md, rules J2 and W")
        self.min_score = FloatSpinBox(value=0.0, min=0.0, max=0.99, step=0.05, label="min. object score",
                                      tooltip="keep only objects scoring at least this (0 = all): fewer specks and "
                                              "dust in the count, a few true cells lost; see docs/detection.md, "
                                              "Counting confident objects")
        self.tile_size = SpinBox(value=512, min=64, max=4096, step=64, label="tile size (px)")
        self.level = SpinBox(value=0, min=0, max=16, label="pyramid level")
        self.run_button = PushButton(text="Detect cells")
        self.series_axis = ComboBox(choices=lambda _w=None: stack_axes(self.image.value, self._viewer),
                                    label="series axis", tooltip=(
                                        "of a stack: the axis (e.g. time) along which 'Detect in every plane' "
                                        "runs, the other axes held at the plane on screen"))
        self.planes_button = PushButton(text="Detect in every plane", tooltip=(
            "detect in each plane along the series axis: one layer of cells and boxes over all planes, and the "
            "count per plane (a growth curve of a time-lapse)"))
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.status = Label(value="", label="cells")
        self.status.native.setWordWrap(True)  # a long line (a comparison, warnings) must not widen the dock
        self.plane_table = PlaneTable(self._plane_clicked, label="planes")
        self.csv_path = FileEdit(mode="w", filter="*.csv", label="CSV", value="cells.csv")
        self.qupath_cells = FloatSpinBox(value=0, min=0, max=100, step=1, label="QuPath cells (µm)", tooltip=(
            "0: export the nuclei as QuPath detections; above 0: as QuPath cell objects, each nucleus grown by this "
            "many µm without crossing a neighbour's (QuPath's cell expansion; U-Net and Otsu, with the layer's "
            "pixel size)"))
        self.export_button = PushButton(text="Export cells (CSV + GeoJSON)", enabled=False, tooltip=(
            "the last run's cells: one row each (box and area in level-0 pixels, µm² where the pixel size is "
            "known, score, route), their boxes as GeoJSON beside it (QuPath), and after 'Detect in every plane' "
            "the count per plane as <name>_planes.csv"))
        self.extend([self.image, self.region, self.truth, self.detector, self.routing, self.model, self.own_threshold,
                     self.threshold, self.diameter, self.diameter_unit, self.auto_diameter, self.stain, self.bf16,
                     self.denoise, self.tta, self.merge, self.min_score, self.tile_size, self.level, self.run_button,
                     self.series_axis, self.planes_button, self.stop_button, self.status, self.plane_table,
                     self.csv_path, self.qupath_cells, self.export_button])
        self.detector.changed.connect(self._detector_changed)
        self.routing.changed.connect(self._detector_changed)
        self.own_threshold.changed.connect(self._detector_changed)
        self.auto_diameter.changed.connect(self._auto_diameter_changed)
        self.bf16.changed.connect(self._bf16_changed)
        self.run_button.changed.connect(self.run)
        self.planes_button.changed.connect(self.detect_planes)
        self.export_button.changed.connect(self.export_cells)
        self.image.changed.connect(self._image_changed)
        self.worker = None
        self._counted = None  # the layer whose planes the table lists
        self._found = None  # (Detections or PlaneDetections, layer, downsample, plane) of the last run: the export
        self._image_changed()

    def _image_changed(self, _layer=None):
        self.series_axis.reset_choices()
        self.series_axis.visible = bool(self.series_axis.choices)
        if self._counted is not self.image.value:  # the table is another layer's
            self.plane_table.visible = False
        if self.run_button.enabled:  # not while a job runs: its end refreshes it
            self._refresh_buttons()

    def _refresh_buttons(self):
        self.planes_button.enabled = bool(self.series_axis.choices)

    def _bf16_changed(self, on: bool):
        """Ticked on a device without native bfloat16: say it will be slower. Checked here, not
        when the widget opens, so that opening it does not import torch on the GUI thread."""
        from ..models.precision import native_bf16
        from ..models.registry import resolve_device

        if on and not native_bf16(resolve_device("auto")):
            show_warning("This device has no native bfloat16: bfloat16 networks run emulated, several times "
                         "slower than float32 (8.5x on a CPU without AMX / AVX512-BF16; docs/benchmarks.md).")

    def _auto_diameter_changed(self, on: bool):
        self.diameter.enabled = self.diameter_unit.enabled = not on
        if on:  # the estimate comes back in pixels
            self.diameter_unit.value = "px"

    def _model_choices(self, _widget=None) -> list[str]:
        """The registry's detection models of the chosen detector (bundled, user-trained, URL)."""
        from ..models import list_models

        detector = self.detector.value if hasattr(self, "detector") else "unet"
        return [self.AUTO] + sorted(s.name for s in list_models(task="detection") if s.architecture == detector)

    def _detector_changed(self, _=None):
        learned = self.detector.value in self.LEARNED
        self.model.reset_choices()
        self.routing.enabled = self.own_threshold.enabled = self.bf16.enabled = self.denoise.enabled = learned
        self.model.enabled = learned
        self.tta.enabled = learned
        self.merge.enabled = self.detector.value == "unet"
        if learned and self.detector.value != self._tta_for:  # a new detector starts at its own default
            self._tta_for, self.tta.value = self.detector.value, DEFAULT_TTA[self.detector.value]
        self.model.label = "sharp model" if self.routing.value == "blur" else "model"  # blur: the in-focus model
        self.threshold.enabled = learned and not self.own_threshold.value

    def options(self) -> dict:
        """Keyword arguments for :func:`detect_cells` that the widget's state stands for."""
        opts = {"detector": self.detector.value, "tile_size": self.tile_size.value, "level": self.level.value,
                "stain": self.stain.value}
        if self.auto_diameter.value:
            opts["diameter"] = "auto"
        elif self.diameter_unit.value == "µm" and self.diameter.value > 0:
            opts["diameter_um"] = self.diameter.value
            opts["pixel_size"] = layer_pixel_size(self.image.value)
        elif self.diameter.value >= 2:
            opts["diameter"] = self.diameter.value
        if self.detector.value in self.LEARNED:
            opts["routing"] = self.routing.value
            if not self.own_threshold.value:
                opts["threshold"] = self.threshold.value
            if self.model.value not in (None, self.AUTO):
                opts["sharp_model" if self.routing.value == "blur" else "model"] = self.model.value
            if self.bf16.value:
                opts["precision"] = "bf16"
            if self.denoise.value != "auto":  # auto: detect_cells' default
                opts["denoise"] = DENOISE_CHOICES[self.denoise.value]
            opts["tta"] = self.tta.value
        if self.detector.value == "unet":
            opts["merge"] = self.merge.value
        if self.min_score.value > 0:
            opts["min_score"] = self.min_score.value
        return opts

    def _checked_options(self, layer):
        """The options for ``layer`` (a region's in the analysed level's pixels, on the plane shown),
        or None after a warning where they cannot be used."""
        if layer is None:
            show_warning("Choose an image layer first.")
            return None
        truth = self._compare = self.truth.value
        if (truth is not None and is_stale(truth) and truth.name.startswith(layer.name)
                and truth.name.endswith((" cells", " boxes"))):  # an unedited result layer that this run redraws
            show_warning(f"{truth.name} holds {layer.name}'s last detection, which a run replaces: correct it "
                         "(then a run keeps it), duplicate or rename it to keep it as the cells to compare with.")
            return None
        opts = {"pixel_size": layer_pixel_size(layer), **self.options()}  # for µm and the scale hint
        if "diameter_um" in opts and opts["pixel_size"] is None:
            show_warning(f"{layer.name} records no pixel size (its scale is not in µm): give the cell diameter "
                         "in px, or set the layer's scale and units.")
            return None
        if self.region.value is not None:  # pixels of the level analysed, on the plane shown
            plane = displayed_plane(layer, self._viewer)
            level = min(opts["level"], len(layer_levels(layer, plane)) - 1)
            opts["region"] = shapes_region(self.region.value, layer, level=level, plane=plane)
            if opts["region"] is None:
                show_warning(f"{self.region.value.name} holds no rectangle or polygon to detect in.")
                return None
        return opts

    @property
    def _buttons(self):
        return self.run_button, self.planes_button

    def run(self):
        layer = self.image.value
        opts = self._checked_options(layer)
        if opts is None:
            return
        running = "measuring cell size, then running…" if opts.get("diameter") == "auto" else "running…"
        start_layer_job(self, layer, iter_detect_cells, opts, what="Cell detection in", status=self.status,
                        on_done=lambda det, plane, level: self._show(det, layer, level, plane, opts.get("region")),
                        running=running,
                        buttons=self._buttons, on_finish=self._refresh_buttons)

    def detect_planes(self):
        """Detect cells in every plane of the chosen stack along the series axis (the other axes at the
        plane on screen) in a worker thread; then draw one layer of cells and of boxes over all planes
        and list the count per plane."""
        layer = self.image.value
        if layer is not None and not self.series_axis.choices:
            show_warning("Choose an image layer that is a stack (time, Z, …) first.")
            return
        opts = self._checked_options(layer)
        if opts is None:
            return
        at, levels, axis = displayed_plane(layer, self._viewer), layer_levels(layer), self.series_axis.value
        planes = series_planes(levels[0].shape[:len(at)], axis=axis, at=at)
        opts["level"] = level = min(opts["level"], len(levels) - 1)  # opts has the pixel size (the densities)
        self.status.value = f"detecting in {len(planes)} planes…"
        self.worker = start_job(lambda: iter_detect_planes(levels, planes=planes, **opts),
                                description=f"Cell detection in every plane of {layer.name}",
                                on_done=lambda found: self._show_planes(found, layer, level, axis, opts.get("region")),
                                on_error=lambda err: setattr(self.status, "value", "failed"),
                                on_abort=lambda: setattr(self.status, "value", "stopped"),
                                buttons=self._buttons, stop_button=self.stop_button, on_finish=self._refresh_buttons)

    def _show_planes(self, found, layer, level, axis, region=None):
        drawn = add_series_detection_layers(self._viewer, found, layer, level=level, axis=axis)
        at = next(iter(found.detections))  # the levels of one plane: (Y, X[, C])
        levels = layer_levels(layer, at)
        self._counted, self._found = layer, (found, layer, levels[0].shape[0] / levels[level].shape[0], ())
        self.export_button.enabled = True
        t = found.table
        shown = t[["count"]].copy()
        if t["cells_per_mm2"].notna().any():
            shown["cells/mm²"] = t["cells_per_mm2"].astype(float).round(0).astype("Int64")
        if t["blur_level"].notna().any():
            shown["blur level"] = t["blur_level"].astype(float).round(1)
        self._keep_compare()
        pooled = self._compared_planes(found, layer, level, region, shown) if self._compare is not None else ""
        self.plane_table.show_planes(shown, t["index"])
        counts = t["count"].to_numpy()
        self.status.value = (f"{int(counts.sum())} in {len(t)} planes · {counts.min()}–{counts.max()} per plane"
                             f" (first {counts[0]}, last {counts[-1]})" + pooled)
        if found.detections[t["index"][0]].detector != "yolo" and drawn[0]._type_string != "labels":
            self.status.value += " · too large to draw instance labels: boxes only"

    def _plane_clicked(self, plane):
        """A click on a row of the plane table shows that plane."""
        layer = self.image.value
        if layer is not None and layer.ndim - 2 == len(plane):
            go_to(self._viewer, layer, plane)

    def _show(self, det, layer, level, plane=(), region=None):
        add_detection_layers(self._viewer, det, layer, level=level, plane=plane)
        levels = layer_levels(layer, plane)
        self._found = (det, layer, levels[0].shape[0] / levels[level].shape[0], plane)
        self.export_button.enabled = True
        if self.auto_diameter.value and det.diameter is not None:
            self.diameter.value = round(det.diameter, 1)
        prefix = f"cytoqa-{det.detector}-"
        routes = ", ".join(f"{k.replace(prefix, '')} {v}" for k, v in
                           zip(*np.unique(det.route.astype(str), return_counts=True)))
        self.status.value = f"{det.count}" + (f" ({routes})" if routes else "")
        um2 = det.area_um2(layer_pixel_size(layer), downsample=self._found[2])
        if um2:  # cells per mm² of the area searched (the region, else the image)
            self.status.value += f" · {det.count / (um2 / 1e6):,.0f}/mm²"
        self._keep_compare()
        if self._compare is not None:
            self.status.value += self._compared(det, layer, level, plane, region)
        if det.labels is None and det.detector != "yolo":  # a big image: boxes or points only
            self.status.value += " · image too large to keep instance labels (boxes shown; Export writes outlines)"
        if det.saturated >= SATURATION_WARNING:  # the warnings say more (exposure, cell size)
            self.status.value += f" · over-exposed? {det.saturated:.0%} saturated"
        if det.warnings:
            for warning in det.warnings:
                show_warning(f"{layer.name}: {warning}")
