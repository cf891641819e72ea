"""The Quality Control dock widget."""
from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, PushButton, SpinBox, create_widget
from napari.utils.notifications import show_info, show_warning

from .._layers import (add_quality_overlay, composite_layer_data, displayed_plane, layer_levels, layer_pixel_size,
                       upsert_layer)
from .._marks import labels_mask, shapes_areas
from .._qc_marks import disagreement_layer_data, disagreement_name
from ..models import list_models
from ..quality import METHODS, iter_assess_quality
from ..quality.compose import iter_compose_sharpest
from ..quality.int8 import PRECISIONS
from ..quality.learned import DEFAULT_MODEL
from ..quality.planes import PlaneSeries, iter_assess_planes
from ..quality.scale import resolve_pixel_size, scale_hint
from ..stacks import series_planes
from ..tiling import WEIGHTINGS
from ._compare_box import compare_box
from ._jobs import start_job, start_layer_job
from ._planes import PlaneTable, go_to, named, stack_axes

#: Columns of the per-plane table the widget shows, one row per plane (the full table is exported).
PLANE_COLUMNS = ("verdict", "grade", "blur_level", "p_blurry")


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
        self.truth = compare_box(  # outlined or classified areas, painted areas; our overlays and cells are no marks
            (napari.layers.Shapes, napari.layers.Labels),
            "areas you marked: a Shapes layer outlining the out-of-focus areas (tiles inside are blurry, the rest "
            "sharp) or classifying areas sharp / blurry (a QuPath GeoJSON), or a Labels layer painted where it is "
            "blurry; after a run, the tiles' accuracy against them",
            skip=("cytoqa_report", "cytoqa_detections", "cytoqa_disagreements"))
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
            value=True, text="H&&E sections by colour",
            tooltip="count a slide whose stain is hematoxylin-purple and eosin-pink as a cell image where the "
                    "network is unsure (real H&E often looks unlike its training); off: the network alone")
        self.run_button = PushButton(text="Run quality check")
        self.series_axis = ComboBox(choices=lambda _w=None: stack_axes(self.image.value, self._viewer),
                                    label="series axis", tooltip=(
            "of a stack: the axis (e.g. Z) along which 'Judge every plane' judges each plane, the other axes "
            "held at the plane on screen"))
        self.planes_button = PushButton(text="Judge every plane", tooltip=(
            "judge each plane along the series axis, list them, and show the sharpest one (lowest blur level)"))
        self.compose_button = PushButton(text="Compose sharpest tiles", enabled=False, tooltip=(
            "after 'Judge every plane': a new image of each tile's sharpest plane (blended in a narrow band at "
            "the tile borders), all in focus where the specimen is tilted or thick"))
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.verdict = Label(value="", label="slide")
        self.verdict.native.setWordWrap(True)  # a long verdict must not widen the dock
        self.plane_table = PlaneTable(self._plane_clicked, label="planes")
        self.csv_path = FileEdit(mode="w", filter="*.csv", label="CSV", value="tiles.csv")
        self.export_button = PushButton(text="Export tile table", enabled=False)
        self.extend([self.image, self.truth, self.tile_size, self.level, self.method, self.model, self.weighting,
                     self.precision, self.match_scale, self.assume_cells, self.stain_check, self.run_button,
                     self.series_axis, self.planes_button, self.compose_button, self.stop_button, self.verdict,
                     self.plane_table, self.csv_path, self.export_button])
        self.method.changed.connect(self._method_changed)
        self.image.changed.connect(self._image_changed)
        self.run_button.changed.connect(self.run)
        self.planes_button.changed.connect(self.judge_planes)
        self.compose_button.changed.connect(self.compose)
        self.export_button.changed.connect(self.export_csv)
        self.worker = None
        self._compare = None  # the "compare with" layer of the last run
        self._overlay = None  # name of the overlay the last run drew (the export's table)
        self._series = None  # the PlaneSeries of the last "Judge every plane" (exported beside the tiles)
        self._judged = None  # what it judged: (layer, its levels, series axis), for "Compose sharpest tiles"
        self._plane_scores = None  # each plane's scores against the "compare with" marks (with the series)
        self._image_changed(self.image.value)

    def _method_changed(self, method):
        self.model.enabled = self.precision.enabled = method == "learned"

    def _image_changed(self, _layer=None):
        self.series_axis.reset_choices()
        self.series_axis.visible = bool(self.series_axis.choices)
        if self._judged is not None and self._judged[0] is not self.image.value:  # another layer's planes
            self.plane_table.visible = False
        if self.run_button.enabled:  # not while a job runs: its end refreshes them
            self._refresh_buttons()

    @property
    def _buttons(self):
        """The buttons that start jobs: disabled while one runs."""
        return self.run_button, self.planes_button, self.compose_button

    def _refresh_buttons(self):
        """Enable the buttons that have something to act on: "Judge every plane" for a stack,
        "Compose sharpest tiles" after a judged series with a sharpest plane."""
        self.planes_button.enabled = bool(self.series_axis.choices)
        self.compose_button.enabled = self._series is not None and self._series.sharpest is not None

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

    def _options_warned(self, layer) -> dict:
        """:meth:`options`, with a warning where "judge at 0.5 µm/px" finds no pixel size to use, or,
        unchecked, where the layer's pixel size is one it would have binned (the core's hint)."""
        options = self.options(layer)
        if self.match_scale.value and options["pixel_size"] is None:
            show_warning(f"{layer.name} has no pixel size in length units: analysed at its own pixels.")
        elif not self.match_scale.value and layer_pixel_size(layer) is not None:
            levels = layer_levels(layer)
            y = -3 if layer.rgb else -2
            down = levels[0].shape[y] / levels[min(options["level"], len(levels) - 1)].shape[y]
            hint = scale_hint(resolve_pixel_size(None, layer_pixel_size(layer)) * down)
            if hint:
                show_warning(f"{layer.name}: {hint}")
        return options

    def run(self):
        """Start the quality check of the chosen layer in a worker thread."""
        layer = self.image.value
        if layer is None:
            show_warning("Choose an image layer first.")
            return
        options = self._options_warned(layer)
        self._compare = self.truth.value  # the marked areas, as chosen when the run starts
        start_layer_job(self, layer, iter_assess_quality, options, what="Quality check of", status=self.verdict,
                        on_done=lambda report, plane, level: self._show(report, layer, plane),
                        buttons=self._buttons, on_finish=self._refresh_buttons)

    def judge_planes(self):
        """Judge every plane of the chosen stack along the series axis (the other axes at the plane on
        screen) in a worker thread; then list them, move the viewer to the sharpest and draw its overlay."""
        layer = self.image.value
        if layer is None or not self.series_axis.choices:
            show_warning("Choose an image layer that is a stack (Z, time, …) first.")
            return
        at = displayed_plane(layer, self._viewer)
        levels = layer_levels(layer)
        planes = series_planes(levels[0].shape[:len(at)], axis=self.series_axis.value, at=at)
        options = self._options_warned(layer)
        options["level"] = min(options["level"], len(levels) - 1)
        self._compare, self._plane_scores = self.truth.value, None
        self.verdict.value = f"judging {len(planes)} planes…"
        self._judged = (layer, levels, self.series_axis.value)
        self.worker = start_job(lambda: iter_assess_planes(levels, planes=planes, **options),
                                description=f"Quality check of every plane of {layer.name}",
                                on_done=lambda series: self._show_series(series, layer),
                                on_error=lambda err: setattr(self.verdict, "value", "failed"),
                                on_abort=lambda: setattr(self.verdict, "value", "stopped"),
                                buttons=self._buttons, stop_button=self.stop_button, on_finish=self._refresh_buttons)

    def compose(self):
        """Put each tile's sharpest plane of the last judged series together, in a worker thread, as a
        new image layer ``<name> [sharpest tiles]`` (see :func:`~napari_cytoqa.quality.compose_sharpest`)."""
        series = self._series
        if series is None or series.sharpest is None or self._judged is None:
            show_warning("Judge every plane of a stack first.")
            return
        layer, levels, axis = self._judged
        best, level = series.sharpest, next(iter(series.reports.values())).level
        self.worker = start_job(lambda: iter_compose_sharpest(levels, series),
                                description=f"Composite of the sharpest tiles of {layer.name}",
                                on_done=lambda image: upsert_layer(self._viewer, composite_layer_data(
                                    image, layer, level=level, plane=best, axis=axis)),
                                buttons=self._buttons, stop_button=self.stop_button, on_finish=self._refresh_buttons)

    def _show_series(self, series, layer):
        best, table = series.sharpest, series.table
        shown = table[list(PLANE_COLUMNS)].round({"blur_level": 2, "p_blurry": 2})
        marked = self._compare is not None and self._compare in self._viewer.layers
        pooled = self._compared_planes(series, layer, shown) if marked else ""
        self.plane_table.show_planes(shown, table["index"], select=best)
        sharp = int((table["verdict"] == "sharp").sum())
        if best is None:
            self._series = series
            self.verdict.value = f"no plane has a blur level ({len(table)} judged: empty or not cell images)"
            self.export_button.enabled = False
            return
        go_to(self._viewer, layer, best)
        self._show(series.reports[best], layer, best)
        self._series = series  # after _show, which forgets the last series
        row = series.row(best)
        tie = f" (tied with {len(series.tied) - 1} more)" if len(series.tied) > 1 else ""
        self.verdict.value = (f"sharpest plane {named(best)}{tie}: blur level {row['blur_level']:.1f} · "
                              f"{sharp} of {len(table)} planes sharp\n" + self.verdict.value + pooled)

    def _plane_clicked(self, plane):
        """A click on a row of the plane table shows that plane (the overlay stays the sharpest's)."""
        layer = self.image.value
        if layer is not None and layer.ndim - 2 == len(plane):
            go_to(self._viewer, layer, plane)

    def _show(self, report, layer, plane=()):
        self._overlay = add_quality_overlay(self._viewer, report, layer, plane=plane).name
        s = report.summary()
        p = "–" if s["p_blurry"] is None else f"{s['p_blurry']:.2f}"
        binned = f" · {s['binning']}× binned" if s["binning"] > 1 else ""
        why = {"assumed": " · validity assumed", "stain": " · a cell image by its H&E colour"}
        binned += why.get(s["validity"], "")
        self.verdict.value = (f"{s['verdict']} · grade {s['grade'] or '–'} · p_blurry {p}{binned}\n"
                              + " · ".join(f"{k} {v}" for k, v in s["tiles"].items()))
        marked = None
        if self._compare is not None and self._compare in self._viewer.layers:  # the tiles vs the marked areas
            line, marked = self._compared(report, layer, plane)
            self.verdict.value += "\n" + line
            if marked is not None:  # each tile's mark, exported beside its verdict
                overlay = self._viewer.layers[self._overlay]
                overlay.metadata["cytoqa_tiles"] = report.tiles.assign(marked=list(marked))
        self._draw_disagreements(report, layer, plane, marked)  # none compared: an earlier one goes
        self.export_button.enabled = True
        self._series = None

    def _draw_disagreements(self, report, layer, plane, marked) -> None:
        """Outline in red the tiles whose verdict the marks contradict (``<image> QC vs marks``; an earlier
        such layer goes when there are none, or no marks: ``marked`` None)."""
        data = None if marked is None else disagreement_layer_data(report, marked, layer, plane=plane)
        name = disagreement_name(layer, plane)
        if data is not None:
            upsert_layer(self._viewer, data)
        elif name in self._viewer.layers and "cytoqa_disagreements" in self._viewer.layers[name].metadata:
            self._viewer.layers.remove(name)

    def _truth(self, report, layer, plane):
        """Each tile's mark in the "compare with" layer on ``plane``: blurry, sharp or "" (unmarked);
        ValueError for a Labels layer of another stack."""
        from ..quality.compare import mask_truth, tile_truth

        marked = self._compare
        if marked._type_string == "labels":
            mask, to_mask = labels_mask(marked, layer, plane=plane)
            return mask_truth(report.tiles, mask, to_mask) if mask is not None else [""] * len(report.tiles)
        return tile_truth(report.tiles, *shapes_areas(marked, layer, plane=plane))

    def _compared(self, report, layer, plane) -> tuple[str, list | None]:
        """The tiles' sharp/blurry verdicts against the "compare with" layer's marked areas: the status
        line and each tile's mark (None where it could not be compared)."""
        from ..quality.compare import focus_line, focus_scores

        try:
            truth = self._truth(report, layer, plane)
        except ValueError as err:  # labels of another stack
            return f"not compared: {err}", None
        return focus_line(focus_scores(report.tiles, truth), self._compare.name), truth

    def _compared_planes(self, series, layer, shown) -> str:
        """Every judged plane against the "compare with" layer's marks on that plane (all of a 2-D
        layer's): columns ``marked`` (tiles scored) and ``accuracy`` of the plane table ``shown``,
        and the pooled scores as a line for the status."""
        from ..quality.compare import focus_line, focus_scores

        verdicts, truths, rows = [], [], []
        for plane in series.table["index"]:
            report = series.reports[tuple(plane)]
            try:
                truth = np.asarray(self._truth(report, layer, plane), dtype=object)
            except ValueError as err:
                return f"\nnot compared: {err}"
            s = focus_scores(report.tiles, truth)
            rows.append({"truth_tiles": s["tiles"], "focus_accuracy": s["accuracy"],
                         "blurry_recall": s["blurry_recall"], "sharp_recall": s["sharp_recall"]})
            verdicts.append(np.asarray(report.tiles["verdict"], dtype=object))
            truths.append(truth)
        self._plane_scores = {k: [r[k] for r in rows] for k in rows[0]}  # the planes CSV's, as cytoqa qc --truth
        shown["marked"] = self._plane_scores["truth_tiles"]
        shown["accuracy"] = [round(r["focus_accuracy"], 2) if r["truth_tiles"] else np.nan for r in rows]
        pooled = focus_scores({"verdict": np.concatenate(verdicts)}, np.concatenate(truths))
        if not pooled["tiles"]:
            return f"\n{self._compare.name}: no marked tile with cells on any plane"
        return f"\nall {len(truths)} planes {focus_line(pooled)}"

    def export_csv(self):
        """Write the tile table of the last run's overlay to the chosen CSV path; after "Judge every
        plane", the per-plane table too, beside it as ``<name>_planes.csv``. Written in a worker thread,
        each file whole or not at all (a slide's table at small tiles runs to many thousand rows)."""
        from .._files import atomic_write

        name = self._overlay
        if name is None or name not in self._viewer.layers or "cytoqa_tiles" not in self._viewer.layers[name].metadata:
            show_warning("Run the quality check first.")
            return
        path = Path(self.csv_path.value).expanduser().resolve()
        tiles, series = self._viewer.layers[name].metadata["cytoqa_tiles"], self._series
        if series is not None and self._plane_scores is not None:  # compared plane by plane: their scores too
            series = PlaneSeries(table=series.table.assign(**self._plane_scores), reports=series.reports)

        def job():
            yield 0, 1
            written = [atomic_write(path, lambda tmp: tiles.to_csv(tmp, index=False))]
            if series is not None:
                written.append(series.to_csv(path.with_name(f"{path.stem}_planes.csv")))
            return written

        # a missing folder, no permission, a full disk: start_job says "Writing the tile table to … failed: …"
        self.export_worker = start_job(job, description=f"Writing the tile table to {path}",
                                       on_done=lambda written: show_info("Wrote " + " and ".join(map(str, written))),
                                       buttons=(self.export_button,))
