import numpy as np
import pytest

from napari_cytoqa.io.writer import build_pyramid, write_pyramid
from napari_cytoqa.synthetic import make_fluorescence, make_smear


@pytest.fixture(scope="session")
def smear():
    return make_smear((512, 512), seed=11)


@pytest.fixture(scope="session")
def blurry_smear():
    return make_smear((512, 512), seed=11, blur_level=9)


@pytest.fixture(scope="session")
def fluo():
    return make_fluorescence((384, 384), seed=12)


@pytest.fixture
def pyramid_file(tmp_path):
    """A 3-level pyramidal OME-TIFF with a 0.25 µm pixel size."""
    image = np.tile(make_smear((256, 256), seed=13).image, (4, 4, 1))
    path = tmp_path / "pyr.ome.tif"
    write_pyramid(path, build_pyramid(image, min_size=256), pixel_size_um=0.25, tile=128)
    return path, image


@pytest.fixture
def unsure_network(monkeypatch):
    """The learned quality method, with every tile's ``p_valid`` scaled into the network's doubt
    (0.2 for a tile it is sure of): what it says of real H&E sections, on any image."""
    from napari_cytoqa.quality import assess
    from napari_cytoqa.quality.learned import LearnedScorer

    class Unsure(LearnedScorer):
        def score_batch(self, tiles):
            return [dict(r, p_valid=0.2 * r["p_valid"]) for r in super().score_batch(tiles)]

    monkeypatch.setitem(assess.METHODS, "learned", Unsure)
    return Unsure
