import numpy as np
import pytest


def test_viewer_opens_pyramid_with_plugin(make_napari_viewer, pyramid_file):
    path, _ = pyramid_file
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin="napari-cytoqa")
    assert layer.multiscale and len(layer.data) == 3 and layer.rgb
    assert tuple(layer.scale) == pytest.approx((0.25, 0.25))


def test_viewer_open_corrupt_file_errors_cleanly(make_napari_viewer, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 20)
    viewer = make_napari_viewer()
    with pytest.raises(ValueError):  # napari: no reader could open it (ours returned None)
        viewer.open(str(bad), plugin="napari-cytoqa")
    assert len(viewer.layers) == 0


@pytest.mark.parametrize("key, multiscale", [("smear", False), ("fluorescence", False), ("pyramid", True)])
def test_sample_data(make_napari_viewer, key, multiscale):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-cytoqa", key)
    assert len(layers) == 1 and layers[0].multiscale == multiscale
    assert np.asarray(layers[0].data[0] if multiscale else layers[0].data).size > 0


def test_shapes_saved_as_geojson_open_on_the_slide(make_napari_viewer, pyramid_file, tmp_path):
    """napari's own save and open, through our writer and reader contributions: a shapes layer drawn
    over a µm-scaled slide (napari's "new shapes" inherits the slide's scale) comes back in place."""
    import json
    from pathlib import Path

    path, _ = pyramid_file
    viewer = make_napari_viewer()
    [slide] = viewer.open(str(path), plugin="napari-cytoqa")
    drawn = viewer.add_shapes([np.array([[10.0, 20], [10, 40], [30, 40], [30, 20]])], shape_type="rectangle",
                              scale=slide.scale, units=slide.units, name="drawn")
    [written] = drawn.save(str(tmp_path / "drawn.geojson"), plugin="napari-cytoqa")
    ring = json.loads(Path(written).read_text())["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == [20.5, 10.5]  # slide pixels, x then y, pixel edges
    [back] = viewer.open(written, plugin="napari-cytoqa")
    assert back.name.startswith("drawn")  # the file's stem (napari adds " [1]" beside the layer of that name)
    assert tuple(back.scale) == pytest.approx(tuple(slide.scale)) and back.shape_type == ["rectangle"]
    np.testing.assert_allclose(back.data[0], drawn.data[0])
    points = viewer.add_points(np.array([[5.0, 6.0]]), scale=slide.scale)
    [pfile] = points.save(str(tmp_path / "points.geojson"), plugin="napari-cytoqa")
    [pback] = viewer.open(pfile, plugin="napari-cytoqa")
    np.testing.assert_allclose(pback.data, points.data)
    cells = np.zeros((40, 40), np.uint16)
    cells[5:15, 5:15], cells[20:30, 22:35] = 1, 7
    labels = viewer.add_labels(cells, scale=slide.scale)
    [lfile] = labels.save(str(tmp_path / "cells.geojson"), plugin="napari-cytoqa")
    outlines = json.loads(Path(lfile).read_text())["features"]
    assert [f["properties"]["measurements"]["label"] for f in outlines] == [1, 7]
    [lback] = viewer.open(lfile, plugin="napari-cytoqa")  # the outlines come back as polygons on the slide
    assert lback.shape_type == ["polygon", "polygon"] and tuple(lback.scale) == pytest.approx(tuple(slide.scale))
    bad = tmp_path / "bad.geojson"
    bad.write_text("{")
    with pytest.raises(Exception, match="not a JSON file"):
        viewer.open(str(bad), plugin="napari-cytoqa")
