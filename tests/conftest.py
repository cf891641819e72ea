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
