import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_cytoqa import SlideReadError, read_slide
from napari_cytoqa._reader import get_reader


def test_pyramid_levels_lazy_and_pixel_size(pyramid_file):
    path, image = pyramid_file
    with read_slide(path) as slide:
        assert [lv.shape[:2] for lv in slide.levels] == [(1024, 1024), (512, 512), (256, 256)]
        assert slide.multiscale and slide.rgb and slide.axes == "YXS"
        assert slide.pixel_size_um == pytest.approx((0.25, 0.25))
        assert slide.scale(2) == pytest.approx((1.0, 1.0))
        assert not isinstance(slide.levels[0], np.ndarray)  # lazy
        assert np.array_equal(np.asarray(slide.levels[0][100:110, 200:230]), image[100:110, 200:230])
        assert slide.name == "pyr" and slide.metadata["format"] == "ome-tiff"


@pytest.mark.parametrize("dtype, shape", [(np.uint8, (64, 80)), (np.uint16, (64, 80)),
                                          (np.uint8, (64, 80, 3)), (np.uint16, (64, 80, 3)),
                                          (np.uint8, (64, 80, 4)), (np.float32, (64, 80))])
def test_plain_tiff_dtypes_and_channels(tmp_path, dtype, shape):
    rng = np.random.default_rng(0)
    data = (rng.random(shape) * (np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1)).astype(dtype)
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, data, photometric="rgb" if len(shape) == 3 else "minisblack")
    slide = read_slide(path)
    assert slide.shape == shape and slide.dtype == dtype and len(slide.levels) == 1
    assert np.array_equal(np.asarray(slide.levels[0]), data)
    assert slide.rgb == (len(shape) == 3)


def test_resolution_tags_in_cm_and_implausible_dpi(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), resolution=(1e4 / 0.4, 1e4 / 0.4),
                     resolutionunit="CENTIMETER")
    assert read_slide(path).pixel_size_um == pytest.approx((0.4, 0.4))
    path2 = tmp_path / "b.tif"
    tifffile.imwrite(path2, np.zeros((8, 8), np.uint8), resolution=(72, 72), resolutionunit="INCH")
    assert read_slide(path2).pixel_size_um is None  # screen DPI, not a microscope


def test_svs_style_mpp(tmp_path):
    path = tmp_path / "fake.svs"
    tifffile.imwrite(path, np.zeros((16, 16, 3), np.uint8), photometric="rgb",
                     description="Aperio Image Library v10.0.51\n16x16 |AppMag = 20|MPP = 0.4990")
    assert read_slide(path).pixel_size_um == pytest.approx((0.499, 0.499))


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_png_jpeg(tmp_path, ext, smear):
    path = tmp_path / f"s.{ext}"
    Image.fromarray(smear.image).save(path)
    slide = read_slide(path)
    assert slide.shape == smear.image.shape and slide.rgb and slide.pixel_size_um is None


def test_16bit_png(tmp_path, fluo):
    path = tmp_path / "f.png"
    import imageio.v3 as iio

    iio.imwrite(path, fluo.image)
    slide = read_slide(path)
    assert slide.dtype == np.uint16 and np.array_equal(slide.levels[0], fluo.image)


def test_truncated_tiff_is_a_clear_error_and_reader_declines(pyramid_file, tmp_path):
    path, _ = pyramid_file
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    with pytest.raises(SlideReadError):
        read_slide(cut)
    assert get_reader(str(cut)) is None


def test_garbage_and_wrong_extension(tmp_path, smear):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not an image at all" * 10)
    with pytest.raises(SlideReadError, match="junk.tif: not a TIFF file, nor a PNG or JPEG") as err:
        read_slide(junk)
    assert "pip install" not in str(err.value) and "\n" not in str(err.value)  # no decoder's install advice
    assert get_reader(str(junk)) is None
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(SlideReadError, match=r"broken.png: cannot decode image \(") as err:
        read_slide(broken)
    assert "\n" not in str(err.value)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(SlideReadError, match="empty"):
        read_slide(empty)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(SlideReadError, match="unsupported"):
        read_slide(other)
    assert get_reader(str(other)) is None
    # a PNG saved with a .tif name is still read
    mislabeled = tmp_path / "actually_png.tif"
    Image.fromarray(smear.image).save(mislabeled, format="PNG")
    assert read_slide(mislabeled).shape == smear.image.shape
    with pytest.raises(FileNotFoundError):
        read_slide(tmp_path / "missing.tif")


def test_reader_returns_multiscale_layer_data(pyramid_file):
    path, _ = pyramid_file
    reader = get_reader(str(path))
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image" and kwargs["multiscale"] and len(data) == 3
    assert kwargs["scale"] == pytest.approx((0.25, 0.25)) and kwargs["rgb"]
    assert get_reader([str(path), str(path)]) is None


def test_3d_stack_opens_with_axes(tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((5, 32, 32), np.uint16))
    slide = read_slide(path)
    assert slide.shape == (5, 32, 32) and slide.axes[-2:] == "YX"


@pytest.mark.parametrize("shape, dtype", [((512, 384), np.uint16), ((512, 384, 4), np.uint8)])
def test_pyramid_16bit_gray_and_rgba(tmp_path, shape, dtype):
    from napari_cytoqa.io.writer import build_pyramid, write_pyramid

    rng = np.random.default_rng(1)
    data = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    path = tmp_path / "p.ome.tif"
    write_pyramid(path, build_pyramid(data, min_size=128), pixel_size_um=1.0, tile=128)
    slide = read_slide(path)
    assert len(slide.levels) == 2 and slide.dtype == dtype and slide.shape == shape  # 96 < 128 stops
    assert np.array_equal(np.asarray(slide.levels[0]), data)
    assert slide.levels[1].shape == (256, 192) + shape[2:]


def test_rgba_png(tmp_path, smear):
    rgba = np.dstack([smear.image, np.full(smear.image.shape[:2], 255, np.uint8)])
    path = tmp_path / "a.png"
    Image.fromarray(rgba).save(path)
    slide = read_slide(path)
    assert slide.shape[-1] == 4 and slide.rgb


@pytest.mark.parametrize("mode, channels", [("CMYK", 3), ("LA", 4), ("P", 4)])
def test_other_pillow_modes_read_as_rgb_or_rgba(tmp_path, smear, mode, channels):
    """A print-shop CMYK JPEG used to read as four channels (CMY + K taken for alpha), a
    gray + alpha PNG was refused as a (Y, X, 2) stack; they are decoded as RGB / RGBA (a
    palette PNG with a transparent index as RGBA, so transparency reaches the checks)."""
    im = Image.fromarray(smear.image).convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    im.save(path, **({"transparency": 0} if mode == "P" else {}))
    data = np.asarray(read_slide(path).levels[0])
    assert data.shape == smear.image.shape[:2] + (channels,) and data.dtype == np.uint8
    with Image.open(path) as saved:  # what Pillow itself makes of the file in RGB(A)
        np.testing.assert_array_equal(data, np.asarray(saved.convert("RGB" if channels == 3 else "RGBA")))
    assert np.abs(data[..., :3].astype(float) - smear.image).mean() < (4 if mode == "CMYK" else 25)
    if mode == "LA":
        assert (data[..., 3] == 255).all()


@pytest.mark.parametrize("extra", [False, True])
def test_cmyk_tiff_reads_as_rgb_lazily(tmp_path, smear, extra):
    """A print TIFF (photometric "separated", CMYK inks; maybe an alpha) used to read as four or
    five channels, K taken for alpha; its tiles are converted as Pillow converts CMYK."""
    cmyk = np.asarray(Image.fromarray(smear.image).convert("CMYK"))
    data = np.concatenate([cmyk, np.full(cmyk.shape[:2] + (1,), 255, np.uint8)], -1) if extra else cmyk
    path = tmp_path / "print.tif"
    tifffile.imwrite(path, data, photometric="separated", tile=(128, 128),
                     **({"extrasamples": [2]} if extra else {}))
    slide = read_slide(path)
    level = slide.levels[0]
    assert level.shape == smear.image.shape and slide.rgb and level.chunks[0][0] == 128  # still tiled
    np.testing.assert_array_equal(np.asarray(level), np.asarray(Image.fromarray(cmyk, "CMYK").convert("RGB")))
    assert np.abs(np.asarray(level).astype(float) - smear.image).mean() < 2


def test_layer_levels_take_one_plane_of_a_stack_lazily():
    from types import SimpleNamespace

    import dask.array as da

    from napari_cytoqa._layers import layer_levels, result_name

    z = np.arange(8 * 64 * 64, dtype=np.uint16).reshape(8, 64, 64)
    flat = SimpleNamespace(data=z, multiscale=False, name="s")
    assert layer_levels(flat)[0] is z
    np.testing.assert_array_equal(layer_levels(flat, (5,))[0], z[5])
    # a pyramid that also halves its leading axis: plane 5 of level 0 is plane 2 of level 1
    pyr = SimpleNamespace(data=[da.from_array(z), da.from_array(z[::2, ::2, ::2])], multiscale=True, name="s")
    planes = layer_levels(pyr, (5,))
    assert isinstance(planes[0], da.Array) and [p.shape for p in planes] == [(64, 64), (32, 32)]
    np.testing.assert_array_equal(planes[1].compute(), z[4, ::2, ::2])
    assert result_name(pyr, (5,)) == "s [plane 5]" and result_name(pyr) == "s"


def test_stack_planes_as_slides(tmp_path):
    zyx = tmp_path / "zyx.tif"
    data = np.arange(5 * 32 * 48, dtype=np.uint16).reshape(5, 32, 48)
    tifffile.imwrite(zyx, data)
    two = tmp_path / "two.tif"
    tifffile.imwrite(two, np.stack([data[0], data[1]], -1), photometric="minisblack", planarconfig="contig")
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.zeros((32, 48, 3), np.uint8))
    with read_slide(zyx) as s, read_slide(two) as t, read_slide(rgb) as r:
        assert s.planes == (5,) and t.planes == (2,) and r.planes == ()
        p = s.plane(3)
        assert p.shape == (32, 48) and p.axes == "YX" and p.name == "zyx_plane3" and p.planes == ()
        np.testing.assert_array_equal(np.asarray(p.levels[0]), data[3])
        np.testing.assert_array_equal(np.asarray(t.plane(1).levels[0]), data[1])
        assert r.plane(()) is r
        for slide, bad, match in [(s, 5, "outside 0-4"), (s, (1, 2), "one index per axis"), (r, 0, "one index"),
                                  (s, "1", "one index per axis")]:
            with pytest.raises(ValueError, match=match):
                slide.plane(bad)


def test_planar_rgb_tiff_reads_as_rgb(tmp_path, smear):
    planar = tmp_path / "planar.tif"
    tifffile.imwrite(planar, np.moveaxis(smear.image, -1, 0), photometric="rgb", planarconfig="separate")
    channels = tmp_path / "channels.tif"  # three gray channels stored planar are a stack, not colour
    tifffile.imwrite(channels, np.moveaxis(smear.image, -1, 0), photometric="minisblack", planarconfig="separate")
    with read_slide(planar) as p, read_slide(channels) as c:
        assert p.rgb and p.axes == "YXS" and p.planes == ()
        np.testing.assert_array_equal(np.asarray(p.levels[0]), smear.image)
        assert not c.rgb and c.planes == (3,)


def test_writes_are_whole_or_not_at_all(tmp_path):
    """napari_cytoqa._files.atomic_write: a write that fails keeps the old file and leaves no partial
    one; write_pyramid goes through it."""
    from napari_cytoqa._files import atomic_write
    from napari_cytoqa.io.writer import write_pyramid

    target = tmp_path / "table.csv"
    target.write_text("old")

    def broken(tmp):
        Path(tmp).write_text("half a tab")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    assert atomic_write(tmp_path / "new" / "t.txt", lambda tmp: Path(tmp).write_text("x")).read_text() == "x"
    class Unreadable:  # a lazy level whose source fails half way (a network drive gone)
        shape, dtype, ndim = (600, 600), np.dtype(np.uint8), 2

        def __getitem__(self, key):
            if key[0].start >= 256:
                raise OSError("source gone")
            return np.zeros((256, 256), np.uint8)[: 600 - key[0].start, : 600 - key[1].start]

    with pytest.raises(OSError, match="source gone"):
        write_pyramid(tmp_path / "p.ome.tif", [Unreadable()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "table.csv"]
