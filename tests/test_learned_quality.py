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


def test_assume_valid_keeps_the_judgement_but_lifts_the_gate():
    text = make_non_cell((512, 512), kind="text", seed=70_004)
    judged = assess_quality(text, tile_size=256)
    assumed = assess_quality(text, tile_size=256, assume_valid=True)
    assert judged.verdict == "invalid" and judged.summary()["validity"] == "judged"
    assert (judged.tiles.verdict == "invalid").any()
    # the model's judgement is still reported, tile by tile and for the slide
    assert assumed.p_valid == judged.p_valid
    assert np.array_equal(assumed.tiles.p_valid, judged.tiles.p_valid)
    assert np.array_equal(assumed.tiles.p_blurry, judged.tiles.p_blurry)
    # but no tile or slide is "invalid", and the content tiles get focus and grade verdicts
    assert assumed.valid and assumed.summary()["validity"] == "assumed"
    assert assumed.verdict in ("sharp", "blurry") and np.isfinite(assumed.p_blurry)
    assert assumed.tiles.valid.all() and not (assumed.tiles.verdict == "invalid").any()
    content = assumed.tiles.has_content
    assert set(assumed.tiles.verdict[content]) <= {"sharp", "blurry"}
    assert (assumed.tiles.grade[content] != "").all() and assumed.grade in ("bad", "fair", "good", "excellent")
    # only the cell-image judgement is assumed: dark-edge tiles stay unusable
    ringed = dark_ring(smear_series((512, 512), [0], seed=5)[0].image, seed=1)
    judged, assumed = (assess_quality(ringed, tile_size=128, assume_valid=a) for a in (False, True))
    edge = judged.tiles.flag == "dark_edge"
    assert edge.any() and (assumed.tiles.verdict[edge] == "invalid").all()
    assert assumed.dark_ring and (assumed.tiles.valid == judged.tiles.valid).all()


def test_learned_report_columns_and_dark_ring():
    img = dark_ring(smear_series((512, 512), [0], seed=70_005)[0].image, radius=0.4, seed=0)
    r = assess_quality(img, tile_size=128)
    assert r.method == "learned:cytoqa-quality"
    assert {"p_cell", "p_valid", "grade", "blur_level"} <= set(r.tiles.columns)
    assert r.dark_ring and (r.tiles[r.tiles.flag == "dark_edge"].verdict == "invalid").all()
    assert np.isfinite(r.p_blurry)


@pytest.mark.parametrize("kind", ["rgb8", "gray16", "gray8"])
@pytest.mark.parametrize("shape", [(256, 256), (256, 40), (30, 200), (1, 150)])  # whole tile and edge slivers
def test_fast_tile_crops_equal_the_reference_path(kind, shape):
    from napari_cytoqa.quality.crops import normalise_rgb, select_crops, tile_crops
    from napari_cytoqa.quality.measures import IntensityStats
    from napari_cytoqa.synthetic import make_fluorescence, make_smear

    img = {"rgb8": lambda: make_smear((300, 340), seed=2).image,
           "gray8": lambda: make_smear((300, 340), seed=2).image[..., 1],
           "gray16": lambda: make_fluorescence((300, 340), seed=1).image}[kind]()
    stats = IntensityStats.from_sample(img, img.dtype)
    tile = img[:shape[0], :shape[1]]
    fast, w_fast = tile_crops(tile, stats)
    ref, w_ref = select_crops(normalise_rgb(tile, stats))
    n = 4 if min(shape) > 96 else 3  # a sliver has 3 candidates, along its long side
    assert fast.shape == ref.shape == (n, 3, 96, 96) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, ref, atol=2e-4)
    np.testing.assert_allclose(w_fast, w_ref, rtol=1e-5)


def test_inference_copy_matches_the_trained_module():
    import torch

    from napari_cytoqa.models import get_model
    from napari_cytoqa.models.inference import for_inference

    loaded = get_model("cytoqa-quality", device="cpu")
    x = torch.randn(5, 3, 96, 96)
    fast = loaded.inference_module
    assert fast is loaded.inference_module  # built once
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    with torch.no_grad():
        a, b = loaded.module.eval()(x), fast(x.contiguous(memory_format=torch.channels_last))
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-4)
    # the trainable original keeps its batch norms and gradients
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.module.modules())
    # a conv with bias and non-trivial batch-norm statistics folds exactly too
    seq = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, bias=True), torch.nn.BatchNorm2d(2)).eval()
    with torch.no_grad():
        seq[1].running_mean.copy_(torch.tensor([0.5, -1.0]))
        seq[1].running_var.copy_(torch.tensor([4.0, 0.25]))
        seq[1].weight.copy_(torch.tensor([2.0, -1.0]))
        y = torch.randn(2, 1, 9, 9)
        torch.testing.assert_close(for_inference(seq)(y), seq(y), atol=1e-5, rtol=1e-5)


def test_int8_on_the_cpu_agrees_with_float32():
    from napari_cytoqa.synthetic.samples import smear_with_blurry_region

    image = smear_with_blurry_region().image
    r32 = assess_quality(image, tile_size=256, precision="fp32", device="cpu")
    r8 = assess_quality(image, tile_size=256, precision="int8", device="cpu")
    assert (r8.tiles.verdict == r32.tiles.verdict).mean() >= 0.95
    assert np.abs(r8.tiles.blur_level - r32.tiles.blur_level).mean() < 0.3
    assert np.abs(r8.tiles.p_valid - r32.tiles.p_valid).max() < 0.1
    assert not np.array_equal(r8.tiles.blur_level, r32.tiles.blur_level)  # it really ran in int8
    assert r8.verdict == r32.verdict


def test_bf16_agrees_with_float32_and_auto_picks_it_only_where_native(monkeypatch):
    from napari_cytoqa.models import precision as bf16
    from napari_cytoqa.quality.assess import IntensityStats
    from napari_cytoqa.quality.learned import LearnedScorer
    from napari_cytoqa.synthetic.samples import smear_with_blurry_region

    image = smear_with_blurry_region().image
    r32 = assess_quality(image, tile_size=256, precision="fp32", device="cpu")
    r16 = assess_quality(image, tile_size=256, precision="bf16", device="cpu")
    assert (r16.tiles.verdict == r32.tiles.verdict).mean() >= 0.95 and r16.verdict == r32.verdict
    assert np.abs(r16.tiles.blur_level - r32.tiles.blur_level).mean() < 0.1
    assert not np.array_equal(r16.tiles.blur_level, r32.tiles.blur_level)  # it really ran in bfloat16
    default = assess_quality(image, tile_size=256, device="cpu")
    expected = r16 if bf16.native_bf16("cpu") else r32
    np.testing.assert_array_equal(default.tiles.blur_level, expected.tiles.blur_level)  # "auto" is the default
    assert (r16.precision, r32.precision, default.summary()["precision"]) == ("bf16", "fp32", expected.precision)
    assert assess_quality(image, tile_size=256, method="classical").summary()["precision"] == ""

    stats = IntensityStats(low=0.0, high=255.0, background=200.0, full_scale=255.0, polarity="dark_on_light")
    for native, picked in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(bf16, "native_bf16", lambda device="cpu", native=native: native)
        assert LearnedScorer(stats, device="cpu").precision == picked
        assert bf16.resolve_precision("auto", "cuda") == "fp32"  # GPUs stay in float32 unless asked
    assert LearnedScorer(stats, device="cpu", precision="bf16").precision == "bf16"  # forced: always
    with pytest.raises(ValueError, match="precision"):
        LearnedScorer(stats, device="cpu", precision="half")


def test_precision_errors_and_float32_fallback(monkeypatch):
    from napari_cytoqa.quality import int8
    from napari_cytoqa.quality.assess import IntensityStats
    from napari_cytoqa.quality.learned import LearnedScorer

    with pytest.raises(ValueError, match="precision"):
        assess_quality(np.zeros((64, 64), np.uint8), precision="half")
    with pytest.raises(ValueError, match="CPU only"):
        int8.use_int8("int8", "cuda")
    assert not int8.use_int8("fp32", "cuda") and not int8.use_int8("fp32", "cpu")

    def broken(module, crop):
        raise RuntimeError("no quantized engine")

    monkeypatch.setattr(int8, "quantize", broken)
    monkeypatch.setattr(int8, "_CACHE", {})
    stats = IntensityStats(low=0.0, high=255.0, background=200.0, full_scale=255.0, polarity="dark_on_light")
    scorer = LearnedScorer(stats, device="cpu", precision="int8")
    assert scorer.precision == "fp32" and scorer.module is scorer.loaded.inference_module


def test_int8_never_loads_triton():
    """FX quantization traced through torch._dynamo, which loads triton's LLVM; next to Mesa's
    LLVM in napari that crashed the process. The eager path must not import either."""
    import subprocess
    import sys

    code = ("import sys; from napari_cytoqa.models import get_model; from napari_cytoqa.quality.int8 import "
            "int8_module; assert int8_module(get_model('cytoqa-quality', device='cpu')) is not None; "
            "print(sorted(m for m in ('torch._dynamo', 'triton') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("kind", ["rgb8", "gray16", "float_nan"])
def test_batched_quick_measures_equal_one_tile_at_a_time(kind):
    """Tiles of several shapes measured together give each tile's figures from the single-tile
    measures (content on every 4th pixel smoothed; noise on the central 256 × 256 pixels)."""
    from scipy import ndimage as ndi

    from napari_cytoqa.quality.measures import (IntensityStats, clipped_fraction, content_fraction,
                                                dark_fraction, luminance, noise_sigma, normalise,
                                                quick_measures_batch)
    from napari_cytoqa.synthetic import make_fluorescence, make_smear

    img = {"rgb8": lambda: make_smear((700, 650), seed=4).image,
           "gray16": lambda: make_fluorescence((700, 650), seed=3).image,
           "float_nan": lambda: make_smear((700, 650), seed=5).image[..., 0] / np.float32(255)}[kind]()
    if kind == "float_nan":
        img = img.astype(np.float32)
        img[10:40, 300:330] = np.nan
    stats = IntensityStats.from_sample(img, img.dtype)
    tiles = [img[y:y + 300, x:x + 300] for y in (0, 300, 600) for x in (0, 300, 600)]  # 300², 100 × 300, …
    got = quick_measures_batch(tiles, stats)
    for tile, g in zip(tiles, got):
        lum = luminance(tile[1::4, 1::4])
        lum = np.where(np.isfinite(lum), lum, stats.background)
        small = normalise(lum, stats)
        cy, cx = max(tile.shape[0] // 2 - 128, 0), max(tile.shape[1] // 2 - 128, 0)
        want = {"content": content_fraction(small, stats.polarity, smoothed=ndi.gaussian_filter(small, 0.7)),
                "dark": dark_fraction(lum, stats.full_scale) if stats.polarity == "dark_on_light" else 0.0,
                "clipped": clipped_fraction(lum, stats.full_scale),
                "noise": noise_sigma(normalise(luminance(tile[cy:cy + 256, cx:cx + 256]), stats))}
        assert set(g) == set(want)
        for k in ("content", "dark", "clipped"):
            assert g[k] == pytest.approx(want[k], abs=1e-9), k
        assert g["noise"] == pytest.approx(want["noise"], rel=1e-5)
    assert stats.polarity == ("light_on_dark" if kind == "gray16" else "dark_on_light")
