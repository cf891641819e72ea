import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from napari_cytoqa.cli import main


def test_qc_writes_csv_json_png(tmp_path, smear, blurry_smear):
    a, b = tmp_path / "sharp.png", tmp_path / "blurry.png"
    Image.fromarray(smear.image).save(a)
    Image.fromarray(blurry_smear.image).save(b)
    out = tmp_path / "out"
    assert main(["qc", str(a), str(b), "--out", str(out), "--tile-size", "256", "--quiet"]) == 0
    tiles = pd.read_csv(out / "sharp_tiles.csv")
    assert len(tiles) == 4 and {"p_blurry", "verdict"} <= set(tiles.columns)
    assert json.loads((out / "sharp_summary.json").read_text())["verdict"] == "sharp"
    assert json.loads((out / "blurry_summary.json").read_text())["verdict"] == "blurry"
    overlay = np.asarray(Image.open(out / "blurry_overlay.png"))
    assert overlay.ndim == 3 and overlay.shape[-1] == 3
    assert set(json.loads((out / "summary.json").read_text())) == {str(a), str(b)}
    table = pd.read_csv(out / "summary.csv", keep_default_na=False).set_index("image")  # one row per slide
    assert table.loc[str(a), "verdict"] == "sharp" and table.loc[str(b), "verdict"] == "blurry"
    assert table.loc[str(a), "tiles_sharp"] + table.loc[str(a), "tiles_blurry"] <= 4
    assert {"p_blurry", "grade", "precision", "underexposed", "error"} <= set(table.columns)
    page = (out / "report.html").read_text()  # the overview: the blurry image first, each beside its overlay
    assert page.index("blurry_overlay.png") < page.index("sharp_overlay.png") < page.index("</table>")
    assert page.count("<tr>") == 3 and f"<td>{b}</td>" in page
    gj = json.loads((out / "blurry_tiles.geojson").read_text())  # the tiles for QuPath, one feature each
    assert "cytoqa_frame" not in gj and len(gj["features"]) == 4  # a PNG: no pixel size, plain pixels
    blurry_tiles = pd.read_csv(out / "blurry_tiles.csv")
    for feature, (_, row) in zip(gj["features"], blurry_tiles.iterrows()):
        assert feature["geometry"]["coordinates"][0][0] == [row.x0, row.y0]
        assert feature["geometry"]["coordinates"][0][2] == [row.x1, row.y1]
        props = feature["properties"]
        assert props["classification"]["name"] == row.verdict and props["objectType"] == "detection"
        assert props["measurements"]["blur_level"] == pytest.approx(row.blur_level) and props["grade"] == row.grade
    assert main(["qc", str(b), "--out", str(tmp_path / "q8"), "--tile-size", "256", "--quiet",
                 "--precision", "int8"]) == 0
    assert json.loads((tmp_path / "q8" / "blurry_summary.json").read_text())["verdict"] == "blurry"


def test_qc_assume_cells_option(tmp_path):
    from napari_cytoqa.synthetic.noncell import make_non_cell

    png = tmp_path / "text.png"
    Image.fromarray(make_non_cell((512, 512), kind="text", seed=70_004)).save(png)
    assert main(["qc", str(png), "--out", str(tmp_path / "a"), "--tile-size", "256", "--quiet"]) == 0
    assert main(["qc", str(png), "--out", str(tmp_path / "b"), "--tile-size", "256", "--quiet",
                 "--assume-cells"]) == 0
    judged = json.loads((tmp_path / "a" / "text_summary.json").read_text())
    assumed = json.loads((tmp_path / "b" / "text_summary.json").read_text())
    assert judged["verdict"] == "invalid" and judged["validity"] == "judged"
    assert assumed["verdict"] in ("sharp", "blurry") and assumed["validity"] == "assumed"
    assert assumed["p_valid"] == judged["p_valid"]
    assert "invalid" not in set(pd.read_csv(tmp_path / "b" / "text_tiles.csv").verdict)


def test_qc_stain_check_option(tmp_path, unsure_network):
    from napari_cytoqa.synthetic.tissue import tissue_series

    png = tmp_path / "he.png"
    Image.fromarray(tissue_series((512, 512), [0], seed=5)[0].image).save(png)
    assert main(["qc", str(png), "--out", str(tmp_path / "on"), "--tile-size", "256", "--quiet"]) == 0
    assert main(["qc", str(png), "--out", str(tmp_path / "off"), "--tile-size", "256", "--quiet",
                 "--no-stain-check"]) == 0
    on = json.loads((tmp_path / "on" / "he_summary.json").read_text())
    off = json.loads((tmp_path / "off" / "he_summary.json").read_text())
    assert on["p_valid"] == off["p_valid"] < 0.5  # the network unsure
    assert on["validity"] == "stain" and on["verdict"] in ("sharp", "blurry") and on["stain_check"]["section"]
    assert off["validity"] == "judged" and off["verdict"] == "invalid" and off["stain_check"] == {}
    assert pd.read_csv(tmp_path / "on" / "summary.csv")["validity"].tolist() == ["stain"]


def test_qc_pixel_size_option(tmp_path, pyramid_file, smear, capsys, caplog):
    path, _ = pyramid_file  # records 0.25 um/px
    png = tmp_path / "plain.png"  # records none
    Image.fromarray(smear.image).save(png)
    out = tmp_path / "o"
    assert main(["qc", str(path), str(png), "--out", str(out), "--tile-size", "256", "--method", "classical",
                 "--pixel-size", "auto", "--quiet"]) == 0
    summaries = json.loads((out / "summary.json").read_text())
    assert summaries[str(path)]["binning"] == 2 and summaries[str(path)]["pixel_size_um"] == 0.25
    assert summaries[str(png)]["binning"] == 1 and summaries[str(png)]["pixel_size_um"] is None
    table = pd.read_csv(out / "summary.csv").set_index("image")
    assert table.loc[str(path), "binning"] == 2 and table["warnings"].isna().all()
    # without --pixel-size the slide is judged at its own pixels, with a hint (logged: on stderr)
    assert main(["qc", str(path), "--out", str(out), "--tile-size", "256", "--method", "classical", "--quiet"]) == 0
    assert "--pixel-size auto" in pd.read_csv(out / "summary.csv").loc[0, "warnings"]
    assert "2x finer" in caplog.text
    assert main(["qc", str(png), "--out", str(tmp_path / "p"), "--tile-size", "256", "--method", "classical",
                 "--pixel-size", "0.17", "--quiet"]) == 0
    assert json.loads((tmp_path / "p" / "plain_summary.json").read_text())["binning"] == 3
    for bad in ("fine", "-0.2", "0"):
        with pytest.raises(SystemExit):
            main(["qc", str(png), "--out", str(out), "--pixel-size", bad])
        assert "pixel size" in capsys.readouterr().err


def test_qc_bad_file_reports_and_continues(tmp_path, smear, capsys):
    good = tmp_path / "good.png"
    Image.fromarray(smear.image).save(good)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"\x00" * 50)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert main(["qc", str(bad), str(empty), str(good), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "bad.tif" in err
    # the full path once, not the reader's file name again after it
    assert f"cytoqa qc: {empty} is empty" in err and err.count("empty.png") == 1
    assert (tmp_path / "o" / "good_summary.json").exists()
    table = pd.read_csv(tmp_path / "o" / "summary.csv", keep_default_na=False).set_index("image")
    assert table.loc[str(bad), "error"] and not table.loc[str(good), "error"]  # the failure is in the table
    assert table.loc[str(good), "verdict"] in ("sharp", "blurry")
    page = (tmp_path / "o" / "report.html").read_text()  # failures first, with their message, no picture
    assert page.index("bad.tif") < page.index("good_overlay.png") and "is empty (0 bytes)" in page
    assert page.count("<img") == 1


def test_models_command_lists_the_default(capsys):
    assert main(["models", "--task", "quality"]) == 0
    assert "cytoqa-quality" in capsys.readouterr().out


def test_stain_command_classical_and_errors(tmp_path, capsys):
    from napari_cytoqa.synthetic import make_smear

    src, ref = tmp_path / "he.png", tmp_path / "lab_b.png"
    Image.fromarray(make_smear((128, 160), stain="he", seed=1).image).save(src)
    Image.fromarray(make_smear((160, 160), stain="giemsa", seed=2).image).save(ref)
    gray = tmp_path / "gray.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(gray)
    out = tmp_path / "out"
    rc = main(["stain", str(src), str(gray), "--method", "macenko", "--reference", str(ref), "--out", str(out),
               "--quiet"])
    assert rc == 1 and "gray.png" in capsys.readouterr().err  # the bad input is reported, the rest is done
    result = np.asarray(Image.open(out / "he_macenko.png"))
    assert result.shape == (128, 160, 3)
    assert main(["stain", str(src), "--method", "reinhard", "--out", str(out), "--quiet"]) == 1
    assert "reference" in capsys.readouterr().err


def test_detect_command_writes_csv_and_geojson(tmp_path):
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((200, 240), seed=2)
    path = tmp_path / "nuclei.png"
    Image.fromarray((img.image / img.image.max() * 255).astype(np.uint8)).save(path)
    out = tmp_path / "det"
    assert main(["detect", str(path), "--out", str(out), "--quiet"]) == 0
    cells = pd.read_csv(out / "nuclei_cells.csv")
    assert {"y0", "x0", "y1", "x1", "score", "route"} <= set(cells.columns)
    assert abs(len(cells) - len(img.boxes)) <= 0.3 * len(img.boxes)  # the U-Net finds most nuclei
    gj = json.loads((out / "nuclei_cells.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(cells)
    # the nuclei's outlines, inside their boxes, and their areas (kept per tile, no label image needed)
    ring = np.array(gj["features"][0]["geometry"]["coordinates"][0])
    assert (ring[0] == ring[-1]).all() and len(ring) > 5
    y0, x0, y1, x1 = cells.loc[0, ["y0", "x0", "y1", "x1"]]
    assert x0 <= ring[:, 0].min() and ring[:, 0].max() <= x1 and y0 <= ring[:, 1].min() and ring[:, 1].max() <= y1
    assert (cells["area_px"] > 0).all() and gj["features"][0]["properties"]["area_px"] == cells.loc[0, "area_px"]
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "cells"] == len(cells) and summary.loc[0, "models"] == "cytoqa-unet-combined"
    with pytest.raises(SystemExit):
        main(["detect", str(path), "--out", str(out), "--diameter", "huge"])
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--detector", "yolo", "--routing", "blur",
                 "--sharp-model", "cytoqa-yolo-sharp-recipe1"]) == 0
    assert pd.read_csv(out / "summary.csv").loc[0, "models"] == "cytoqa-yolo-sharp-recipe1"
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--denoise", "on"]) == 0
    assert abs(len(pd.read_csv(out / "nuclei_cells.csv")) - len(img.boxes)) <= 0.3 * len(img.boxes)
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--tta", "on"]) == 0  # mirror averaging
    assert abs(len(pd.read_csv(out / "nuclei_cells.csv")) - len(img.boxes)) <= 0.3 * len(img.boxes)
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--detector", "otsu", "--tta", "on"]) == 2
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--merge", "on"]) == 0  # joining pieces
    assert abs(len(pd.read_csv(out / "nuclei_cells.csv")) - len(img.boxes)) <= 0.3 * len(img.boxes)
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--detector", "yolo", "--merge", "on"]) == 2
    assert pd.read_csv(out / "summary.csv").loc[0, "stain"] == "none"  # the image as it is, by default
    everything = pd.read_csv(out / "nuclei_cells.csv")  # the last U-Net run's
    cut = float(everything["score"].median())
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--merge", "on", "--min-score", str(cut)]) == 0
    confident = pd.read_csv(out / "nuclei_cells.csv")
    assert 0 < len(confident) < len(everything) and (confident["score"] >= cut - 1e-9).all()
    assert pd.read_csv(out / "summary.csv").loc[0, "min_score"] == pytest.approx(cut)  # provenance
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--min-score", "2"]) == 1  # per-image error
    # the hematoxylin channel needs colour: a gray image is a clear per-image error, exit 1
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--detector", "otsu",
                 "--stain", "hematoxylin"]) == 1
    assert "RGB" in pd.read_csv(out / "summary.csv").loc[0, "error"]


def test_detect_command_writes_instance_labels_and_cell_areas(tmp_path):
    import tifffile

    from napari_cytoqa.io.writer import build_pyramid, write_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((320, 320), seed=2).image
    path = write_pyramid(tmp_path / "nuclei.ome.tif", build_pyramid(img, min_size=128), pixel_size_um=0.5)
    out = tmp_path / "det"
    assert main(["detect", str(path), "--out", str(out), "--quiet", "--detector", "otsu", "--labels",
                 "--level", "1"]) == 0
    labels = tifffile.imread(out / "nuclei_labels.tif")
    cells = pd.read_csv(out / "nuclei_cells.csv")
    assert labels.shape == (160, 160) and labels.dtype == np.uint16 and labels.max() == len(cells) > 5
    areas = np.bincount(labels.ravel())[1:]  # level-1 pixels; the CSV gives level-0 pixels and µm²
    assert cells["area_px"].tolist() == (areas * 4).tolist()
    assert cells["area_um2"].tolist() == pytest.approx((areas * 4 * 0.25).tolist())
    assert cells["x1"].max() > 200  # level-0 coordinates
    assert not list(out.glob("*.part"))
    assert main(["detect", str(path), "--out", str(out / "plain"), "--quiet", "--detector", "otsu"]) == 0
    assert not (out / "plain" / "nuclei_labels.tif").exists()
    plain = pd.read_csv(out / "plain" / "nuclei_cells.csv")  # no label image: areas from each tile's cells
    assert plain["area_um2"].tolist() == pytest.approx(plain["area_px"] * 0.25)
    row = pd.read_csv(out / "plain" / "summary.csv").iloc[0]  # the cells' median size, against the trained 16 px
    assert row.median_cell_diameter_px == pytest.approx(plain["diameter_px"].median())
    assert row.median_cell_diameter_um == pytest.approx(plain["diameter_um"].median())
    png = tmp_path / "nuclei.png"  # no pixel size recorded: --pixel-size gives the µm columns of the cells too
    Image.fromarray((img / img.max() * 255).astype(np.uint8)).save(png)
    assert main(["detect", str(png), "--out", str(out / "png"), "--quiet", "--detector", "otsu",
                 "--pixel-size", "0.5"]) == 0
    given = pd.read_csv(out / "png" / "nuclei_cells.csv")
    assert given["area_um2"].tolist() == pytest.approx(given["area_px"] * 0.25)
    assert pd.read_csv(out / "png" / "summary.csv").loc[0, "area_mm2"] == pytest.approx(320 * 320 * 0.25 / 1e6)


def test_detect_command_reports_an_over_exposed_image(tmp_path, smear, caplog):
    from napari_cytoqa.synthetic import over_expose

    bright, plain = tmp_path / "bright.png", tmp_path / "plain.png"
    Image.fromarray(over_expose(np.asarray(smear.image), 255 / 1.35)).save(bright)
    Image.fromarray(np.asarray(smear.image)).save(plain)
    out = tmp_path / "det"
    with caplog.at_level("WARNING", logger="napari_cytoqa"):
        assert main(["detect", str(bright), str(plain), "--out", str(out), "--quiet", "--detector", "otsu"]) == 0
    assert "bright: " in caplog.text and "over-exposed" in caplog.text  # the log names the image
    summary = pd.read_csv(out / "summary.csv").set_index("image")
    assert summary.loc[str(bright), "saturated"] > 0.3 and "over-exposed" in summary.loc[str(bright), "warnings"]
    assert summary.loc[str(plain), "saturated"] < 0.02 and pd.isna(summary.loc[str(plain), "warnings"])


@pytest.mark.parametrize("command", ["qc", "detect", "stain"])
def test_an_unusable_output_folder_is_one_clear_error(tmp_path, smear, capsys, command):
    img = tmp_path / "a.png"
    Image.fromarray(smear.image).save(img)
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    extra = ["--method", "reinhard", "--reference", str(img)] if command == "stain" else []
    assert main([command, str(img), "--out", str(a_file / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert f"cytoqa {command}: cannot use" in err and "Traceback" not in err


def test_detect_overlap_and_diameter_take_pixels_or_auto(capsys):
    from napari_cytoqa.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["detect", "a.png", "--out", "o"])
    assert args.overlap == "auto" and args.diameter is None
    args = parser.parse_args(["detect", "a.png", "--out", "o", "--overlap", "100", "--diameter", "auto"])
    assert args.overlap == 100 and args.diameter == "auto"
    for bad in (["--overlap", "1.5"], ["--diameter", "big"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["detect", "a.png", "--out", "o", *bad])
        assert '"auto", got' in capsys.readouterr().err


def test_detect_diameter_in_microns(tmp_path, pyramid_file, smear, capsys):
    from napari_cytoqa.cli import Microns, build_parser

    parser = build_parser()
    for text in ("8um", "8 µm", "8.0μm"):
        arg = parser.parse_args(["detect", "a.png", "--out", "o", "--diameter", text]).diameter
        assert isinstance(arg, Microns) and arg == 8
    with pytest.raises(SystemExit):
        parser.parse_args(["detect", "a.png", "--out", "o", "--diameter", "8mm"])
    assert "µm (e.g. 8um)" in capsys.readouterr().err
    path, _ = pyramid_file  # 0.25 µm/px at level 0
    png = tmp_path / "smear.png"
    Image.fromarray(smear.image[:256, :256]).save(png)
    assert main(["detect", str(path), "--out", str(tmp_path / "a"), "--detector", "otsu", "--level", "1",
                 "--diameter", "8um", "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "a" / "summary.csv").diameter_px[0] == pytest.approx(16)  # 8 / 0.5 µm/px
    assert main(["detect", str(png), "--out", str(tmp_path / "b"), "--detector", "otsu", "--diameter", "8um",
                 "--quiet"]) == 1  # a PNG records no pixel size
    assert "pass pixel_size=" in capsys.readouterr().err
    assert main(["detect", str(png), "--out", str(tmp_path / "c"), "--detector", "otsu", "--diameter", "8um",
                 "--pixel-size", "0.4", "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "c" / "summary.csv").diameter_px[0] == pytest.approx(20)
    summary = pd.read_csv(tmp_path / "c" / "summary.csv").iloc[0]  # the searched area, with the pixel size given
    assert summary.area_px == 256 * 256 and summary.area_mm2 == pytest.approx(256 * 256 * 0.16 / 1e6)
    assert summary.cells_per_mm2 == pytest.approx(summary.cells / summary.area_mm2)
    assert main(["detect", str(png), "--out", str(tmp_path / "e"), "--detector", "otsu", "--quiet"]) == 0
    summary = pd.read_csv(tmp_path / "e" / "summary.csv").iloc[0]  # no pixel size: pixels only
    assert summary.area_px == 256 * 256 and pd.isna(summary.area_mm2) and pd.isna(summary.cells_per_mm2)


def test_detect_region_in_level_0_pixels(tmp_path, pyramid_file, capsys):
    path, _ = pyramid_file  # 1024 × 1024 at level 0, 512 × 512 at level 1
    assert main(["detect", str(path), "--out", str(tmp_path), "--detector", "otsu", "--level", "1", "--labels",
                 "--region", "100,200,612,840", "--quiet"]) == 0
    cells = pd.read_csv(tmp_path / "pyr_cells.csv")
    assert len(cells) > 10
    summary = pd.read_csv(tmp_path / "summary.csv").iloc[0]  # 512 × 640 level-0 px at 0.25 µm
    assert summary.area_px == 512 * 640 and summary.area_mm2 == pytest.approx(512 * 640 * 0.0625 / 1e6)
    assert (cells.y0 >= 100).all() and (cells.x0 >= 200).all() and (cells.y1 <= 612).all() and (cells.x1 <= 840).all()
    from tifffile import imread

    labels = imread(tmp_path / "pyr_labels.tif")  # the whole of level 1, zero outside the region (50:306, 100:420)
    assert labels.shape == (512, 512) and labels[50:306, 100:420].max() > 10
    assert not labels[:50].any() and not labels[306:].any() and not labels[:, :100].any() and not labels[:, 420:].any()
    ys, xs = np.nonzero(labels)  # each cell's labels lie in its box (level-1 px = level-0 / 2)
    for k in np.unique(labels)[1:6]:
        y0, x0, y1, x1 = cells.loc[k - 1, ["y0", "x0", "y1", "x1"]] / 2
        sel = labels[ys, xs] == k
        assert y0 - 1 <= ys[sel].min() and ys[sel].max() < y1 + 1 and x0 - 1 <= xs[sel].min() and xs[sel].max() < x1 + 1
    from napari_cytoqa._geojson_layers import read_geojson_layers

    (boxes, kw, _), = read_geojson_layers(tmp_path / "pyr_cells.geojson")  # on the slide as napari shows it
    assert kw["scale"] == (0.25, 0.25) and len(boxes) == len(cells)
    assert boxes[0].min(axis=0).tolist() == [cells.y0[0] - 0.5, cells.x0[0] - 0.5]
    with pytest.raises(SystemExit):
        main(["detect", str(path), "--out", str(tmp_path), "--region", "1,2,3"])
    assert "Y0,X0,Y1,X1" in capsys.readouterr().err


def test_plane_of_a_stack(tmp_path, capsys):
    import tifffile

    from napari_cytoqa.synthetic import make_fluorescence

    planes = np.stack([make_fluorescence((128, 128), seed=k).image for k in range(3)])
    stack, flat = tmp_path / "stack.tif", tmp_path / "flat.tif"
    tifffile.imwrite(stack, planes, photometric="minisblack")  # a focus series, not planar RGB
    tifffile.imwrite(flat, planes[0])
    for command in (["qc", "--tile-size", "64"], ["detect", "--detector", "otsu"]):
        assert main([command[0], str(stack), str(flat), "--out", str(tmp_path / command[0]), "--quiet",
                     *command[1:]]) == 1  # the stack needs a plane; the flat image is done
        err = capsys.readouterr().err
        assert "stack.tif: a stack of 3 planes" in err and "--plane K" in err and "flat.tif" not in err
        assert main([command[0], str(stack), str(flat), "--out", str(tmp_path / command[0]), "--quiet",
                     "--plane", "2", *command[1:]]) == 0
    assert (tmp_path / "detect" / "stack_plane2_cells.csv").exists()
    assert (tmp_path / "qc" / "stack_plane2_tiles.csv").exists()
    one = pd.read_csv(tmp_path / "detect" / "summary.csv")
    assert main(["detect", str(stack), "--out", str(tmp_path / "direct"), "--detector", "otsu", "--quiet",
                 "--plane", "9"]) == 1
    assert "outside 0-2" in capsys.readouterr().err
    assert len(one) == 2 and (one.error.isna() | (one.error == "")).all()


def test_every_plane_of_a_focus_series(tmp_path, capsys):
    import tifffile

    from napari_cytoqa.synthetic.smear import fluorescence_series

    series = fluorescence_series((256, 256), [0, 5, 10], seed=5)  # in focus, mid, far out of focus
    stack, flat = tmp_path / "zstack.tif", tmp_path / "flat.tif"
    tifffile.imwrite(stack, np.stack([s.image for s in series]), photometric="minisblack")
    tifffile.imwrite(flat, series[0].image)
    assert main(["qc", str(stack), str(flat), "--out", str(tmp_path / "qc"), "--tile-size", "128",
                 "--plane", "all"]) == 0
    assert "zstack.tif: sharpest plane [0]" in capsys.readouterr().out
    rows = pd.read_csv(tmp_path / "qc" / "summary.csv").set_index("image")
    assert list(rows.index) == [f"{stack} [0]", f"{stack} [1]", f"{stack} [2]", str(flat)]
    p = rows.p_blurry.tolist()
    assert p[0] < 0.5 < p[2] and p[0] <= p[1] <= p[2]  # the sharpest plane reads sharpest
    curve = pd.read_csv(tmp_path / "qc" / "zstack_planes.csv")  # the stack's focus curve, one row per plane
    assert curve.plane.tolist() == [0, 1, 2] and curve.p_blurry.round(4).tolist() == [round(v, 4) for v in p[:3]]
    assert curve.blur_level.is_monotonic_increasing and not (tmp_path / "qc" / "flat_planes.csv").exists()
    assert not (tmp_path / "qc" / "zstack_sharpest.tif").exists()  # only with --compose
    assert main(["qc", str(stack), "--out", str(tmp_path / "qc2"), "--tile-size", "128", "--plane", "all",
                 "--compose", "--quiet"]) == 0
    composite = tifffile.imread(tmp_path / "qc2" / "zstack_sharpest.tif")  # every tile's sharpest: plane 0
    np.testing.assert_array_equal(composite, series[0].image)
    two_axes = tmp_path / "zc.tif"
    tifffile.imwrite(two_axes, np.stack([s.image for s in series[:2]])[:, None].repeat(2, axis=1),
                     photometric="minisblack", metadata={"axes": "ZCYX"})
    assert main(["qc", str(two_axes), "--out", str(tmp_path / "qc3"), "--tile-size", "128", "--plane", "all",
                 "--compose", "--quiet"]) == 1
    assert "one axis beside the image plane" in capsys.readouterr().err
    assert (tmp_path / "qc3" / "zc_planes.csv").exists() and not (tmp_path / "qc3" / "zc_sharpest.tif").exists()
    assert main(["detect", str(stack), "--out", str(tmp_path / "det"), "--detector", "otsu", "--plane", "all",
                 "--quiet"]) == 0
    assert len(pd.read_csv(tmp_path / "det" / "summary.csv")) == 3
    assert {f"zstack_plane{k}_cells.csv" for k in range(3)} <= {f.name for f in (tmp_path / "det").iterdir()}


def test_report_page_escapes_names_and_messages(tmp_path):
    from napari_cytoqa.quality.html import write_html

    rows = [{"image": "a<b>.png", "verdict": "sharp", "grade": "good", "blur_level": 1.234, "p_blurry": float("nan"),
             "error": ""}, {"image": "c&d.tif", "error": "cannot decode <x>"}]
    page = write_html(tmp_path / "r.html", rows, {"a<b>.png": "a<b>_overlay.png"}).read_text()
    assert "a&lt;b&gt;.png" in page and "<b>" not in page and "cannot decode &lt;x&gt;" in page
    assert "<td>1.23</td>" in page and "<td>–</td>" in page and page.index("c&amp;d.tif") < page.index("a&lt;b")
    rows = [{"image": name, "verdict": "sharp", "tiles_sharp": 10 - k, "tiles_blurry": k, "error": ""}
            for name, k in (("few", 1), ("many", 6), ("none", 0))]  # within a verdict: most blurry tiles first
    page = write_html(tmp_path / "s.html", rows).read_text()
    assert page.index("<td>many</td>") < page.index("<td>few</td>") < page.index("<td>none</td>")
    rows = [{"image": "fine", "verdict": "sharp", "truth_tiles": 12, "focus_accuracy": 0.75,
             "warnings": "analysed at its own 0.25 µm/px <hint> | another", "error": ""}]
    page = write_html(tmp_path / "n.html", rows).read_text()  # notes under the name: marks, warnings
    assert ("<td>fine<br><small>vs 12 marked tiles: accuracy 0.75</small><br><small>analysed at its own 0.25 "
            "µm/px &lt;hint&gt;</small><br><small>another</small></td>") in page


def test_detect_scores_each_image_against_its_annotations(tmp_path, capsys):
    """--truth: a QuPath-style GeoJSON beside the image (level-0 pixels) scores a run at pyramid level 1,
    the same figures as the metrics module on the CSV's level-0 boxes; a region limits the truth."""
    from napari_cytoqa.detection import evaluate_detections
    from napari_cytoqa.detection.errors import error_kinds
    from napari_cytoqa.detection.metrics import count_ape
    from napari_cytoqa.detection.region import inside_polygons
    from napari_cytoqa.io.writer import build_pyramid, write_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((320, 320), seed=5)
    path = write_pyramid(tmp_path / "nuclei.ome.tif", build_pyramid(img.image, min_size=128), pixel_size_um=0.5)
    feats = [{"type": "Feature", "properties": {"objectType": "annotation"}, "geometry": {
        "type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
        for y0, x0, y1, x1 in np.asarray(img.boxes, float)]
    (tmp_path / "nuclei.ome.tif.geojson").write_text(json.dumps(feats))
    out = tmp_path / "det"
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--level", "1", "--truth", "auto",
                 "--quiet"]) == 0
    cells, row = pd.read_csv(out / "nuclei_cells.csv"), pd.read_csv(out / "summary.csv").iloc[0]
    s = evaluate_detections([(cells[["y0", "x0", "y1", "x1"]].to_numpy(), cells["score"].to_numpy())], [img.boxes],
                            score_threshold=0.0)
    assert 0 < s.ap50 < 1.0 and row.truth_cells == len(img.boxes)  # Otsu at level 1: weak, not nothing
    assert row.ap50 == pytest.approx(s.ap50, abs=1e-4) and row.f1 == pytest.approx(s.f1, abs=1e-4)
    assert row.count_ape == pytest.approx(count_ape(len(cells), len(img.boxes)), abs=1e-4)
    kinds = error_kinds(cells[["y0", "x0", "y1", "x1"]].to_numpy(), cells["score"].to_numpy(), truth_boxes=img.boxes)
    mistakes = ["split_cells", "merged_boxes", "extra_boxes", "missed_cells", "loose_cells"]
    assert row[mistakes].tolist() == list(kinds.as_dict().values()) and sum(kinds.as_dict().values()) > 0
    region = (0, 0, 160, 320)  # the top half, level-0 pixels
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--truth", str(tmp_path),
                 "--region", ",".join(map(str, region)), "--quiet"]) == 0
    inside = inside_polygons(np.asarray(img.boxes, float), [np.array([[0, 0], [0, 320], [160, 320], [160, 0]])])
    assert pd.read_csv(out / "summary.csv").iloc[0].truth_cells == inside.sum() < len(img.boxes)
    capsys.readouterr()
    other = write_pyramid(tmp_path / "other.ome.tif", [img.image], pixel_size_um=0.5)
    assert main(["detect", str(other), "--out", str(out), "--detector", "otsu", "--truth", "auto", "--quiet"]) == 0
    assert "no annotations found" in capsys.readouterr().err
    assert pd.isna(pd.read_csv(out / "summary.csv").iloc[0].truth_cells)
    centres = [[(x0 + x1) / 2, (y0 + y1) / 2] for y0, x0, y1, x1 in np.asarray(img.boxes, float)]
    clicks = tmp_path / "clicks.geojson"  # cells marked by points (QuPath's point annotations)
    clicks.write_text(json.dumps({"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": centres}}))
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--truth", str(clicks), "--quiet"]) == 0
    row, cells = pd.read_csv(out / "summary.csv").iloc[0], pd.read_csv(out / "nuclei_cells.csv")
    from napari_cytoqa.detection.compare import point_scores
    from napari_cytoqa.detection.result import Detections

    level0 = Detections(boxes=cells[["y0", "x0", "y1", "x1"]].to_numpy(), scores=cells["score"].to_numpy(),
                        labels=None, route=cells["route"].to_numpy(), focus=cells["focus"].to_numpy(), detector="otsu")
    want, n = point_scores(level0, np.asarray(centres)[:, ::-1])
    assert row.truth_kind == "points" and row.truth_cells == n == len(img.boxes) and row.tp == want.tp > 0
    points_kinds = error_kinds(level0.boxes, level0.scores, points=np.asarray(centres)[:, ::-1])
    assert row[mistakes].tolist() == list(points_kinds.as_dict().values()) and row.loose_cells == 0
    (tmp_path / "bad.geojson").write_text("{")
    assert main(["detect", str(other), "--out", str(out), "--detector", "otsu", "--truth",
                 str(tmp_path / "bad.geojson"), "--quiet"]) == 1
    assert "not a JSON file" in capsys.readouterr().err and (out / "other_cells.csv").exists()


def test_detect_in_the_regions_of_a_geojson_file(tmp_path, capsys):
    """--region FILE.geojson: regions drawn in QuPath (level-0 pixels) limit a run at level 1 like the
    same polygon given to detect_cells; a file with no area on the plane is a clear per-image error."""
    from napari_cytoqa.detection import detect_cells
    from napari_cytoqa.io.writer import build_pyramid, write_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((320, 320), seed=6).image
    path = write_pyramid(tmp_path / "nuclei.ome.tif", build_pyramid(img, min_size=128), pixel_size_um=0.5)
    ring = [[40, 20], [300, 60], [260, 300], [30, 200], [40, 20]]  # x, y in level-0 pixels
    regions = tmp_path / "regions.geojson"
    regions.write_text(json.dumps([{"type": "Feature", "properties": {"objectType": "annotation",
                                                                       "classification": {"name": "Tumor"}},
                                    "geometry": {"type": "Polygon", "coordinates": [ring]}}]))
    out = tmp_path / "det"
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--level", "1", "--region",
                 str(regions), "--quiet"]) == 0
    cells = pd.read_csv(out / "nuclei_cells.csv")
    level1 = np.asarray(build_pyramid(img, min_size=128)[1])
    want = detect_cells(level1, detector="otsu", region=[np.asarray(ring[:-1], float)[:, ::-1] / 2])  # (y, x) / 2
    assert len(cells) == want.count > 5
    np.testing.assert_allclose(np.sort(cells["y0"].to_numpy()), np.sort(want.boxes[:, 0] * 2))
    summary = pd.read_csv(out / "summary.csv").iloc[0]
    assert summary.area_px < 0.7 * 320 * 320  # the polygon's area, not the image's
    line = tmp_path / "line.geojson"
    line.write_text(json.dumps({"type": "Feature",
                                "geometry": {"type": "LineString", "coordinates": [[0, 0], [9, 9]]}}))
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--region", str(line), "--quiet"]) == 1
    assert "holds no rectangle or polygon" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["detect", str(path), "--out", str(out), "--region", str(tmp_path / "missing.geojson")])


def test_detect_on_a_channel_of_a_stack_matches_napari_layers(tmp_path):
    """A ZCYX file (napari: one ZYX layer per channel). ``--plane 1,1`` writes cells whose GeoJSON
    planes are the file's ([1, 1]) and whose frame names the channel, so napari draws them on plane 1
    of the channel layer; --truth takes annotations drawn on that channel layer by hand (plane [1]
    only) as belonging to every channel of z = 1, and ignores those of other planes; so does a QuPath
    export, whose planes are in the geometry."""
    import tifffile

    from napari_cytoqa._geojson_layers import read_geojson_layers
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((192, 192), seed=7)
    stack = np.zeros((2, 2) + img.image.shape, img.image.dtype)
    stack[1, 1] = img.image
    path = tmp_path / "zc.tif"
    tifffile.imwrite(path, stack, metadata={"axes": "ZCYX"}, imagej=True)
    boxes = np.asarray(img.boxes, float)
    feats = [{"type": "Feature", "properties": {"plane": [z]}, "geometry": {
        "type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
        for z in (1, 0) for y0, x0, y1, x1 in boxes]  # also a decoy copy on z = 0
    truth = tmp_path / "hand.geojson"
    truth.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    out = tmp_path / "out"
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--plane", "1,1",
                 "--truth", str(truth), "--quiet"]) == 0
    row = pd.read_csv(out / "summary.csv").iloc[0]
    assert row.truth_cells == len(boxes) and row.ap50 > 0.5
    cells = pd.read_csv(out / "zc_plane1-1_cells.csv")
    assert len(cells) == row.cells and set(cells["plane"]) == {"1-1"}
    gj = json.loads((out / "zc_plane1-1_cells.geojson").read_text())
    assert gj["cytoqa_frame"]["channel"] == [1, 1] and gj["features"][0]["properties"]["plane"] == [1, 1]
    assert gj["features"][0]["geometry"]["plane"] == {"c": 1, "z": 1, "t": 0}  # where QuPath puts it
    layer, = [t for t in read_geojson_layers(out / "zc_plane1-1_cells.geojson") if t[2] == "shapes"]
    assert all(np.asarray(s).shape[1] == 3 and np.all(np.asarray(s)[:, 0] == 1) for s in layer[0])
    # QuPath's export of the same stack: the plane in the geometry (z 1, every channel), none for z 0
    for i, f in enumerate(feats):
        f["properties"] = {"objectType": "annotation"}
        if i < len(boxes):
            f["geometry"]["plane"] = {"c": -1, "z": 1, "t": 0}
    truth.write_text(json.dumps(feats))
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--plane", "1,1",
                 "--truth", str(truth), "--quiet"]) == 0
    assert pd.read_csv(out / "summary.csv").iloc[0].truth_cells == len(boxes)
    masks = np.zeros((2,) + img.labels.shape, np.int32)  # a label stack of the z planes (no channel axis)
    masks[1] = img.labels
    tifffile.imwrite(tmp_path / "zc_labels.tif", masks)
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--plane", "1,1",
                 "--truth", "auto", "--quiet"]) == 0
    row = pd.read_csv(out / "summary.csv").iloc[0]
    assert row.truth_kind == "labels" and row.truth_cells == len(boxes)
    assert main(["qc", str(path), "--out", str(tmp_path / "qc"), "--plane", "1,1", "--tile-size", "96", "--quiet"]) == 0
    tiles = json.loads((tmp_path / "qc" / "zc_plane1-1_tiles.geojson").read_text())  # the QC tiles likewise
    assert tiles["cytoqa_frame"]["channel"] == [1, 1] and tiles["features"][0]["properties"]["plane"] == [1, 1]


def test_detect_scores_against_label_images(tmp_path, capsys):
    """--truth with label images (a dataset's masks, our own --labels output): the same figures as the
    GeoJSON of the same cells' boxes; found beside the image (<name>_labels.tif), in a masks folder under
    the image's own file name, or given as a file; a binary mask is split into its components; a label
    image of another size or a colour PNG is a clear per-image error."""
    import tifffile

    from napari_cytoqa.io.writer import build_pyramid, write_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((320, 320), seed=5)
    path = write_pyramid(tmp_path / "nuclei.ome.tif", build_pyramid(img.image, min_size=128), pixel_size_um=0.5)
    feats = [{"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
        for y0, x0, y1, x1 in np.asarray(img.boxes, float)]
    (tmp_path / "boxes.geojson").write_text(json.dumps(feats))
    out = tmp_path / "det"

    def scored(truth, *extra):
        assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--level", "1", "--truth", truth,
                     "--quiet", *extra]) == 0
        return pd.read_csv(out / "summary.csv").iloc[0]

    want = scored(str(tmp_path / "boxes.geojson"))
    tifffile.imwrite(tmp_path / "nuclei_labels.tif", img.labels)
    got = scored("auto")
    assert got.truth_kind == "labels" and got.truth_cells == want.truth_cells == len(img.boxes)
    assert (got.ap50, got.tp, got.fp, got.fn) == (want.ap50, want.tp, want.fp, want.fn)
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(((img.labels > 0) * 255).astype(np.uint8)).save(masks / "nuclei.ome.tif.png")  # ignored name
    tifffile.imwrite(masks / "nuclei.ome.tif", (img.labels > 0).astype(np.uint8))  # a binary mask, same file name
    binary = scored(str(masks))
    assert binary.truth_kind == "labels" and 0 < binary.truth_cells <= len(img.boxes)  # touching cells merge
    capsys.readouterr()  # --labels never overwrites the --truth labels (nor scores a run against itself)
    assert main(["detect", str(path), "--out", str(tmp_path), "--detector", "otsu", "--labels", "--truth", "auto",
                 "--quiet"]) == 1
    assert "would overwrite" in capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "nuclei_labels.tif"), img.labels)
    found = tmp_path / "found"  # a run's own labels are found cells, not annotations: auto passes over them
    found.mkdir()
    (found / path.name).write_bytes(path.read_bytes())
    assert main(["detect", str(found / path.name), "--out", str(found), "--detector", "otsu", "--labels",
                 "--quiet"]) == 0
    assert main(["detect", str(found / path.name), "--out", str(found / "again"), "--detector", "otsu", "--truth",
                 "auto", "--quiet"]) == 0
    assert "no annotations found" in capsys.readouterr().err
    copies = tmp_path / "copies"  # a folder holding a copy of the image itself is not a masks folder
    copies.mkdir()
    (copies / path.name).write_bytes(path.read_bytes())
    capsys.readouterr()
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--truth", str(copies), "--quiet"]) == 0
    assert "no annotations found" in capsys.readouterr().err
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "colour.png")
    tifffile.imwrite(tmp_path / "small.tif", img.labels[:100])
    for bad, message in (("colour.png", "colour image"), ("small.tif", "labels of 320 x 100 px")):
        capsys.readouterr()
        assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--truth", str(tmp_path / bad),
                     "--quiet"]) == 1
        assert message in capsys.readouterr().err and (out / "nuclei_cells.csv").exists()


def test_detect_writes_qupath_cells(tmp_path, capsys, monkeypatch):
    """--qupath-cells: the GeoJSON holds QuPath cell objects, each nucleus grown by the distance (µm through
    the pixel size, or level-0 pixels) without crossing a neighbour's growth, the nucleus outline as its
    nucleusGeometry; read back, the nuclei by default and the cells on request. Grown in a crop around
    each nucleus: the same outlines as expand_labels over the whole image."""
    from skimage.segmentation import expand_labels

    from napari_cytoqa.detection.outlines import cell_outlines, label_outlines
    from napari_cytoqa.io import read_geojson
    from napari_cytoqa.io.writer import write_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((256, 256), seed=3)
    crops, whole = cell_outlines(img.labels, 4), label_outlines(expand_labels(img.labels, 4))
    assert crops.keys() == whole.keys() and all(np.array_equal(crops[k], whole[k]) for k in crops)
    path = write_pyramid(tmp_path / "nuclei.ome.tif", [img.image], pixel_size_um=0.5)
    out = tmp_path / "out"
    assert main(["detect", str(path), "--out", str(out), "--detector", "otsu", "--qupath-cells", "2um",
                 "--quiet"]) == 0
    gj = json.loads((out / "nuclei_cells.geojson").read_text())
    assert gj["features"] and {f["properties"]["objectType"] for f in gj["features"]} == {"cell"}
    nuclei, cells = read_geojson(out / "nuclei_cells.geojson"), read_geojson(out / "nuclei_cells.geojson", nuclei=False)
    for n, c in zip(nuclei.shapes, cells.shapes):  # 2 µm = 4 px: the cell holds its nucleus
        assert np.all(c.min(axis=0) <= n.min(axis=0)) and np.all(c.max(axis=0) >= n.max(axis=0))
    grown = np.mean([np.ptp(c, axis=0).mean() - np.ptp(n, axis=0).mean() for n, c in zip(nuclei.shapes, cells.shapes)])
    assert 2 < grown <= 8  # up to 4 px on each side, less where neighbours meet
    plain = write_pyramid(tmp_path / "plain.tif", [img.image])  # no pixel size: µm is an error, pixels are not
    assert main(["detect", str(plain), "--out", str(out), "--detector", "otsu", "--qupath-cells", "2um",
                 "--quiet"]) == 1
    assert "needs the pixel size" in capsys.readouterr().err
    assert main(["detect", str(plain), "--out", str(out), "--detector", "otsu", "--qupath-cells", "4",
                 "--quiet"]) == 0
    with pytest.raises(SystemExit):
        main(["detect", str(plain), "--out", str(out), "--qupath-cells", "0"])
    import napari_cytoqa.detection.detect as detect_module

    kept = json.loads((out / "plain_cells.geojson").read_text())["features"]  # grown from the label image
    monkeypatch.setattr(detect_module, "MAX_LABEL_PIXELS", 1000)  # a "whole slide": no label image kept ...
    assert main(["detect", str(plain), "--out", str(out), "--detector", "otsu", "--qupath-cells", "4",
                 "--quiet"]) == 0
    slide = json.loads((out / "plain_cells.geojson").read_text())["features"]  # ... cells grown from the outlines
    assert {f["properties"]["objectType"] for f in slide} == {"cell"} and len(slide) == len(kept)
    assert [f["nucleusGeometry"] for f in slide] == [f["nucleusGeometry"] for f in kept]
    area = np.array([[f["properties"]["measurements"]["cell_area_px"] for f in fs] for fs in (slide, kept)])
    assert np.median(np.abs(area[0] - area[1]) / area[1]) < 0.01 and np.mean(area[0] == area[1]) > 0.8


def test_qc_scores_tiles_against_marked_blurry_areas(tmp_path, capsys):
    """cytoqa qc --truth: an area outlined as out of focus (<name>_blurry.geojson beside the image, level-0
    pixels; not the QuPath-named file of annotated cells beside it) makes
    the tiles inside it blurry and the others sharp; summary.csv gains the figures quality.compare gives on
    the written tiles; a painted mask (not 0 = blurry) gives the same; an unreadable file is a clear error,
    the report still written."""
    from napari_cytoqa.quality.compare import focus_scores, tile_truth
    from napari_cytoqa.synthetic.samples import smear_with_blurry_region

    s = smear_with_blurry_region((512, 1024), level=8)  # defocused right of x = 0.55-0.65 of the width
    path = tmp_path / "smear.png"
    Image.fromarray(s.image).save(path)
    ring = [[614, 0], [1024, 0], [1024, 512], [614, 512], [614, 0]]  # x, y: the right part, outlined
    cells = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [9, 0],
                                                                                                      [9, 9], [0, 0]]]}}
    (tmp_path / "smear.png.geojson").write_text(json.dumps(cells))  # annotated cells: never taken for blurry areas
    (tmp_path / "smear_blurry.geojson").write_text(json.dumps({"type": "Feature", "properties": {},
                                                               "geometry": {"type": "Polygon", "coordinates": [ring]}}))
    out = tmp_path / "out"
    assert main(["qc", str(path), "--out", str(out), "--tile-size", "128", "--truth", "auto", "--quiet"]) == 0
    row = pd.read_csv(out / "summary.csv").iloc[0]
    tiles = pd.read_csv(out / "smear_tiles.csv")
    truth = tile_truth(tiles, [np.array(ring, float)[:, ::-1]])
    want = focus_scores(tiles, truth)
    assert row.truth_tiles == want["tiles"] > 20 and row.focus_accuracy == pytest.approx(want["accuracy"], abs=1e-4)
    assert tiles["marked"].fillna("").tolist() == list(truth)  # each tile's mark beside its verdict
    assert row.blurry_recall == pytest.approx(want["blurry_recall"], abs=1e-4) and 0.5 < row.focus_accuracy <= 1
    mask = np.zeros((512, 1024), np.uint8)  # the same area painted in a mask instead: the same figures
    mask[:, 614:] = 1
    Image.fromarray(mask).save(tmp_path / "smear_blurry.png")
    (tmp_path / "smear_blurry.geojson").unlink()
    assert main(["qc", str(path), "--out", str(out), "--tile-size", "128", "--truth", "auto", "--quiet"]) == 0
    painted = pd.read_csv(out / "summary.csv").iloc[0]
    assert (painted.truth_tiles, painted.focus_accuracy) == (row.truth_tiles, row.focus_accuracy)
    (tmp_path / "bad.tif").write_bytes(b"x")
    assert main(["qc", str(path), "--out", str(out), "--tile-size", "128", "--truth", str(tmp_path / "bad.tif"),
                 "--quiet"]) == 1
    assert "qc --truth" in capsys.readouterr().err and (out / "smear_tiles.csv").exists()
