"""The H&E colour check beside the learned validity (quality/stain_check.py, assess_quality(stain_check=))."""
import json

import numpy as np
import pytest

from napari_cytoqa import assess_quality
from napari_cytoqa.quality import assess
from napari_cytoqa.quality.classical import ClassicalScorer
from napari_cytoqa.quality.stain_check import MIN_P_VALID, he_shares, is_he_section
from napari_cytoqa.synthetic import make_smear
from napari_cytoqa.synthetic.tissue import tissue_series

PINK, PURPLE, WHITE = (230, 150, 200), (120, 80, 170), (255, 255, 255)


def _field(colours, shares, shape=(64, 64)):
    """An RGB image whose rows are split among ``colours`` by ``shares``."""
    img = np.empty(shape + (3,), np.uint8)
    edges = np.rint(np.cumsum([0] + list(shares)) * shape[0]).astype(int)
    for c, a, b in zip(colours, edges[:-1], edges[1:]):
        img[a:b] = c
    return img


def test_hue_ranges_at_their_bounds():
    # blue (240°) is hematoxylin's first hue, magenta (300°) eosin's, red (0°) neither
    for colour, h, e in (((0, 0, 255), 1.0, 0.0), ((255, 0, 255), 0.0, 1.0), ((255, 0, 0), 0.0, 0.0)):
        s = he_shares(_field([colour, WHITE], [0.75, 0.25]), 255.0)  # shares of the absorbing pixels
        assert s["fill"] == pytest.approx(0.75) and (s["hematoxylin"], s["eosin"]) == (h, e)
    # a colour too dark to have a hue (HSV value < MIN_VALUE) absorbs, but has no stain hue
    dark = he_shares(_field([(30, 0, 40), WHITE], [0.75, 0.25]), 255.0)
    assert dark["fill"] == pytest.approx(0.75) and dark["hematoxylin"] == dark["eosin"] == 0


def test_he_shares_by_hand():
    # pink 322.5°, purple 266.7°, both absorbing against the white lamp; a quarter glass
    img = _field([PINK, PURPLE, WHITE], [0.5, 0.25, 0.25])
    s = he_shares(img, 255.0)
    assert s["fill"] == pytest.approx(0.75)
    assert s["eosin"] == pytest.approx(2 / 3) and s["hematoxylin"] == pytest.approx(1 / 3)
    assert is_he_section(s)
    one_stain = he_shares(_field([PINK, WHITE], [0.75, 0.25]), 255.0)
    assert one_stain["hematoxylin"] == 0 and not is_he_section(one_stain)  # two stains, or none
    brown = he_shares(_field([(150, 100, 60), WHITE], [0.75, 0.25]), 255.0)
    assert brown["fill"] > 0.5 and brown["eosin"] == brown["hematoxylin"] == 0 and not is_he_section(brown)
    glass = _field([PINK, PURPLE, WHITE], [0.05, 0.05, 0.9])
    assert not is_he_section(he_shares(glass, 255.0))  # too little absorbs
    assert he_shares(np.zeros((32, 32)), 255.0) == {"fill": 0.0, "hematoxylin": 0.0, "eosin": 0.0}


def test_he_shares_ignores_clear_and_unknown_pixels():
    img = _field([PINK, PURPLE, WHITE], [0.5, 0.25, 0.25])
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    rgba[:16, :, :3] = (20, 200, 20)  # green under alpha 0: outside the specimen
    rgba[:16, :, 3] = 0
    as_nan = img.astype(np.float32)
    as_nan[:16] = np.nan
    clear, nan = he_shares(rgba, 255.0), he_shares(as_nan, 255.0)
    assert clear == pytest.approx(nan)
    assert clear["fill"] == pytest.approx(32 / 48)


def test_synthetic_he_is_a_section_gray_is_not():
    for im in tissue_series((256, 256), [0, 10], seed=3):
        assert is_he_section(he_shares(im.image, 255.0)), im.meta
    # (a stained smear may pass too: it is a cell image either way)
    gray = make_smear((256, 256), seed=0).image.mean(axis=-1)
    assert not is_he_section(he_shares(gray, 255.0)) and he_shares(gray, 255.0)["fill"] == 0


class _Unsure(ClassicalScorer):
    """The classical scorer with a network's doubt: every tile's ``p_valid`` set to ``P``."""
    P = 0.2
    judges_cells = True

    def score_batch(self, tiles):
        return [dict(r, p_valid=self.P) for r in super().score_batch(tiles)]


@pytest.fixture
def unsure(monkeypatch):
    monkeypatch.setitem(assess.METHODS, "unsure", _Unsure)
    monkeypatch.setattr(_Unsure, "P", 0.2)  # restored after the test, whatever it sets
    return _Unsure


def test_assess_quality_stain_check(unsure):
    he = tissue_series((512, 512), [0], seed=4)[0].image
    before = he.copy()
    off = assess_quality(he, tile_size=256, method="unsure", stain_check=False)
    on = assess_quality(he, tile_size=256, method="unsure")  # on by default (rule S)
    assert not off.valid and off.verdict == "invalid" and off.validity == "judged" and off.stain_check == {}
    assert on.valid and on.verdict in ("sharp", "blurry") and on.validity == "stain"
    assert on.stain_check["section"] and on.p_valid == pytest.approx(0.2)  # p_valid keeps the network's word
    assert on.tiles["valid"].all() and (on.tiles["verdict"] != "invalid").all()
    assert json.loads(json.dumps(on.summary()))["stain_check"]["section"] is True
    np.testing.assert_array_equal(he, before)
    # not where the network is sure it is no cell image, nor where the colour is not H&E
    unsure.P = MIN_P_VALID / 2
    sure_not = assess_quality(he, tile_size=256, method="unsure")
    assert not sure_not.valid and sure_not.stain_check == {}  # the colour is not even measured
    unsure.P = 0.6
    sure = assess_quality(he, tile_size=256, method="unsure")
    assert sure.valid and sure.validity == "judged" and sure.stain_check == {}
    unsure.P = 0.2
    gray = assess_quality(make_smear((512, 512), seed=1).image.mean(axis=-1), tile_size=256, method="unsure",
                          stain_check=True)
    assert not gray.valid and gray.validity == "judged" and not gray.stain_check["section"]
    # the user's word comes first
    assumed = assess_quality(he, tile_size=256, method="unsure", stain_check=True, assume_valid=True)
    assert assumed.validity == "assumed" and assumed.stain_check == {}
    # the classical method's p_valid is usability, not a judgement of cell images: no colour check
    assert assess_quality(he, tile_size=256, method="classical").stain_check == {}
