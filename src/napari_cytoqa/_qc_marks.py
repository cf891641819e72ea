"""The QC tiles whose sharp/blurry verdict differs from the areas the user marked ("compare with"),
drawn as a Shapes layer over the overlay so that the disagreements show at a glance (napari-side;
the scores are :mod:`napari_cytoqa.quality.compare`)."""
from __future__ import annotations

import numpy as np

from ._layers import MAX_SHAPES, TEXT_PER_TILE, _placement, result_name, tile_rectangles

#: edge colour of a tile the check and the marks disagree on (none of the verdict colours)
DISAGREE_COLOR = "#ff3b30"


def disagreement_name(source, plane: tuple = ()) -> str:
    return f"{result_name(source, plane)} QC vs marks"


def disagreement_layer_data(report, truth, source=None, *, plane: tuple = ()) -> tuple | None:
    """``(data, kwargs, "shapes")`` of the tiles of ``report`` called sharp or blurry against a mark of
    ``truth`` (one per tile: "blurry", "sharp" or "" for unmarked, :func:`~napari_cytoqa.quality.
    compare.tile_truth`) that says otherwise: a red rectangle each, its verdict and mark as
    features (and as text up to 400 tiles). None where there is no such tile, or more than
    :data:`~napari_cytoqa._layers.MAX_SHAPES` (too many to draw as shapes)."""
    df = report.tiles
    verdict = np.asarray(df["verdict"], dtype=object)
    mark = np.asarray(truth, dtype=object)
    wrong = np.isin(verdict, ["sharp", "blurry"]) & (mark != "") & (verdict != mark)
    if not wrong.any() or wrong.sum() > MAX_SHAPES:
        return None
    import pandas as pd

    place = _placement(source)
    rects, height, side = tile_rectangles(df[wrong], place)
    features = pd.DataFrame({"verdict": verdict[wrong], "marked": mark[wrong]})
    kwargs = {"name": disagreement_name(source, plane), "shape_type": "rectangle", "edge_color": DISAGREE_COLOR,
              "face_color": "transparent", "edge_width": max(2.0, 0.08 * height),
              "features": features, "metadata": {"cytoqa_disagreements": int(wrong.sum())}, **place}
    if wrong.sum() <= 400:  # below the overlay's own text (blur level, grade at the centre), inside the tile
        kwargs["text"] = {"string": "marked {marked}", "size": 0.7 * TEXT_PER_TILE * side, "scaling": True,
                          "color": DISAGREE_COLOR, "anchor": "center", "translation": [0.33 * height, 0.0]}
    return rects, kwargs, "shapes"
