"""A quality check against the areas a person marked blurry or sharp on the slide (GUI-free): the QC
widget's "compare with" and ``cytoqa qc --truth`` — the focus model measured on the user's own
slides, the real data the held-out figures lack.

The protocol is the simplest one to draw: outline the out-of-focus areas. A tile whose centre lies
in one of them is blurry, every other tile sharp. Where some areas are classified (a QuPath
classification or a ``class`` feature), those named like "sharp" / "in focus" mark sharp tiles and
those named like "blurry" / "out of focus" blurry ones; then only tiles inside a marked area count.
Or paint them: in a mask (a Labels layer, a mask image) the tiles whose centre is painted (not 0)
are blurry, the others sharp. Empty and invalid tiles (background, not cells) are never scored: focus
has no meaning there.
"""
from __future__ import annotations

import numpy as np

#: Class names (lower case, substrings) that mark an area blurry; tested before the sharp ones, so
#: that "out of focus" is not taken for "focus".
BLURRY_NAMES = ("blur", "out of focus", "out-of-focus", "out_of_focus", "not in focus", "unfocus", "defocus",
                "unsharp", "not sharp", "soft")
#: Class names that mark an area sharp.
SHARP_NAMES = ("sharp", "in focus", "in-focus", "focused", "crisp")


def area_mark(name) -> str | None:
    """``"blurry"``, ``"sharp"`` or None (no class: an outlined area, blurry by the protocol;
    another class: not a focus mark, "unknown")."""
    if name is None or (isinstance(name, float) and not np.isfinite(name)) or not str(name).strip():
        return None
    text = str(name).lower()
    if any(k in text for k in BLURRY_NAMES):
        return "blurry"
    if any(k in text for k in SHARP_NAMES):
        return "sharp"
    return "unknown"


def tile_truth(tiles, polygons, classes=None) -> np.ndarray:
    """The marked focus of each tile of a :class:`~napari_cytoqa.quality.QualityReport`'s ``tiles``
    (``y0 x0 y1 x1`` in level-0 pixels): ``"blurry"``, ``"sharp"`` or ``""`` (not marked), by the
    area its centre lies in. ``polygons``: ``(k, 2)`` ``(y, x)`` rings in level-0 pixel edges;
    ``classes``: one name (or None) per polygon. Areas with a class that is no focus mark are left
    out; where no area is classified sharp, tiles outside every blurry area are sharp; with no focus
    mark at all, no tile is marked."""
    from ..detection.region import points_inside

    classes = list(classes) if classes is not None else [None] * len(polygons)
    marks = [area_mark(c) for c in classes]
    blurry = [p for p, m in zip(polygons, marks) if m in (None, "blurry")]
    sharp = [p for p, m in zip(polygons, marks) if m == "sharp"]
    centres = tile_centres(tiles)
    if not blurry and not sharp:  # nothing marked for focus (no areas, or only other classes)
        return np.full(len(centres), "", dtype=object)
    out = np.full(len(centres), "" if sharp else "sharp", dtype=object)
    if sharp:
        out[points_inside(centres, sharp)] = "sharp"
    if blurry:
        out[points_inside(centres, blurry)] = "blurry"  # an area marked both ways: blurry wins
    return out


def tile_centres(tiles) -> np.ndarray:
    """``(N, 2)`` ``(y, x)`` centres of the tiles (level-0 pixel edges)."""
    y0, x0, y1, x1 = (np.asarray(tiles[c], float) for c in ("y0", "x0", "y1", "x1"))
    return np.stack([(y0 + y1) / 2, (x0 + x1) / 2], 1)


def mask_truth(tiles, mask, to_mask=None) -> np.ndarray:
    """The marked focus of each tile from a painted mask (a Labels layer, a mask image): ``"blurry"``
    where the mask is not 0 at the tile's centre, ``"sharp"`` where it is 0, ``""`` where the centre
    lies outside the mask. ``to_mask`` maps ``(N, 2)`` level-0 pixel-centre coordinates (pixel ``i`` at
    ``i``) to the mask's; default: the mask is in level-0 pixels."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask of marked areas must be 2-D (one plane), got shape {mask.shape}")
    at = tile_centres(tiles) - 0.5
    idx = np.rint(to_mask(at) if to_mask is not None else at).astype(int)
    inside = np.all((idx >= 0) & (idx < np.array(mask.shape)), axis=1)
    out = np.full(len(idx), "", dtype=object)
    values = mask[idx[inside, 0], idx[inside, 1]]
    out[inside] = np.where(values != 0, "blurry", "sharp")
    return out


def focus_scores(tiles, truth) -> dict:
    """The check's sharp/blurry verdicts against ``truth`` (:func:`tile_truth`), over the tiles that
    are marked and that the check called sharp or blurry: ``tiles`` (how many), ``accuracy``,
    ``blurry_recall`` (marked blurry, called blurry), ``sharp_recall``, and the counts
    ``blurry_called_sharp`` and ``sharp_called_blurry``; NaN figures where a class has no tile."""
    verdict = np.asarray(tiles["verdict"], dtype=object)
    truth = np.asarray(truth, dtype=object)
    scored = (truth != "") & np.isin(verdict, ["sharp", "blurry"])
    t, v = truth[scored], verdict[scored]

    def share(mask):
        return float(mask.mean()) if mask.size else float("nan")

    return {"tiles": int(scored.sum()), "accuracy": share(t == v),
            "blurry_recall": share(v[t == "blurry"] == "blurry"), "sharp_recall": share(v[t == "sharp"] == "sharp"),
            "blurry_called_sharp": int(((t == "blurry") & (v == "sharp")).sum()),
            "sharp_called_blurry": int(((t == "sharp") & (v == "blurry")).sum())}


def focus_line(scores: dict, name: str = "") -> str:
    """``vs N marked tiles: accuracy …, blurry found …, sharp kept …`` (the QC widget's status)."""
    if not scores["tiles"]:
        return f"{name}: no marked tile with cells to compare with" if name else "no marked tile to compare with"

    def pct(v):
        return "–" if not np.isfinite(v) else f"{v:.0%}"

    return (f"vs {scores['tiles']} marked tiles: accuracy {pct(scores['accuracy'])}, blurry found "
            f"{pct(scores['blurry_recall'])}, sharp kept {pct(scores['sharp_recall'])}")
