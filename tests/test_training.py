import numpy as np
import pytest
import torch

from napari_cytoqa.models import ModelSpec, get_model, save_model
from napari_cytoqa.models.architectures import QualityNet
from napari_cytoqa.training import (FitConfig, TrainingCancelled, binary_metrics, confusion_matrix, fit,
                                    group_kfold, group_split, iter_fit, roc_auc)


def test_binary_metrics_hand_computed():
    y = [1, 1, 0, 0, 1]
    s = [0.9, 0.4, 0.6, 0.1, 0.8]
    m = binary_metrics(y, s)
    # predictions 1,0,1,0,1 -> tp 2, fp 1, fn 1, tn 1
    assert m["confusion"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # AUC: positives .9 .4 .8 vs negatives .6 .1 -> pairs won: 2 + 1 + 2 = 5 of 6
    assert m["auc"] == pytest.approx(5 / 6)


def test_auc_ties_and_degenerate():
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    assert confusion_matrix([0, 2], [2, 2], 3).tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]


def test_group_split_keeps_groups_together():
    groups = np.repeat(np.arange(20), 11)
    tr, va = group_split(groups, 0.2, seed=1)
    assert set(groups[tr]).isdisjoint(groups[va]) and len(set(groups[va])) == 4
    folds = group_kfold(groups, 5, seed=0)
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))
    for tr, te in folds:
        assert set(groups[tr]).isdisjoint(groups[te])
    with pytest.raises(ValueError):
        group_kfold(groups, 50)


def _toy(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    return x, y


def _linear_loss(out, y):
    return torch.nn.functional.binary_cross_entropy_with_logits(out.squeeze(-1), y)


def test_fit_learns_and_restores_best_weights(tmp_path):
    x, y = _toy()
    model = torch.nn.Linear(2, 1)
    events = []
    ckpt = tmp_path / "best.safetensors"
    result = fit(model, (x[:200], y[:200]), (x[200:], y[200:]), _linear_loss,
                 FitConfig(epochs=8, batch_size=32, lr=0.05, patience=3, seed=3), progress=events.append,
                 checkpoint=ckpt)
    assert result.history[0]["val_loss"] > result.best_val_loss
    assert any(e["event"] == "batch" for e in events) and ckpt.exists()
    from safetensors.torch import load_file

    best = load_file(str(ckpt))
    assert torch.allclose(best["weight"], model.weight.detach())  # model holds the best epoch
    with torch.no_grad():
        acc = ((model(torch.tensor(x[200:])).squeeze(-1) > 0).float() == torch.tensor(y[200:])).float().mean()
    assert acc > 0.9


def test_fit_trains_only_the_named_parameters_and_keeps_batchnorm_statistics():
    from napari_cytoqa.models.architectures import QualityNet
    from napari_cytoqa.training.quality_task import make_loss

    torch.manual_seed(0)
    net = QualityNet(widths=(4, 8), extra=(0,))
    rng = np.random.default_rng(0)
    n = 48
    data = (rng.normal(size=(n, 3, 24, 24)).astype(np.float32), rng.integers(0, 11, n),
            np.ones(n, np.float32), rng.integers(0, 4, n))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fit(net, data, data, make_loss(), FitConfig(epochs=2, batch_size=16, lr=0.05, trainable=("heads.grade",)))
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"heads.grade.weight", "heads.grade.bias"}  # running means/vars included in the rest
    with pytest.raises(ValueError, match="matches no parameter"):
        fit(net, data, data, make_loss(), FitConfig(epochs=1, trainable=("heads.nothing",)))


def test_fit_is_seeded_and_cancellable():
    x, y = _toy()

    init = torch.nn.Linear(2, 1).state_dict()

    def run(outside_seed):
        torch.manual_seed(outside_seed)  # whatever the caller's RNG state, the engine reseeds
        m = torch.nn.Linear(2, 1)
        m.load_state_dict(init)
        fit(m, (x, y), (x[:50], y[:50]), _linear_loss, FitConfig(epochs=2, batch_size=64, seed=7),
            augment=lambda t: t + 0.1 * torch.randn_like(t))
        return m.weight.detach().clone()

    assert torch.equal(run(1), run(2))
    with pytest.raises(TrainingCancelled):
        fit(torch.nn.Linear(2, 1), (x, y), (x, y), _linear_loss, FitConfig(epochs=5), cancel=lambda: True)


def test_cancelled_fit_keeps_the_best_epoch_in_the_model(tmp_path):
    x, y = _toy()
    model = torch.nn.Linear(2, 1)
    events, ckpt = [], tmp_path / "best.safetensors"
    # cancel a few batches into the second epoch: the model must hold epoch 0's weights, not the
    # half-trained ones of epoch 1
    with pytest.raises(TrainingCancelled):
        fit(model, (x, y), (x[:64], y[:64]), _linear_loss, FitConfig(epochs=5, batch_size=16, lr=0.05),
            progress=events.append, checkpoint=ckpt,
            cancel=lambda: events[-1]["event"] == "batch" and events[-1]["epoch"] == 1 and events[-1]["step"] == 3)
    from safetensors.torch import load_file

    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0]
    assert torch.equal(load_file(str(ckpt))["weight"], model.weight.detach())


def test_fit_rejects_empty_sets_and_unknown_optimizers():
    x, y = _toy()
    with pytest.raises(ValueError, match="empty"):
        next(iter_fit(torch.nn.Linear(2, 1), (x[:0], y[:0]), (x, y), _linear_loss))
    with pytest.raises(ValueError, match="optimizer"):
        fit(torch.nn.Linear(2, 1), (x, y), (x, y), _linear_loss, FitConfig(optimizer="lbfgs"))


def test_bf16_autocast_training_learns_and_keeps_float32_weights():
    x, y = _toy()
    seen = []

    class Probe(torch.nn.Linear):
        def forward(self, t):
            out = super().forward(t)
            seen.append(out.dtype)
            return out

    model = Probe(2, 1)
    result = fit(model, (x[:200], y[:200]), (x[200:], y[200:]), _linear_loss,
                 FitConfig(epochs=6, batch_size=32, lr=0.05, seed=3, precision="bf16", device="cpu"))
    assert torch.bfloat16 in seen  # the forward passes really ran under bfloat16 autocast
    assert model.weight.dtype == torch.float32 and result.best_val_loss < 0.45
    with torch.no_grad():
        acc = ((model(torch.tensor(x[200:])).squeeze(-1) > 0).float() == torch.tensor(y[200:])).float().mean()
    assert acc > 0.9
    plain = Probe(2, 1)
    seen.clear()
    fit(plain, (x, y), (x[:64], y[:64]), _linear_loss, FitConfig(epochs=1, device="cpu"))
    assert set(seen) == {torch.float32}  # fp32 is the default
    with pytest.raises(ValueError, match="precision"):
        next(iter_fit(torch.nn.Linear(2, 1), (x, y), (x, y), _linear_loss, FitConfig(precision="half")))


def test_sgd_momentum_path():
    x, y = _toy()
    m = torch.nn.Linear(2, 1)
    r = fit(m, (x, y), (x[:64], y[:64]), _linear_loss,
            FitConfig(epochs=3, optimizer="sgd", lr=0.1, momentum=0.9, batch_size=32, lr_schedule="cosine"))
    assert r.best_val_loss < 0.6


def test_tiny_quality_model_end_to_end(tmp_path, monkeypatch):
    """Build a tiny dataset, train a few steps, save to the user dir, use it in assess_quality."""
    from napari_cytoqa import assess_quality
    from napari_cytoqa.models import clear_cache
    from napari_cytoqa.synthetic import make_smear
    from napari_cytoqa.training.quality_data import build_quality_dataset
    from napari_cytoqa.training.quality_task import augment, evaluate, make_loss

    monkeypatch.setenv("CYTOQA_MODELS_DIR", str(tmp_path / "models"))
    clear_cache()
    data = build_quality_dataset(3, 4, size=160, n_crops=1, crop=48, seed=1)
    assert set(np.unique(data.valid)) == {0.0, 1.0} and data.x.shape[1:] == (3, 48, 48)
    assert (data.blur[data.valid == 0] == -1).all() and set(data.blur[data.valid == 1]) == set(range(11))
    tr, va = group_split(data.group, 0.3, seed=0)
    arrays = (data.x, data.blur, data.valid, data.grade)
    model = QualityNet(widths=(4, 8, 16))
    result = fit(model, tuple(a[tr] for a in arrays), tuple(a[va] for a in arrays), make_loss(),
                 FitConfig(epochs=2, batch_size=16, max_steps_per_epoch=3), augment=augment, evaluate=evaluate)
    assert {"blur_exact", "valid_auc", "grade_acc"} <= set(result.history[-1])
    spec = ModelSpec(name="tiny-trained", task="quality", architecture="quality_net",
                     weights="tiny-trained.safetensors", sha256="", config={"widths": [4, 8, 16]},
                     input={"crop": 48, "crops_per_tile": 2})
    save_model(model, spec, tmp_path / "models")
    report = assess_quality(make_smear((256, 256), seed=2).image, tile_size=128, model="tiny-trained")
    assert report.method == "learned:tiny-trained" and len(report.tiles) == 4
    assert report.tiles["p_blurry"].between(0, 1).all() and report.tiles["grade"].isin(
        ["bad", "fair", "good", "excellent", ""]).all()
    assert get_model("tiny-trained").spec.input["crop"] == 48
    clear_cache()
