"""What the Cell Detection widget does with a run's cells beyond drawing them: compare them with
annotated cells ("compare with") and export them (CSV + GeoJSON). Thin: the work is
:mod:`napari_cytoqa.detection.compare` and :mod:`napari_cytoqa.detection.export`."""
from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_info, show_warning

from .._geojson_layers import frame_metadata
from .._layers import layer_pixel_size
from .._marks import labels_boxes, points_yx, shapes_boxes
from ._jobs import start_job


class CellResults:
    """Mixin of :class:`~napari_cytoqa._widgets.detection_widget.DetectionWidget`: needs its ``truth``
    box (a Shapes, Points or Labels layer, or None), ``csv_path``, ``qupath_cells``, ``_viewer`` and
    ``_found`` (the last run: cells, layer, downsample, plane)."""

    #: The "compare with" layer when the last run started (the box may lose it while results are drawn).
    _compare = None

    def _keep_compare(self) -> None:
        """Show the run's "compare with" layer in its box again: renaming an edited result layer that
        it was ("(edited)") makes napari's layer box forget it."""
        if self._compare is not None and self.truth.value is None and self._compare in self._viewer.layers:
            self.truth.reset_choices()
            self.truth.value = self._compare

    def _truth_of(self, layer, level):
        """``(truth_of(plane), points)``: the "compare with" layer's boxes (of its shapes, or of its
        instances for a Labels layer) — or, for a Points layer, its points (a detection is right when a
        point lies in its box) — on a plane."""
        from napari.layers import Labels, Points

        truth = self._compare
        points = isinstance(truth, Points)
        read = points_yx if points else labels_boxes if isinstance(truth, Labels) else shapes_boxes
        return (lambda plane: read(truth, layer, level=level, plane=plane)), points

    def _compared(self, det, layer, level, plane, region) -> str:
        """The run's scores against the annotated cells of the "compare with" layer (inside the region)."""
        from ..detection.compare import point_scores, score_line, truth_errors, truth_scores

        truth_of, points = self._truth_of(layer, level)
        try:
            truth = truth_of(plane)
        except ValueError as err:  # labels of another stack: say so beside the count
            return f" · not compared: {err}"
        scores, n = (point_scores if points else truth_scores)(det, truth, region=region)
        if not n:
            return f" · {self._compare.name}: no annotated cell here to compare with"
        errors = truth_errors(det, truth, region=region, points=points)
        return " · " + score_line(scores, n, errors) + (" (points in boxes)" if points else "")

    def _compared_planes(self, found, layer, level, region, shown) -> str:
        """Each plane's run against the "compare with" layer's cells on that plane (all of a 2-D layer's):
        columns of the plane table, and the pooled precision, recall and F1 for the count line."""
        from ..detection.compare import plane_scores, pooled_line

        truth_of, points = self._truth_of(layer, level)
        try:
            table = plane_scores(found, truth_of, region=region, points=points)
        except ValueError as err:
            return f" · not compared: {err}"
        shown["annotated"] = table["annotated"].to_numpy()
        shown["AP@0.5"], shown["F1"] = table["ap50"].round(2).to_numpy(), table["f1"].round(2).to_numpy()
        line = pooled_line(table) or f"{self._compare.name}: no annotated cell on these planes to compare with"
        return f" · {line}"

    def export_cells(self):
        """Write the last run's cells as the chosen CSV, as GeoJSON beside it (outlines where labels were
        kept, else boxes) and, after
        "Detect in every plane", the count per plane (:func:`~napari_cytoqa.detection.export.write_cells`,
        what ``cytoqa detect`` writes)."""
        from ..detection.export import in_file_planes, write_cells
        from ..quality.scale import resolve_pixel_size

        if self._found is None:
            show_warning("Detect cells first.")
            return
        found, layer, down, plane = self._found
        path = Path(self.csv_path.value).expanduser().resolve()
        grow, size = float(self.qupath_cells.value), layer_pixel_size(layer)
        if grow and not size:
            show_warning(f"{layer.name} records no pixel size (its scale is not in µm): QuPath cells need one.")
            return
        if grow and all(d.labels is None and d.outlines is None
                        for d in getattr(found, "detections", {None: found}).values()):
            show_info("YOLO finds boxes, not nuclei: the cells are exported as QuPath detections, not cells.")
        frame = frame_metadata(layer, plane).get("cytoqa_frame")
        found, plane = in_file_planes(found, plane, (frame or {}).get("channel"))  # one channel of a file: its planes
        options = {"pixel_size_um": size, "plane": plane, "downsample": down, "frame": frame,
                   "cell_expansion": grow / resolve_pixel_size(None, size) / down if grow else 0.0}

        def job():  # outlines of a whole level's cells take seconds: off the GUI thread
            yield 0, 1
            return write_cells(path, found, **options)

        # a missing folder, no permission, a full disk: start_job says "Writing the cells to … failed: …"
        self.export_worker = start_job(job, description=f"Writing the cells to {path}",
                                       on_done=lambda written: show_info("Wrote " + ", ".join(map(str, written))),
                                       buttons=(self.export_button,))
