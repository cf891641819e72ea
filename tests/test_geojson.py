"""GeoJSON in image pixels: QuPath's files in, napari layers out, and back (no Qt)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_cytoqa._geojson_layers import (
    annotations_layer_data,
    points_collection,
    read_geojson_layers,
    shapes_collection,
    write_shapes,
)
from napari_cytoqa.io.geojson import GeoJSONError, parse_geojson, read_geojson

#: A QuPath-like export, hand-written: an annotation with a hole, a classified detection box, a
#: MultiPolygon, a line, points, the older measurement list, a plane of a stack.
QUPATH = [
    {"type": "Feature", "id": "a", "geometry": {"type": "Polygon", "coordinates": [
        [[10, 20], [40, 20], [40, 60], [10, 20]], [[15, 30], [20, 30], [20, 35], [15, 30]]]},
     "properties": {"objectType": "annotation", "name": "tumour rim", "isLocked": False}},
    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[5, 7], [9, 7], [9, 12], [5, 12], [5, 7]]]},
     "properties": {"objectType": "detection", "classification": {"name": "Tumor", "color": [200, 0, 0]},
                    "measurements": {"Nucleus: Area": 20.0, "bad": None}}},
    {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [
        [[[0, 0], [1, 0], [0, 1], [0, 0]]], [[[3, 3], [4, 3], [3, 4], [3, 3]]]]},
     "properties": {"measurements": [{"name": "Mean", "value": 3.5}], "plane": [2]}},
    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [3, 4]]}, "properties": None},
    {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[1.5, 2.5], [7, 8]]},
     "properties": {"classification": {"name": "Mitosis", "colorRGB": -16776961}}},  # QuPath ≤ 0.3: packed blue
    {"type": "Feature", "geometry": None, "properties": {}},
    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[4, 4], [4, 4], [4, 4], [4, 4], [4, 4]]]}},
]


def test_qupath_features_become_shapes_and_points():
    ann = parse_geojson(QUPATH)  # QuPath writes a bare list when it exports several objects
    assert ann.shape_type == ["polygon", "rectangle", "polygon", "polygon", "line"]
    # (y, x): GeoJSON is x, y; the closing vertex is dropped; the hole cannot be kept
    assert ann.shapes[0].tolist() == [[20, 10], [20, 40], [60, 40]]
    assert ann.shapes[1].tolist() == [[7, 5], [7, 9], [12, 9], [12, 5]]
    assert ann.dropped == 3  # the hole, the feature without geometry, the ring without area
    assert ann.shape_planes == [(), (), (2,), (2,), ()]
    assert ann.points[0].tolist() == [2.5, 1.5] and len(ann.points) == 2
    table = ann.table("shapes")
    assert table.loc[0, "name"] == "tumour rim" and not table.loc[0, "isLocked"]
    assert table.loc[1, "class"] == "Tumor" and table.loc[1, "class_color"] == "#c80000"
    assert table.loc[1, "Nucleus: Area"] == 20.0 and "bad" not in table
    assert table.loc[2, "Mean"] == 3.5 and table.loc[3, "Mean"] == 3.5  # both parts of the MultiPolygon
    assert ann.table("points")["class"].tolist() == ["Mitosis", "Mitosis"]
    assert ann.table("points")["class_color"].tolist() == ["#0000ff"] * 2


def test_annotations_become_layers_on_their_planes():
    ann = parse_geojson(QUPATH)
    (shapes, skw, stype), (points, pkw, ptype) = annotations_layer_data(ann, name="export")
    assert stype == "shapes" and ptype == "points" and pkw["name"] == "export points"
    # napari puts pixel centres on whole numbers: GeoJSON's pixel-edge x = 10 is data 9.5
    assert shapes[0].tolist() == [[0, 19.5, 9.5], [0, 19.5, 39.5], [0, 59.5, 39.5]]
    assert shapes[2][:, 0].tolist() == [2, 2, 2]  # the plane of a stack leads
    assert points.shape == (2, 3) and points[0].tolist() == [0, 2.0, 1.0]
    assert skw["edge_color"] == "yellow"  # not every shape has a class colour
    assert "scale" not in skw  # no frame, no image beside it: pixels


@pytest.mark.parametrize("text, message", [("{not json", "not a JSON file"), ('{"foo": 1}', "not GeoJSON"),
                                            (('{"type": "Feature", "geometry": {"type": "Polygon", '
                                              '"coordinates": [[["a", 1]]]}}'), "malformed")])
def test_bad_files_get_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.geojson"
    path.write_text(text)
    with pytest.raises(GeoJSONError, match=message) as err:
        read_geojson(path)
    assert "bad.geojson" in str(err.value)


def test_an_empty_collection_is_an_error_for_the_reader(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(GeoJSONError, match="no shapes"):
        read_geojson_layers(path)


def _attrs(**kw):
    base = {"scale": np.ones(2), "translate": np.zeros(2), "rotate": np.eye(2), "shear": np.zeros(1),
            "affine": np.eye(3), "metadata": {}, "features": pd.DataFrame(), "ndim": 2}
    return base | kw


def test_writer_puts_shapes_in_image_pixels_and_reads_them_back(tmp_path):
    rect = np.array([[10.0, 20], [10, 40], [30, 40], [30, 20]])
    tri = np.array([[50.0, 50], [60, 70], [70, 55]])
    line = np.array([[1.0, 1], [9, 9]])
    feats = pd.DataFrame({"score": [0.9, np.nan, 1.0], "class": ["a", "b", ""]})
    attrs = _attrs(scale=np.array([0.5, 0.5]), translate=np.array([3.0, 4.0]), units=["micrometer"] * 2,
                   shape_type=["rectangle", "polygon", "line"], features=feats)
    path = write_shapes(str(tmp_path / "drawn"), [rect, tri, line], attrs)[0]
    assert path.endswith("drawn.geojson")
    gj = json.loads(Path(path).read_text())
    f0 = gj["features"][0]
    assert f0["geometry"]["coordinates"] == [[[20.5, 10.5], [40.5, 10.5], [40.5, 30.5], [20.5, 30.5], [20.5, 10.5]]]
    assert f0["properties"]["classification"] == {"name": "a"} and f0["properties"]["measurements"] == {"score": 0.9}
    assert "measurements" not in gj["features"][1]["properties"]  # NaN is left out, never written
    assert "classification" not in gj["features"][2]["properties"] and gj["features"][2]["geometry"]["type"] == \
        "LineString"
    assert gj["cytoqa_frame"] == {"scale": [0.5, 0.5], "translate": [3.0, 4.0], "units": ["micrometer"] * 2}
    (data, kw, _), = read_geojson_layers(path)
    assert kw["scale"] == (0.5, 0.5) and kw["translate"] == (3.0, 4.0) and kw["units"] == ("micrometer",) * 2
    assert kw["shape_type"] == ["rectangle", "polygon", "line"]
    for a, b in zip([rect, tri, line], data):
        np.testing.assert_allclose(a, b)


def test_result_layers_write_what_the_cli_writes():
    """Boxes found at pyramid level 1 of a µm-scaled image, as the widget draws them: the writer's
    GeoJSON is the CLI's (level-0 pixels), whatever the layer's own grid."""
    from types import SimpleNamespace

    from napari_cytoqa._layers import detection_layers_data
    from napari_cytoqa.detection.result import Detections

    source = SimpleNamespace(name="slide", scale=np.array([0.25, 0.25]), translate=np.array([10.0, 0.0]),
                             units=None, data=[np.zeros((64, 80)), np.zeros((32, 40))], multiscale=True, ndim=2)
    det = Detections(boxes=np.array([[2.0, 3, 9, 12], [20, 30, 25, 33]]), scores=np.array([0.8, 0.6]),
                     labels=None, route=np.array(["cytoqa-unet-sharp"] * 2), focus=np.array([1.0, np.nan]),
                     detector="unet")
    layers = {kind: (data, kw) for data, kw, kind in detection_layers_data(det, source, level=1)}
    data, kw = layers["shapes"]
    written = shapes_collection(data, _attrs(**{**kw, "shape_type": [kw["shape_type"]] * len(data)}, ndim=2))
    expected = det.to_geojson(downsample=2)
    for got, want in zip(written["features"], expected["features"]):
        ring = np.asarray(got["geometry"]["coordinates"][0])
        np.testing.assert_allclose(ring[[0, 2]], np.asarray(want["geometry"]["coordinates"][0])[[0, 2]])
        assert got["properties"]["objectType"] == "detection"
        assert got["properties"]["classification"] == {"name": "sharp"}
    assert written["cytoqa_frame"]["scale"] == [0.25, 0.25] and written["cytoqa_frame"]["translate"] == [10.0, 0.0]
    # read back, the boxes sit where the widget drew them in world coordinates
    (back, bkw, _), = annotations_layer_data(parse_geojson(written), name="b")
    world = np.asarray(back[0]) * bkw["scale"] + bkw["translate"]
    np.testing.assert_allclose(world, np.asarray(data[0]) * kw["scale"] + kw["translate"])


def test_stack_planes_and_rejected_layers():
    shape = np.array([[2.0, 10, 20], [2, 10, 40], [2, 30, 40]])
    gj = shapes_collection([shape], _attrs(scale=np.ones(3), translate=np.zeros(3), rotate=np.eye(3),
                                           affine=np.eye(4), shape_type=["polygon"], ndim=3))
    assert gj["features"][0]["properties"]["plane"] == [2]
    (back, _, _), = annotations_layer_data(parse_geojson(gj), name="b")
    np.testing.assert_allclose(back[0], shape)
    across = shape.copy()
    across[1, 0] = 3
    with pytest.raises(GeoJSONError, match="spans several planes"):
        shapes_collection([across], _attrs(scale=np.ones(3), translate=np.zeros(3), rotate=np.eye(3),
                                           affine=np.eye(4), shape_type=["polygon"], ndim=3))
    rotated = np.array([[0.0, -1], [1, 0]])
    with pytest.raises(GeoJSONError, match="rotated"):
        shapes_collection([shape[:, 1:]], _attrs(rotate=rotated, shape_type=["polygon"]))
    with pytest.raises(GeoJSONError, match="at least 3"):
        shapes_collection([np.array([[1.0, 1], [2, 2]])], _attrs(shape_type=["polygon"]))


def test_points_and_ellipses(tmp_path):
    pts = np.array([[4.0, 5.0], [10.0, 2.0]])
    gj = points_collection(pts, _attrs(features=pd.DataFrame({"score": [0.5, 0.7]})))
    assert [f["geometry"]["coordinates"] for f in gj["features"]] == [[5.5, 4.5], [2.5, 10.5]]
    (back, kw, kind), = annotations_layer_data(parse_geojson(gj), name="p")
    assert kind == "points" and np.allclose(back, pts) and kw["features"]["score"].tolist() == [0.5, 0.7]
    ellipse = np.array([[0.0, 0], [0, 10], [4, 10], [4, 0]])  # its box: centre (2, 5), semi-axes 2 and 5
    ring = np.asarray(shapes_collection([ellipse], _attrs(shape_type=["ellipse"]))["features"][0]["geometry"]
                      ["coordinates"][0])[:-1] - 0.5
    assert len(ring) == 64
    np.testing.assert_allclose(((ring[:, 1] - 2) / 2) ** 2 + ((ring[:, 0] - 5) / 5) ** 2, 1.0)
    gj = shapes_collection([ellipse], _attrs(shape_type=["ellipse"]))
    assert gj["features"][0]["geometry"]["isEllipse"] is True  # QuPath's mark: it reads an ellipse back
    back = parse_geojson(gj)  # and so do we: the box of the polygon
    assert back.shape_type == ["ellipse"]
    np.testing.assert_allclose(back.shapes[0].min(axis=0), [0.5, 0.5], atol=1e-9)
    np.testing.assert_allclose(back.shapes[0].max(axis=0), [4.5, 10.5], atol=1e-9)


def test_a_qupath_export_beside_its_image_takes_its_pixel_size(tmp_path):
    from napari_cytoqa.io.writer import write_pyramid

    write_pyramid(tmp_path / "slide.ome.tif", [np.zeros((64, 64), np.uint8)], pixel_size_um=0.25)
    for name in ("slide.geojson", "slide.ome.tif.geojson"):  # QuPath's two usual names
        (tmp_path / name).write_text(json.dumps(QUPATH[:2]))
        (_, kw, _), = read_geojson_layers(tmp_path / name)
        assert kw["scale"] == (0.25, 0.25) and kw["units"] == ("µm", "µm")
    (tmp_path / "other.geojson").write_text(json.dumps(QUPATH[:2]))
    (_, kw, _), = read_geojson_layers(tmp_path / "other.geojson")
    assert "scale" not in kw


def test_napari_reader_takes_a_path_or_a_list_of_one(tmp_path):
    from napari_cytoqa._reader import get_reader

    path = tmp_path / "cells.geojson"
    path.write_text(json.dumps(QUPATH[:2]))
    for arg in (str(path), [str(path)]):
        (data, kw, kind), = get_reader(arg)(arg)
        assert kind == "shapes" and len(data) == 2 and kw["name"] == "cells annotations"
    assert get_reader([str(path), str(path)]) is None


def test_annotation_boxes_by_plane_and_level():
    from napari_cytoqa.detection.compare import annotation_boxes

    ann = parse_geojson(QUPATH)
    assert annotation_boxes(ann).tolist() == [[20, 10, 60, 40], [7, 5, 12, 9]]  # no line, not plane 2's
    assert len(annotation_boxes(ann, plane=(2,))) == 4  # plane 2's two parts and the plane-less shapes
    assert annotation_boxes(ann, downsample=2.0)[1].tolist() == [3.5, 2.5, 6, 4.5]


def test_many_shapes_open_as_their_centres(caplog):
    from napari_cytoqa import _geojson_layers

    ann = parse_geojson(QUPATH)
    (centres, kw, kind), (points, pkw, pkind) = annotations_layer_data(ann, name="big", max_shapes=2)
    assert kind == "points" and kw["name"] == "big (centres)" and len(centres) == 5
    assert centres[1].tolist() == [0, 9.5 - 0.5, 7 - 0.5]  # the box (7, 5)-(12, 9): centre (9.5, 7), napari -0.5
    assert kw["features"]["shape_type"].tolist()[:2] == ["polygon", "rectangle"]
    assert kw["metadata"]["cytoqa_geojson"]["as_centres"] and "5 shapes, drawn as their centres" in caplog.text
    assert pkind == "points" and pkw["name"] == "big points"
    assert annotations_layer_data(ann, name="all", max_shapes=None)[0][2] == "shapes"
    assert _geojson_layers.MAX_SHAPES >= 2000  # the detection widget draws up to 2,000 boxes as shapes


def test_plane_scores_pool_the_planes():
    """detection.compare.plane_scores / pooled_line (the widget's every-plane comparison), by hand."""
    from napari_cytoqa.detection.compare import plane_scores, pooled_line
    from napari_cytoqa.detection.planes import PlaneDetections
    from napari_cytoqa.detection.result import Detections

    def det(boxes):
        b = np.asarray(boxes, float).reshape(-1, 4)
        return Detections(boxes=b, scores=np.ones(len(b)), labels=None, route=np.array(["m"] * len(b)),
                          focus=np.zeros(len(b)), detector="otsu")

    found = PlaneDetections.from_detections([((0,), det([[0, 0, 10, 10], [20, 20, 30, 30]])),
                                             ((1,), det([[0, 0, 10, 10]]))])
    truth = {(0,): [[0, 0, 10, 10]], (1,): np.zeros((0, 4))}  # plane 0: one hit, one false; plane 1: none annotated
    table = plane_scores(found, lambda plane: truth[plane])
    assert table["annotated"].tolist() == [1, 0] and table["tp"].tolist() == [1, 0]
    assert table["fp"].tolist() == [1, 1] and np.isnan(table["ap50"][1]) and table["ap50"][0] == 1.0
    assert table["extra"].tolist() == [1, 1] and table[["split", "merged", "missed", "loose"]].sum().sum() == 0
    assert pooled_line(table) == "vs 1 annotated, pooled: precision 0.33, recall 1.00, F1 0.50; mistakes: 2 extra"
    assert pooled_line(table.iloc[1:]) is None
    clicks = {(0,): [[5.0, 5.0], [50.0, 50.0]], (1,): [[25.0, 25.0]]}  # cells marked by points: hit+miss, miss
    table = plane_scores(found, lambda plane: clicks[plane], points=True)
    assert table["annotated"].tolist() == [2, 1] and table["tp"].tolist() == [1, 0]
    assert table["fp"].tolist() == [1, 1] and table["fn"].tolist() == [1, 1]
    assert table["extra"].tolist() == [1, 1] and table["missed"].tolist() == [1, 1]  # by kind, as with boxes


def test_labels_layers_write_the_cells_outlines_like_the_cli():
    """A region's instance labels found at pyramid level 1, as the widget places them: the Labels writer's
    outlines equal Detections.to_geojson(outlines=True) (the CLI's, level-0 pixels)."""
    from types import SimpleNamespace

    from napari_cytoqa._geojson_layers import labels_collection
    from napari_cytoqa._layers import detection_layers_data
    from napari_cytoqa.detection.result import Detections

    source = SimpleNamespace(name="slide", scale=np.array([0.25, 0.25]), translate=np.array([10.0, 0.0]),
                             units=None, data=[np.zeros((64, 80)), np.zeros((32, 40))], multiscale=True, ndim=2)
    labels = np.zeros((12, 16), np.int32)  # a region's labels, starting at (5, 6) of level 1
    labels[1:5, 2:7], labels[6:11, 9:15] = 1, 2
    det = Detections(boxes=np.array([[6.0, 8, 10, 13], [11, 15, 16, 21]]), scores=np.array([0.8, 0.6]),
                     labels=labels, route=np.array(["cytoqa-unet-combined"] * 2), focus=np.zeros(2),
                     detector="unet", origin=(5, 6))
    layers = {kind: (data, kw) for data, kw, kind in detection_layers_data(det, source, level=1)}
    data, kw = layers["labels"]
    written = labels_collection(data, _attrs(**kw, ndim=2))
    expected = det.to_geojson(downsample=2, outlines=True)
    assert len(written["features"]) == 2
    for got, want in zip(written["features"], expected["features"]):
        np.testing.assert_allclose(got["geometry"]["coordinates"][0], want["geometry"]["coordinates"][0])
        assert got["properties"]["objectType"] == "detection"
    assert written["features"][1]["properties"]["measurements"] == {"label": 2, "area_px": 30}
    stack = np.zeros((2, 12, 16), np.int32)  # a stack: each plane's instances carry their plane
    stack[1] = labels
    gj = labels_collection(stack, _attrs(scale=np.ones(3), translate=np.zeros(3), rotate=np.eye(3),
                                         affine=np.eye(4), ndim=3))
    assert [f["properties"]["plane"] for f in gj["features"]] == [[1], [1]]


def test_properties_qupath_reads_strictly():
    """QuPath reads a "color" property as a packed int or [r, g, b] (a string would fail its import):
    hex colours become [r, g, b], other text is left out; NaN never reaches the file."""
    from napari_cytoqa.io.geojson import feature_properties

    props = feature_properties({"color": "#ff8000", "name": "rim", "score": np.float32(0.5), "flag": np.bool_(True),
                                "area": np.nan})
    assert props["color"] == [255, 128, 0] and props["name"] == "rim" and props["flag"] is True
    assert props["measurements"] == {"score": 0.5}
    assert "color" not in feature_properties({"color": "red"})


def test_qupath_cells_are_read_by_their_nucleus():
    """A QuPath cell carries the cell outline (expanded around the nucleus) and its nucleusGeometry: the
    nucleus is what our detectors find, so it is read by default; nuclei=False reads the cell."""
    cell = {"type": "Feature", "properties": {"objectType": "cell", "classification": {"name": "Tumor"}},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [40, 0], [40, 40], [0, 40], [0, 0]]]},
            "nucleusGeometry": {"type": "Polygon", "coordinates": [[[10, 12], [25, 12], [25, 30], [10, 30], [10, 12]]]}}
    ann = parse_geojson([cell])
    assert ann.shapes[0].min(axis=0).tolist() == [12, 10] and ann.shapes[0].max(axis=0).tolist() == [30, 25]
    assert ann.shape_properties[0]["outline"] == "nucleus" and ann.shape_properties[0]["class"] == "Tumor"
    assert parse_geojson([cell], nuclei=False).shapes[0].max(axis=0).tolist() == [40, 40]


def test_cells_marked_by_points_are_scored_by_point_in_box():
    """point_scores (--truth with QuPath point annotations), by hand: greedy by score, the point
    nearest the box centre, each point claimed once; a region keeps the points inside it."""
    from napari_cytoqa.detection.compare import annotation_points, point_scores
    from napari_cytoqa.detection.result import Detections

    det = Detections(boxes=np.array([[0.0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]),
                     scores=np.array([0.9, 0.8, 0.7, 0.6]), labels=None, route=np.array(["m"] * 4),
                     focus=np.zeros(4), detector="yolo")
    points = np.array([[5.0, 5], [25, 25], [60, 60]])  # box 1 duplicates box 0: one point, one hit
    s, n = point_scores(det, points)
    assert n == 3 and (s.tp, s.fp, s.fn) == (2, 2, 1)
    assert s.precision == 0.5 and s.recall == pytest.approx(2 / 3) and s.count_mape == pytest.approx(1 / 3)
    assert s.ap50 == pytest.approx(5 / 9)  # hits at ranks 1 and 3: 1/3 of recall at precision 1, 1/3 at 2/3
    s, n = point_scores(det, points, region=(0, 0, 32, 32))
    assert n == 2 and (s.tp, s.fn) == (2, 0)
    ann = parse_geojson(QUPATH)
    assert annotation_points(ann, downsample=0.5).tolist() == [[5.0, 3.0], [16.0, 14.0]]


def test_channel_layers_write_the_files_planes(tmp_path):
    """A ZCYX file opens as one layer per channel; cells found on channel 1 at z = 2 are written with
    the file's plane [2, 1] (what ``cytoqa detect --plane 2,1 --truth`` compares on), export and
    writer alike, and read back onto that channel layer's plane 2."""
    import tifffile
    from napari.layers import Image
    from napari.layers.utils.stack_utils import split_channels

    from napari_cytoqa._geojson_layers import frame_metadata
    from napari_cytoqa._layers import detection_layers_data
    from napari_cytoqa._reader import get_reader
    from napari_cytoqa.detection.compare import annotation_boxes
    from napari_cytoqa.detection.export import in_file_planes, write_cells
    from napari_cytoqa.detection.planes import PlaneDetections
    from napari_cytoqa.detection.result import Detections

    path = tmp_path / "zc.tif"
    tifffile.imwrite(path, np.zeros((3, 2, 40, 50), np.uint16), metadata={"axes": "ZCYX"}, imagej=True)
    (data, kw, _), = get_reader(str(path))(str(path))
    layers = [Image(d, **k) for d, k, _ in split_channels(data, **kw)]
    assert [lay.ndim for lay in layers] == [3, 3]
    assert [lay.metadata["cytoqa"]["channel"] for lay in layers] == [[1, 0], [1, 1]]
    det = Detections(boxes=np.array([[2.0, 3, 9, 12]]), scores=np.array([0.8]), labels=None,
                     route=np.array(["cytoqa-unet-sharp"]), focus=np.array([1.0]), detector="unet")
    shapes = {k: (d, a) for d, a, k in detection_layers_data(det, layers[1], plane=(2,))}["shapes"]
    gj = shapes_collection(shapes[0], _attrs(**{**shapes[1], "shape_type": ["rectangle"]}))
    assert gj["features"][0]["properties"]["plane"] == [2, 1]
    assert gj["features"][0]["geometry"]["plane"] == {"c": 1, "z": 2, "t": 0}  # QuPath's, for QuPath
    ann = parse_geojson(gj)
    assert not any(k.startswith("qupath_") for k in ann.shape_properties[0])  # our plane wins
    np.testing.assert_allclose(annotation_boxes(ann, plane=(2, 1)), det.boxes)
    assert not len(annotation_boxes(ann, plane=(2, 0)))
    (back, _, _), = annotations_layer_data(ann, name="b")  # on the channel layer: (z, y, x)
    assert np.asarray(back[0]).shape[1] == 3 and np.all(np.asarray(back[0])[:, 0] == 2)
    again = shapes_collection(back, _attrs(scale=np.ones(3), translate=np.zeros(3), rotate=np.eye(3),
                                           affine=np.eye(4), shape_type=["rectangle"], ndim=3,
                                           metadata={"cytoqa_frame": ann.frame}))
    assert again["features"][0]["properties"]["plane"] == [2, 1]  # a round trip keeps the channel
    # the widget's export: one plane, and every plane of the layer
    frame = frame_metadata(layers[1], (2,))["cytoqa_frame"]
    one, at = in_file_planes(det, (2,), frame["channel"])
    csv, geo = write_cells(tmp_path / "one.csv", one, plane=at, frame=frame)
    assert pd.read_csv(csv)["plane"].tolist() == ["2-1"]
    assert json.loads(Path(geo).read_text())["features"][0]["properties"]["plane"] == [2, 1]
    every, at = in_file_planes(PlaneDetections.from_detections([((0,), det), ((2,), det)]), (), frame["channel"])
    written = write_cells(tmp_path / "all.csv", every, plane=at, frame=frame_metadata(layers[1])["cytoqa_frame"])
    assert pd.read_csv(written[2])["plane"].tolist() == ["0-1", "2-1"]
    assert [f["properties"]["plane"] for f in json.loads(Path(written[1]).read_text())["features"]] == [[0, 1], [2, 1]]


def test_samples_beyond_rgb_open_as_channel_layers(tmp_path):
    """Two samples per pixel (not RGB) used to open as one 3-D layer whose last axis napari drew as
    image columns; now one 2-D layer per sample, each written with its file plane."""
    from types import SimpleNamespace

    import tifffile

    from napari_cytoqa._geojson_layers import frame_metadata
    from napari_cytoqa._reader import get_reader

    path = tmp_path / "two.tif"
    tifffile.imwrite(path, np.zeros((40, 50, 2), np.uint8), photometric="minisblack", planarconfig="contig")
    (data, kw, _), = get_reader(str(path))(str(path))
    assert kw["channel_axis"] == 2 and [m["cytoqa"]["channel"] for m in kw["metadata"]] == [[0, 0], [0, 1]]
    assert kw["name"] == ["two [channel 0]", "two [channel 1]"]
    tifffile.imwrite(tmp_path / "named.ome.tif", np.zeros((2, 3, 32, 40), np.uint8),
                     metadata={"axes": "CZYX", "Channel": {"Name": ["DAPI", "GFP"]}})
    (_, named, _), = get_reader(str(tmp_path / "named.ome.tif"))(str(tmp_path / "named.ome.tif"))
    assert named["name"] == ["named [DAPI]", "named [GFP]"] and named["channel_axis"] == 0  # OME's channel names
    source = SimpleNamespace(scale=np.ones(2), translate=np.zeros(2), units=None, metadata=kw["metadata"][1])
    frame = frame_metadata(source)["cytoqa_frame"]
    gj = shapes_collection([np.array([[1.0, 1], [1, 5], [5, 5], [5, 1]])],
                           _attrs(shape_type=["rectangle"], metadata={"cytoqa_frame": frame}))
    assert gj["features"][0]["properties"]["plane"] == [1]


def test_annotation_layers_map_onto_the_image_and_its_planes():
    """shapes_boxes / shapes_region / points_yx: vertices go through both layers' scale, translation,
    rotation, shear and affine on whole arrays, as napari's world_to_data(data_to_world(v)) does one
    at a time; a 2-D layer over a stack counts on every plane (napari shows it there; until the
    twenty-eighth session it counted on plane 0 only, so a 2-D region was refused on other planes)."""
    from napari.layers import Image, Points, Shapes
    from napari.utils.transforms import Affine

    from napari_cytoqa._marks import points_yx, shapes_boxes, shapes_region

    image = Image(np.zeros((40, 40)), scale=(0.5, 0.7), translate=(3, 4), rotate=10, affine=Affine(translate=(1, 2)))
    rng = np.random.default_rng(0)
    clicks = Points(rng.random((50, 2)) * 20, scale=(0.4, 0.5), translate=(1, -2), shear=[0.1])
    want = np.array([image.world_to_data(clicks.data_to_world(v)) for v in clicks.data]) + 0.5
    np.testing.assert_allclose(points_yx(clicks, image), want, atol=1e-9)
    stack = Image(np.zeros((3, 40, 40)))
    rect = np.array([[10.0, 10], [10, 20], [20, 20], [20, 10]])
    flat, on_one = Shapes([rect], shape_type="rectangle"), Shapes([np.c_[np.ones(4), rect]], shape_type="rectangle")
    for plane in ((0,), (2,)):
        np.testing.assert_allclose(shapes_boxes(flat, stack, plane=plane), [[10.5, 10.5, 20.5, 20.5]])
        assert shapes_region(flat, stack, plane=plane) is not None
        assert len(points_yx(Points([[5.0, 6.0]]), stack, plane=plane)) == 1
        assert not len(shapes_boxes(on_one, stack, plane=plane))  # drawn on plane 1 only
    assert len(shapes_boxes(on_one, stack, plane=(1,))) == 1
    from napari.layers import Labels

    from napari_cytoqa._marks import labels_boxes

    assert not len(labels_boxes(Labels(np.ones((2, 40, 40), np.int32)), stack, plane=(2,)))  # beyond its planes


def test_qupath_planes_land_on_the_stack_beside_them(tmp_path):
    """QuPath writes an object's plane into its geometry ({"c", "z", "t"}), and none for c -1, z 0, t 0.
    On a stack those become our planes: in napari by the image the file lies beside (channels are
    layers, so no channel index), in the CLI by the Slide's plane axes."""
    import tifffile

    from napari_cytoqa.io.planes import place_qupath_planes

    def box(x, y, plane=None):
        geometry = {"type": "Polygon", "coordinates": [[[x, y], [x + 5, y], [x + 5, y + 5], [x, y + 5], [x, y]]]}
        if plane is not None:
            geometry["plane"] = plane
        return {"type": "Feature", "geometry": geometry, "properties": {"objectType": "annotation"}}

    features = [box(1, 1, {"c": -1, "z": 3, "t": 0}), box(10, 10), box(20, 20, {"c": 1, "z": 2, "t": 0}),
                box(30, 30, {"c": -1, "z": 1, "t": 0}) | {"properties": {"plane": [4]}}]  # ours wins
    ann = parse_geojson(features)
    assert ann.shape_properties[0]["qupath_z"] == 3 and "qupath_z" not in ann.shape_properties[1]
    assert place_qupath_planes(ann, "Z").shape_planes == [(3,), (0,), (2,), (4,)]
    assert place_qupath_planes(ann, "ZC", channel=1).shape_planes == [(3,), (0,), (2, 1), (4,)]  # c -1: any channel
    assert place_qupath_planes(ann, "TZ").shape_planes == [(0, 3), (0, 0), (0, 2), (4,)]
    assert place_qupath_planes(ann, "Q").shape_planes == ann.shape_planes  # an axis QuPath does not name
    from napari_cytoqa.io.planes import qupath_plane

    assert qupath_plane((3, 1), "ZC") == {"c": 1, "z": 3, "t": 0} and qupath_plane((0,), "Z") is None  # default
    assert qupath_plane((2, 5), "TZ") == {"c": -1, "z": 5, "t": 2} and qupath_plane((1,), "Q") is None
    flat = parse_geojson([box(1, 1), box(10, 10)])
    assert place_qupath_planes(flat, "Z") is flat  # no QuPath planes: plane-less shapes stay on every plane
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((5, 40, 50), np.uint8), metadata={"axes": "ZYX"}, imagej=True)
    (tmp_path / "stack.geojson").write_text(json.dumps(features[:3]))
    (data, kw, _), = read_geojson_layers(tmp_path / "stack.geojson")
    assert [int(np.asarray(s)[0, 0]) for s in data] == [3, 0, 2] and np.asarray(data[0]).shape[1] == 3


def test_labels_layers_give_the_boxes_of_their_instances_on_a_plane():
    """labels_boxes: a Labels stack's instances on the plane asked for, a 2-D Labels layer's on every
    plane, a Labels layer with other plane axes a clear error; a layer at twice the pixel size lands on
    the image's pixels."""
    from napari.layers import Image, Labels

    from napari_cytoqa._marks import labels_boxes

    stack = Image(np.zeros((3, 40, 40)))
    cells = np.zeros((3, 40, 40), np.int32)
    cells[1, 2:6, 3:9], cells[2, 10:20, 10:12] = 4, 9
    layer = Labels(cells)
    np.testing.assert_array_equal(labels_boxes(layer, stack, plane=(1,)), [[2, 3, 6, 9]])
    assert not len(labels_boxes(layer, stack, plane=(0,)))
    flat = Labels(cells[2])
    for plane in ((0,), (1,)):
        np.testing.assert_array_equal(labels_boxes(flat, stack, plane=plane), [[10, 10, 20, 12]])
    with pytest.raises(ValueError, match="plane axes"):
        labels_boxes(Labels(np.zeros((2, 3, 40, 40), np.int32)), stack, plane=(1,))
    coarse = Labels(cells[2][::2, ::2], scale=(2, 2), translate=(0.5, 0.5))  # pixel i covers image pixels 2i, 2i+1
    np.testing.assert_allclose(labels_boxes(coarse, Image(np.zeros((40, 40)))), [[10, 10, 20, 12]])
