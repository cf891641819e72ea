"""What the QC and detection widgets share for stacks: the series axis to choose, the per-plane
table, and moving the viewer to a plane."""
from __future__ import annotations

import numpy as np
from magicgui.widgets import Table
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QStyledItemDelegate

from .._layers import layer_levels
from .._layers import plane_name as named


def stack_axes(layer, viewer) -> list:
    """``layer``'s axes beside the image plane as (label, axis) choices, the longest first (a focus
    series or a time-lapse usually has more planes than channels); empty for a 2-D image."""
    if layer is None or layer.ndim <= 2:
        return []
    lead = layer.ndim - 2
    shape = layer_levels(layer)[0].shape[:lead]
    names = [str(n) for n in list(viewer.dims.axis_labels)[-layer.ndim:][:lead]]
    names = [f"axis {a}" if n.lstrip("-").isdigit() else n for a, n in enumerate(names)]  # napari's "-3"
    order = sorted(range(lead), key=lambda a: -shape[a])
    return [(f"{names[a]} ({shape[a]} planes)", a) for a in order]


def go_to(viewer, layer, plane) -> None:
    """Move the viewer's sliders to ``plane`` of ``layer`` (indices on its axes before Y and X)."""
    data = np.zeros(layer.ndim)
    data[:len(plane)] = plane
    world = np.asarray(layer.data_to_world(data), float)
    offset = viewer.dims.ndim - layer.ndim
    for axis in range(len(plane)):
        viewer.dims.set_point(offset + axis, world[axis])


class PlaneTable(Table):
    """A read-only table with one row per plane (row headers: the planes); a click on a row calls
    ``on_click(plane)``."""

    def __init__(self, on_click, **kwargs):
        super().__init__(value=None, visible=False, **kwargs)
        self.read_only = True
        # magicgui's delegate re-reads number text (0.08 -> "8.000e-02", 2.55 -> "2.5500"): show ours as it is
        self.native.setItemDelegate(QStyledItemDelegate(self.native))
        self.planes = []
        self.native.cellClicked.connect(lambda row, _col: 0 <= row < len(self.planes) and on_click(self.planes[row]))

    def show_planes(self, frame, planes, select=None) -> None:
        """Show ``frame`` (a DataFrame, one row per plane of ``planes``; NaN shown as "–"), and
        highlight and scroll to the row of plane ``select``."""
        self.planes = list(planes)
        shown = frame.astype(object).where(frame.notna(), "–").astype(str)  # float columns take no "–" fill
        self.value = {"data": shown.values.tolist(), "index": [named(p) for p in self.planes],
                      "columns": [c.replace("_", " ") for c in frame.columns]}
        self.native.resizeColumnsToContents()
        self.visible = True
        if select is not None:
            view = self.native
            view.selectRow(self.planes.index(select))
            QTimer.singleShot(0, lambda: view.scrollTo(view.currentIndex(), view.ScrollHint.PositionAtCenter))
