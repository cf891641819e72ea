"""The shipped default quality model, in a fresh install with no network."""
import numpy as np
import pytest

from napari_cytoqa import assess_quality
from napari_cytoqa.models import get_model, list_models
from napari_cytoqa.synthetic import dark_ring, fluorescence_series, smear_series
from napari_cytoqa.synthetic.noncell import make_non_cell


def test_default_model_is_bundled_and_hash_checked():
    [spec] = [s for s in list_models(task="quality") if s.name == "cytoqa-quality"]
    assert spec.source == "bundled" and len(spec.sha256) == 64
    assert spec.weights_path().stat().st_size < 5e6
    assert spec.metrics and spec.data.get("recipe") == "scripts/train_quality.py"
    loaded = get_model("cytoqa-quality", device="cpu")
    assert loaded.device == "cpu"


@pytest.mark.parametrize("series, seed", [(smear_series, 70_001), (fluorescence_series, 70_002)])
def test_learned_blur_levels_on_unseen_synthetic(series, seed):
    images = series((384, 384), [0, 2, 8, 10], seed=seed)
    reports = [assess_quality(s.image, tile_size=192) for s in images]
    assert [r.verdict for r in reports] == ["sharp", "sharp", "blurry", "blurry"]
    levels = [r.blur_level for r in reports]
    assert levels[0] < 4 and levels[-1] > 7


def test_learned_validity_separates_cells_from_non_cells():
    cell = smear_series((512, 512), [0], seed=70_003)[0].image
    assert assess_quality(cell, tile_size=256).valid
    text = make_non_cell((512, 512), kind="text", seed=70_004)
    r = assess_quality(text, tile_size=256)
    assert not r.valid and r.verdict == "invalid"


def test_learned_report_columns_and_dark_ring():
    img = dark_ring(smear_series((512, 512), [0], seed=70_005)[0].image, radius=0.4, seed=0)
    r = assess_quality(img, tile_size=128)
    assert r.method == "learned:cytoqa-quality"
    assert {"p_cell", "p_valid", "grade", "blur_level"} <= set(r.tiles.columns)
    assert r.dark_ring and (r.tiles[r.tiles.flag == "dark_edge"].verdict == "invalid").all()
    assert np.isfinite(r.p_blurry)
