"""Experiment (not shipped): quantization-aware fine-tuning of the quality network for int8.

    python scripts/train_quality.py --cache /tmp/q.npz --out /tmp/q      # once, to cache the crops
    python scripts/try_qat_quality.py --cache /tmp/q.npz --epochs 3 --out /tmp/qat.safetensors
    python scripts/try_qat_quality.py --evaluate /tmp/qat.safetensors     # held-out test with it

Fine-tunes the shipped network with fake quantization (eager mode: conv-BN-ReLU fused, x86
per-channel qconfig, heads in float32), prints synthetic validation metrics of float32,
post-training int8 and the QAT network per epoch, and writes the QAT state (weights, BN and
fake-quant parameters: tensors only) as safetensors. ``--evaluate`` runs
``evaluate_quality.py --precision int8`` with that network in place of the calibrated one.
Results: docs/benchmarks.md (learned quality, "Quantization-aware training").
"""
import argparse
import copy
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.ao import quantization as tq

from napari_cytoqa.models import get_model
from napari_cytoqa.quality import int8 as q8


class _Quantizable(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.features, self.heads = net.features, net.heads

    def forward(self, x):
        return self.heads(self.dequant(self.features(self.quant(x))))


def prepared(module):
    net = _Quantizable(copy.deepcopy(module).cpu().float()).train()
    for block in net.features:
        if isinstance(block, nn.Sequential):
            tq.fuse_modules_qat(block, [["0", "1", "2"]], inplace=True)
    net.qconfig = tq.get_default_qat_qconfig("x86")
    net.heads.qconfig = None
    return tq.prepare_qat(net, inplace=True)


def converted(net):
    return tq.convert(copy.deepcopy(net).eval(), inplace=False)


def _metrics(model, val):
    from napari_cytoqa.training.quality_task import evaluate

    return json.dumps({k: round(v, 4) for k, v in evaluate(model, val, "cpu").items()})


def train(args):
    from safetensors.torch import save_file

    from napari_cytoqa.training import group_split
    from napari_cytoqa.training.quality_task import augment, make_loss

    torch.manual_seed(0)
    d = dict(np.load(args.cache))
    tr, va = group_split(d["group"], 0.15, seed=0)  # the training script's split
    arrays = (d["x"], d["blur"], d["valid"], d["grade"])
    train_set, val = tuple(a[tr] for a in arrays), tuple(a[va] for a in arrays)
    pos_weight = float((d["valid"][tr] == 0).sum() / max((d["valid"][tr] == 1).sum(), 1))
    fp32 = get_model("cytoqa-quality", device="cpu").module.float().eval()
    print("float32        ", _metrics(fp32, val), flush=True)
    print("post-train int8", _metrics(q8.quantize(fp32, 96), val), flush=True)
    net = prepared(fp32)
    with torch.no_grad():  # observers see real activations before the first step
        for s in range(0, 2048, 256):
            net(torch.as_tensor(train_set[0][s:s + 256]).float())
    loss_fn, bs, n = make_loss(pos_weight), 128, len(train_set[0])
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * (n // bs))
    rng = np.random.default_rng(0)
    for epoch in range(args.epochs):
        net.train()
        if epoch >= 1:
            net.apply(torch.ao.nn.intrinsic.qat.freeze_bn_stats)
        if epoch == args.epochs - 1 and args.epochs > 1:
            net.apply(tq.disable_observer)
        perm, t0 = rng.permutation(n), time.time()
        for i in range(n // bs):
            idx = np.sort(perm[i * bs:(i + 1) * bs])
            x = augment(torch.as_tensor(train_set[0][idx]).float())
            loss = loss_fn(net(x), *(torch.as_tensor(a[idx]) for a in train_set[1:]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"QAT epoch {epoch} ({time.time() - t0:.0f} s)", _metrics(converted(net), val), flush=True)
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items() if isinstance(v, torch.Tensor)}
    save_file(state, str(args.out))
    print("wrote", args.out)


def evaluate(path):
    from safetensors.torch import load_file

    def quantize(module, crop):
        net = prepared(module)
        net.load_state_dict(load_file(str(path)))
        return converted(net)

    q8.quantize = quantize
    sys.path.insert(0, str(Path(__file__).parent))
    import evaluate_quality

    sys.argv = [sys.argv[0], "--precision", "int8"]
    evaluate_quality.main()


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # eager quantization announces its move to torchao
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--out", type=Path, default=Path("qat-quality.safetensors"))
    ap.add_argument("--evaluate", type=Path, default=None)
    a = ap.parse_args()
    evaluate(a.evaluate) if a.evaluate else train(a)
