"""Distillation of the quality network (training.distill): a frozen teacher, mixup, the KD loss."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_cytoqa.models.architectures import QualityNet  # noqa: E402
from napari_cytoqa.training import FitConfig, iter_fit  # noqa: E402
from napari_cytoqa.training.distill import Distiller, make_distill_loss, mixup  # noqa: E402
from napari_cytoqa.training.quality_task import make_loss  # noqa: E402


def _nets():
    torch.manual_seed(0)
    return QualityNet(widths=(4, 8, 8, 8, 8)), QualityNet(widths=(4, 4, 8, 8, 16))


def test_distiller_carries_a_frozen_teacher_outside_the_module_tree():
    student, teacher = _nets()
    net = Distiller(student, teacher)
    x = torch.randn(3, 3, 32, 32)
    out = net(x)
    teacher.eval()
    with torch.no_grad():
        expected = teacher(x)
    for key in ("blur", "valid", "grade"):
        assert torch.allclose(out[f"teacher_{key}"], expected[key])
        assert not out[f"teacher_{key}"].requires_grad
    assert all(k.startswith("student.") for k in net.state_dict())
    assert {id(p) for p in net.parameters()} == {id(p) for p in student.parameters()}
    net.train()
    assert student.training and not teacher.training


def test_mixup_drops_labels_and_restandardises():
    x = torch.randn(6, 3, 16, 16) * 3 + 1
    batch = (x, torch.arange(6), torch.ones(6), torch.zeros(6, dtype=torch.long))
    assert mixup(0.0)(batch) is batch
    mx, blur, valid, grade = mixup(1.0)(batch)
    assert mx.shape == x.shape and not torch.allclose(mx, x)
    assert (blur == -1).all() and (valid == -1).all() and (grade == -1).all()
    assert torch.allclose(mx.mean(dim=(2, 3)), torch.zeros(6, 3), atol=1e-5)
    assert torch.allclose(mx.flatten(1).std(dim=1), torch.ones(6), atol=1e-4)


def test_distill_loss_against_hand_computed_values():
    """Student equal to the teacher: the KL terms vanish and, on unlabelled crops, only the
    validity cross-entropy against the teacher's own probability (its entropy) is left."""
    t = {"blur": torch.randn(4, 11), "valid": torch.tensor([2.0, -1.0, 0.5, -3.0]),
         "grade": torch.randn(4, 4)}
    out = {**t, **{f"teacher_{k}": v for k, v in t.items()}}
    loss = make_distill_loss(make_loss(), pos_weight=1.0)
    unknown = (torch.full((4,), -1), torch.full((4,), -1.0), torch.full((4,), -1))
    p = torch.sigmoid(t["valid"])
    entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean()
    assert float(loss(out, *unknown)) == pytest.approx(float(entropy), abs=1e-5)
    # a student that disagrees on the blur level pays for it
    worse = {**out, "blur": out["blur"].roll(3, dims=1)}
    assert float(loss(worse, *unknown)) > float(entropy) + 0.1
    # labelled crops add the hard loss
    labels = (torch.tensor([0, 3, -1, 8]), torch.tensor([1.0, 1.0, 0.0, 1.0]), torch.tensor([3, 2, -1, 0]))
    hard = make_loss()({k: t[k] for k in t}, *labels)
    assert float(loss(out, *labels)) == pytest.approx(float(entropy + hard), abs=1e-5)


def test_distill_loss_teaches_only_the_named_heads():
    """heads=("valid",): a student that disagrees with the teacher on blur level and grade pays
    nothing for it on unlabelled crops; on validity it pays the cross-entropy as before."""
    t = {"blur": torch.randn(4, 11), "valid": torch.tensor([2.0, -1.0, 0.5, -3.0]),
         "grade": torch.randn(4, 4)}
    out = {**t, **{f"teacher_{k}": v for k, v in t.items()}}
    unknown = (torch.full((4,), -1), torch.full((4,), -1.0), torch.full((4,), -1))
    valid_only = make_distill_loss(make_loss(), heads=("valid",))
    every = make_distill_loss(make_loss())
    other = {**out, "blur": out["blur"].roll(3, dims=1), "grade": out["grade"].roll(1, dims=1)}
    assert float(valid_only(other, *unknown)) == pytest.approx(float(valid_only(out, *unknown)), abs=1e-6)
    assert float(every(other, *unknown)) > float(every(out, *unknown)) + 0.1
    flipped = {**out, "valid": -out["valid"]}
    assert float(valid_only(flipped, *unknown)) > float(valid_only(out, *unknown)) + 0.1
    blur_only = make_distill_loss(make_loss(), heads=("blur",))
    assert float(blur_only(flipped, *unknown)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="heads"):
        make_distill_loss(make_loss(), heads=("focus",))


def test_distillation_trains_the_student_only():
    student, teacher = _nets()
    before_teacher = {k: v.clone() for k, v in teacher.state_dict().items()}
    before_student = {k: v.clone() for k, v in student.state_dict().items()}
    rng = np.random.default_rng(0)
    n = 24
    data = (rng.normal(size=(n, 3, 32, 32)).astype(np.float32), rng.integers(-1, 11, n),
            rng.integers(0, 2, n).astype(np.float32), rng.integers(0, 4, n))
    gen = iter_fit(Distiller(student, teacher), data, data, make_distill_loss(make_loss()),
                   FitConfig(epochs=1, batch_size=8, max_steps_per_epoch=2), joint_augment=mixup(0.5))
    events = list(gen)
    assert any(e["event"] == "epoch" and np.isfinite(e["val_loss"]) for e in events)
    assert all(torch.equal(v, before_teacher[k]) for k, v in teacher.state_dict().items())
    assert any(not torch.equal(v, before_student[k]) for k, v in student.state_dict().items())
