"""The :class:`QualityReport`: one row per tile plus a slide-level verdict."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import atomic_write
from ..tiling import aggregate
from .calibration import GRADES

VERDICTS = ("sharp", "blurry", "empty", "invalid")


@dataclass
class QualityReport:
    """Result of :func:`~napari_cytoqa.assess_quality`.

    ``tiles`` has one row per tile with (at least) ``y0, x0, y1, x1`` (level-0
    pixels, end exclusive), ``p_blurry``, ``focus`` (1 = sharp, 0 = blur level
    10), ``blur_level``, ``p_valid``, ``valid``, ``grade``, ``verdict`` and
    ``weight`` (its share in the slide aggregate). Slide-level values are
    weighted aggregates over usable tiles with ``weighting``.
    """

    tiles: pd.DataFrame
    p_blurry: float
    focus: float
    blur_level: float
    p_valid: float
    valid: bool
    grade: str
    verdict: str
    method: str
    weighting: str
    tile_size: tuple
    stride: tuple
    level: int
    downsample: tuple
    image_shape: tuple
    exposure: dict = field(default_factory=dict)
    dark_ring: bool = False
    #: number format the learned network ran in ("fp32", "bf16", "int8"); "" for classical
    precision: str = ""
    #: level-0 pixel size (µm) the check was told (None: not given) and the binning it led to
    pixel_size_um: float | None = None
    binning: int = 1
    #: "judged" (by the check), "assumed" (``assume_valid=True``: every tile counted valid) or
    #: "stain" (an H&E section by its colour, ``stain_check=True``: every tile counted valid)
    validity: str = "judged"
    #: the colour shares :func:`~napari_cytoqa.quality.stain_check.he_shares` measured and whether
    #: they say "H&E section" (``section``); empty where the check did not run (off, or the
    #: network's ``p_valid`` outside [``MIN_P_VALID``, 0.5): the colour had nothing to decide)
    stain_check: dict = field(default_factory=dict)
    #: what the user should know about the result (e.g. a finely sampled slide judged at its own
    #: pixels, :func:`~napari_cytoqa.quality.scale.scale_hint`); also logged
    warnings: list = field(default_factory=list)

    @property
    def counts(self) -> dict:
        vc = self.tiles["verdict"].value_counts()
        return {v: int(vc.get(v, 0)) for v in VERDICTS}

    def summary(self) -> dict:
        """JSON-ready slide summary."""
        def num(x):
            return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else round(float(x), 4)

        return {
            "verdict": self.verdict, "grade": self.grade, "p_blurry": num(self.p_blurry),
            "focus": num(self.focus), "blur_level": num(self.blur_level),
            "p_valid": num(self.p_valid), "valid": bool(self.valid), "validity": self.validity,
            "dark_ring": bool(self.dark_ring),
            "exposure": self.exposure, "tiles": self.counts, "n_tiles": len(self.tiles),
            "method": self.method, "precision": self.precision, "weighting": self.weighting,
            "tile_size": [int(v) for v in self.tile_size],
            "stride": [int(v) for v in self.stride], "level": int(self.level),
            "downsample": [float(v) for v in self.downsample],
            "image_shape": [int(v) for v in self.image_shape],
            "pixel_size_um": num(self.pixel_size_um), "binning": int(self.binning),
            "stain_check": {k: (bool(v) if isinstance(v, (bool, np.bool_)) else num(v))
                            for k, v in self.stain_check.items()},
            "warnings": list(self.warnings),
        }

    def to_csv(self, path) -> Path:
        return atomic_write(path, lambda tmp: self.tiles.to_csv(tmp, index=False))

    def to_geojson(self, frame: dict | None = None, *, plane: tuple = ()) -> dict:
        """The tiles as a GeoJSON FeatureCollection in level-0 pixels for QuPath: one rectangle per
        tile, classified by its verdict (in the overlay's colours), its scores as measurements and
        its grade as a property; ``frame``: the image's ``cytoqa_frame`` (see
        :mod:`napari_cytoqa.io.geojson`); ``plane``: the plane of a stack the report judged."""
        from ..io.geojson import feature_collection, feature_properties, shape_feature
        from .render import VERDICT_COLORS

        columns = [c for c in ("verdict", "grade", "blur_level", "p_blurry", "focus", "p_valid", "content", "weight",
                               "flag") if c in self.tiles]
        features = []
        for row in self.tiles[columns + ["y0", "x0", "y1", "x1"]].to_dict("records"):
            y0, x0, y1, x1 = (float(row.pop(k)) for k in ("y0", "x0", "y1", "x1"))
            props = feature_properties(row, object_type="detection", plane=plane)  # QuPath: many, light, not edited
            if "classification" in props:
                props["classification"]["color"] = list(VERDICT_COLORS[row["verdict"]][:3])
            features.append(shape_feature([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], "rectangle", props))
        return feature_collection(features, frame)

    def to_json(self, path) -> Path:
        text = json.dumps(self.summary(), indent=2)
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _dark_ring(df: pd.DataFrame) -> bool:
    if df.empty or df["dark"].max() <= 0:
        return False
    border = ((df["row"] == 0) | (df["col"] == 0) |
              (df["row"] == df["row"].max()) | (df["col"] == df["col"].max()))
    inner = df.loc[~border, "dark"]
    inner_dark = float(inner.mean()) if len(inner) else 0.0
    return bool(df.loc[border, "dark"].mean() > 0.3 and inner_dark < 0.15)


def slide_p_valid(p_valid, has_content, weight) -> float:
    """The slide's aggregated ``p_valid`` from per-tile arrays: over tiles with content (blank
    tiles say nothing), with the tile weights; over every tile where none has content."""
    p_valid, weight = np.asarray(p_valid, float), np.asarray(weight, float)
    content = np.asarray(has_content, bool)
    return aggregate(p_valid[content], weight[content]) if content.any() else aggregate(p_valid, weight)


def slide_summary(df: pd.DataFrame, stats, assume_valid: bool = False) -> dict:
    """Slide-level aggregates of a finished tile table (weights already in ``df.weight``);
    ``assume_valid``: the slide is a cell image whatever its aggregated ``p_valid``, valid
    where any tile with content is usable."""
    usable = df["valid"] & df["has_content"]
    w = df["weight"].to_numpy()
    if usable.any():
        p_blurry = aggregate(df.loc[usable, "p_blurry"], w[usable])
        focus = aggregate(df.loc[usable, "focus"], w[usable])
        level = aggregate(df.loc[usable, "blur_level"], w[usable])
        rank = aggregate(df.loc[usable, "grade"].map(GRADES.index), w[usable])
    else:
        p_blurry = focus = level = rank = float("nan")
    p_valid = slide_p_valid(df["p_valid"], df["has_content"], w)
    valid = bool(usable.any()) if assume_valid else bool(p_valid >= 0.5 and df["has_content"].any())
    if not valid:
        verdict = "invalid" if df["has_content"].any() else "empty"
    else:
        verdict = "blurry" if p_blurry >= 0.5 else "sharp"
    grade = GRADES[int(round(rank))] if valid and np.isfinite(rank) else \
        ("bad" if verdict == "invalid" else "")
    fs = stats.full_scale
    exposure = {
        "underexposed": bool(stats.polarity == "dark_on_light" and stats.background < 0.35 * fs),
        "overexposed": bool(df["clipped"].mean() > 0.5),
        "low_contrast": bool(stats.range < 0.05 * fs),
    }
    return dict(p_blurry=p_blurry, focus=focus, blur_level=level, p_valid=p_valid, valid=valid,
                verdict=verdict, grade=grade, exposure=exposure, dark_ring=_dark_ring(df))
