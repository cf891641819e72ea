"""Judging every plane of a stack: a focus series' curve and its sharpest plane (no Qt).

A microscope's focus series (a Z stack) holds one in-focus plane or a few; :func:`assess_planes`
runs :func:`~napari_cytoqa.quality.assess_quality` on each plane and returns a
:class:`PlaneSeries`: one row per plane (slide verdict, blur level, grade, …) and the sharpest
plane, the one with the lowest slide blur level. The ``cytoqa qc --plane all`` command and the
QC widget's "Judge every plane" are its twins.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stacks import PlaneRows, check_planes, iter_planes, plane_label, plane_levels, series_planes, stack_shape

__all__ = ["PlaneSeries", "assess_planes", "iter_assess_planes", "plane_label", "plane_levels", "series_planes",
           "stack_shape"]

#: Columns of :attr:`PlaneSeries.table` taken from each plane's report summary.
SUMMARY_COLUMNS = ("verdict", "grade", "blur_level", "p_blurry", "focus", "p_valid")


@dataclass
class PlaneSeries(PlaneRows):
    """What :func:`assess_planes` found: ``table`` has one row per judged plane (``plane``: its
    label, ``index``: its indices, and the slide summary's verdict, grade, blur level, p_blurry,
    focus and p_valid); ``reports`` maps each plane's indices to its
    :class:`~napari_cytoqa.quality.QualityReport`."""

    table: pd.DataFrame
    reports: dict
    done = "judged"

    @classmethod
    def from_reports(cls, pairs) -> PlaneSeries:
        """From ``(plane indices, QualityReport)`` pairs, in the order given."""
        reports = {tuple(int(i) for i in plane): report for plane, report in pairs}
        rows = []
        for plane, report in reports.items():
            s = report.summary()
            rows.append({"plane": plane_label(plane), "index": plane, **{k: s[k] for k in SUMMARY_COLUMNS},
                         **{f"tiles_{k}": v for k, v in s["tiles"].items()}})
        return cls(table=pd.DataFrame(rows), reports=reports)

    @property
    def sharpest(self) -> tuple[int, ...] | None:
        """Indices of the plane with the lowest slide blur level (the first such plane on a tie);
        None when no plane has one (every plane empty or not a cell image)."""
        known = self.table["blur_level"].notna() if len(self.table) else []
        if not np.any(known):
            return None
        levels = self.table.loc[known, "blur_level"].astype(float)
        return self.table.loc[levels.idxmin(), "index"]

    @property
    def tied(self) -> list[tuple[int, ...]]:
        """Every plane at the lowest slide blur level (more than one: :attr:`sharpest` took the first,
        and the check could not tell them apart — e.g. the classical method, whose blur level
        bottoms out at 0 on coarse pyramid levels)."""
        if self.sharpest is None:
            return []
        level = self.row(self.sharpest)["blur_level"]
        return list(self.table.loc[self.table["blur_level"] == level, "index"])


def iter_assess_planes(image, *, planes=None, **options):
    """Generator twin of :func:`assess_planes`: yields ``(done, total)`` tiles over all planes and
    returns the :class:`PlaneSeries`. Closing it stops the work between batches."""
    from .assess import iter_assess_quality

    pairs = yield from iter_planes(image, check_planes(image, planes), iter_assess_quality, **options)
    return PlaneSeries.from_reports(pairs)


def assess_planes(image, *, planes=None, progress=None, cancel=None, **options) -> PlaneSeries:
    """Judge every plane of a stack (or the ``planes`` given) with
    :func:`~napari_cytoqa.quality.assess_quality` and its keyword ``options``.

    Parameters
    ----------
    image : Slide, array-like or list of arrays
        A stack: a Slide with :attr:`~napari_cytoqa.io.Slide.planes`, or an array whose axes
        before Y and X (and colour) index the planes, e.g. ``(Z, Y, X)`` or ``(T, Z, Y, X, 3)``; a
        list is a pyramid whose levels keep those axes.
    planes : iterable, optional
        Plane indices (an int, or one int per axis beside the image plane) to judge, in this
        order; default every plane. :func:`series_planes` builds one axis's series.
    progress, cancel : callable, optional
        As for :func:`~napari_cytoqa.quality.assess_quality`; tiles are counted over all planes.

    Returns
    -------
    PlaneSeries
        ``.table`` (one row per plane), ``.sharpest`` (the lowest slide blur level) and
        ``.reports``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> from napari_cytoqa.synthetic import make_smear
    >>> sharp = make_smear((256, 256), seed=0).image
    >>> stack = np.stack([ndi.gaussian_filter(sharp, (s, s, 0)) for s in (4, 0, 8)])
    >>> series = assess_planes(stack, tile_size=128)
    >>> series.sharpest
    (1,)
    """
    from .._generators import run_tiles

    return run_tiles(iter_assess_planes(image, planes=planes, **options), progress=progress, cancel=cancel,
                     what="quality check of the planes")
