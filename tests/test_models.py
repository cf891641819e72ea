import functools
import http.server
import threading

import numpy as np
import pytest
import torch

from napari_cytoqa.models import (ModelHashError, ModelSpec, clear_cache, get_model, list_models,
                                  register_model, resolve_device, save_model, sha256_file, training_state)
from napari_cytoqa.models.architectures import QualityNet
from napari_cytoqa.models import registry


@pytest.fixture
def model_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("CYTOQA_MODELS_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("CYTOQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "_URL_SPECS", {})
    clear_cache()
    yield tmp_path
    clear_cache()


def _tiny(name="tiny-q", directory=None):
    torch.manual_seed(0)
    net = QualityNet(widths=(4, 8))
    spec = ModelSpec(name=name, task="quality", architecture="quality_net", weights=f"{name}.safetensors",
                     sha256="", config={"widths": [4, 8]}, input={"crop": 32, "crops_per_tile": 2})
    return net, spec


def test_user_model_appears_and_loads(model_dirs):
    net, spec = _tiny()
    save_model(net, spec, model_dirs / "user")
    names = [s.name for s in list_models(task="quality")]
    assert "tiny-q" in names and [s for s in list_models(task="detection") if s.name == "tiny-q"] == []
    loaded = get_model("tiny-q", device="cpu")
    assert loaded.spec.source == "user" and loaded.device == "cpu"
    x = torch.randn(2, 3, 32, 32)
    net.eval()
    with torch.no_grad():
        np.testing.assert_allclose(loaded.module(x)["blur"], net(x)["blur"], atol=1e-5)
    assert get_model("tiny-q", device="cpu") is loaded  # cached


def test_a_stray_json_in_the_models_dir_is_skipped_with_one_warning(model_dirs, caplog):
    net, spec = _tiny()
    save_model(net, spec, model_dirs / "user")
    (model_dirs / "user" / "notes.json").write_text('{"my": "results"}')
    with caplog.at_level("WARNING", logger="napari_cytoqa"):
        for _ in range(3):
            assert "tiny-q" in [s.name for s in list_models(task="quality")]
    assert sum("notes.json" in r.getMessage() for r in caplog.records) == 1


def test_fp16_weights_are_small_and_close(model_dirs):
    net, spec = _tiny("half-q")
    save_model(net, spec, model_dirs / "user", half=True)
    loaded = get_model("half-q", device="cpu")
    x = torch.randn(1, 3, 32, 32)
    net.eval()
    with torch.no_grad():
        np.testing.assert_allclose(loaded.module(x)["valid"], net(x)["valid"], atol=1e-2)


def test_training_state_is_a_float32_copy_of_the_weights(model_dirs):
    net, spec = _tiny("half-q")
    save_model(net, spec, model_dirs / "user", half=True)
    state, got = training_state("half-q", "quality_net")
    assert got.name == "half-q" and all(v.dtype == torch.float32 for v in state.values())
    loaded = get_model("half-q", device="cpu").module.state_dict()
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    torch.testing.assert_close(state[key], loaded[key].float())
    state[key].zero_()  # its own tensors: the cached model is untouched
    assert loaded[key].abs().sum() > 0
    with pytest.raises(ValueError, match="not 'unet'"):
        training_state("half-q", "unet")


def test_hash_mismatch_is_a_clear_error_and_nothing_loads(model_dirs):
    net, spec = _tiny("bad-q")
    save_model(net, spec, model_dirs / "user")
    path = model_dirs / "user" / "bad-q.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelHashError, match="not loaded"):
        get_model("bad-q", device="cpu")
    assert not registry._CACHE


def test_unknown_model_and_no_pickles(model_dirs):
    (model_dirs / "user").mkdir(parents=True)
    torch.save({"x": 1}, model_dirs / "user" / "evil.pt")  # a pickle is never looked at
    (model_dirs / "user" / "broken.json").write_text("{not json")
    with pytest.raises(KeyError, match="no model named"):
        get_model("evil")
    assert all(s.name != "evil" for s in list_models())


def test_device_auto():
    dev = resolve_device("auto")
    assert dev == ("cuda" if torch.cuda.is_available() else dev) and dev in ("cuda", "mps", "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_model_downloads_with_hash_check(model_dirs, http_server):
    root, base = http_server
    net, spec = _tiny("remote-q")
    save_model(net, spec, root)
    remote = ModelSpec(name="remote-q", task="quality", architecture="quality_net",
                       weights="remote-q.safetensors", sha256=spec.sha256, config=spec.config,
                       url=f"{base}/remote-q.safetensors")
    register_model(remote)
    assert any(s.name == "remote-q" and s.source == "url" for s in list_models())
    loaded = get_model("remote-q", device="cpu")
    cached = model_dirs / "cache" / "remote-q.safetensors"
    assert cached.exists() and sha256_file(cached) == spec.sha256
    assert loaded.spec.name == "remote-q"


def test_corrupted_download_is_rejected(model_dirs, http_server):
    root, base = http_server
    net, spec = _tiny("remote-bad")
    save_model(net, spec, root)
    good_hash = spec.sha256
    (root / "remote-bad.safetensors").write_bytes(b"corrupted" * 100)  # the server now serves junk
    register_model(ModelSpec(name="remote-bad", task="quality", architecture="quality_net",
                             weights="remote-bad.safetensors", sha256=good_hash, config=spec.config,
                             url=f"{base}/remote-bad.safetensors"))
    with pytest.raises(ModelHashError):
        get_model("remote-bad", device="cpu")
    assert not (model_dirs / "cache" / "remote-bad.safetensors").exists()
    with pytest.raises(ValueError):
        register_model(ModelSpec(name="x", task="quality", architecture="quality_net",
                                 weights="x.safetensors", sha256="0"))


def test_quality_net_extra_convs_round_trip(model_dirs):
    default = QualityNet(widths=(4, 8, 16))
    assert QualityNet(widths=(4, 8, 16), extra=[1, 1]).state_dict().keys() == default.state_dict().keys()
    light = QualityNet(widths=(4, 8, 16), extra=[0, 2])
    n_conv = sum(isinstance(m, torch.nn.Conv2d) for m in light.modules())
    assert n_conv == 1 + 2 + 2  # first layer, two stride-2 stages, two extra after the last
    spec = ModelSpec(name="light-q", task="quality", architecture="quality_net", weights="light-q.safetensors",
                     sha256="", config={"widths": [4, 8, 16], "extra": [0, 2]}, input={"crop": 32})
    save_model(light, spec, model_dirs / "user")
    x = torch.randn(1, 3, 32, 32)
    light.eval()
    with torch.no_grad():
        np.testing.assert_allclose(get_model("light-q", device="cpu").module(x)["blur"], light(x)["blur"],
                                   atol=1e-5)
    for bad in ([1], [1, -1]):
        with pytest.raises(ValueError, match="one count"):
            QualityNet(widths=(4, 8, 16), extra=bad)
