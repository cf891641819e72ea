"""napari-cytoqa: slide quality control, blur-robust cell detection and stain transfer.

The public, GUI-free API::

    from napari_cytoqa import read_slide, assess_quality
    slide = read_slide("slide.ome.tif")
    report = assess_quality(slide, tile_size=512)
    report.tiles          # one row per tile
    report.verdict        # slide verdict
    restained = transfer_stain(image, method="macenko", reference=lab_b_image)
"""
from ._layers import displayed_plane, layer_levels
from .detection import Detections, PlaneDetections, detect_cells, detect_planes, iter_detect_cells
from .io import Slide, SlideReadError, read_slide
from .quality import (PlaneSeries, QualityReport, assess_planes, assess_quality, compose_sharpest,
                      iter_assess_quality)
from .stain import fit_target, iter_transfer_stain, transfer_stain
from .tiling import aggregate, stitch, tile_grid

__version__ = "0.1.0"


def add_quality_overlay(viewer, report, source=None, **kwargs):
    """Draw (or update) a :class:`QualityReport` overlay in a napari viewer (see :mod:`._layers`)."""
    from ._layers import add_quality_overlay as _add

    return _add(viewer, report, source, **kwargs)


def add_detection_layers(viewer, det, source=None, *, level: int = 0, plane: tuple = ()):
    """Draw (or update) detection results: labels, boxes (points beyond 2,000) and per-tile counts.
    ``plane``: for a stack, the indices before Y and X of the plane ``det`` is of (named in the layers)."""
    from ._layers import add_detection_layers as _add

    return _add(viewer, det, source, level=level, plane=plane)


def add_stain_layer(viewer, result, source, label: str, *, level: int = 0, plane: tuple = ()):
    """Add (or update) a stain-transfer result as an image layer on ``source``'s grid (see :mod:`._layers`)."""
    from ._layers import add_stain_layer as _add

    return _add(viewer, result, source, label, level=level, plane=plane)


__all__ = ["Detections", "PlaneDetections", "PlaneSeries", "QualityReport", "Slide", "SlideReadError",
           "add_detection_layers", "add_quality_overlay", "add_stain_layer", "aggregate", "assess_planes",
           "assess_quality", "compose_sharpest", "detect_cells", "detect_planes", "displayed_plane", "fit_target",
           "iter_assess_quality", "iter_detect_cells", "iter_transfer_stain", "layer_levels", "read_slide", "stitch",
           "tile_grid", "transfer_stain"]
