"""Stain transfer evaluation and speed, side by side in one run.

    pip install torchstain          # benchmark-only dependency (speed baseline)
    python benchmarks/bench_stain.py [--json out.json] [--quick]

1. Held-out H&E-like → Giemsa-like smears (12 pairs, seeds 10000–10011, never used for
   training or checkpoint choice): the same scene rendered in both stains, so every method is
   scored against the true target rendering —
   - downstream check: a pixel classifier (background / nucleated cell / red cell) trained on
     Giemsa-like smears only (seeds 30000+), scored by mean IoU on the target images (its
     ceiling), on the untouched sources (the stain shift) and after each transfer;
   - colour distance: mean CIEDE2000 to the true target rendering;
   - structure: SSIM of the gray image of the output against the true target rendering.
2. Realistic within-stain shifts (``synthetic.stain_shift``, strength 0.3) of two-stain images:
   scikit-image's immunohistochemistry (real tissue; validation only) and synthetic H&E
   tissue; normalised back to the unshifted original as reference: ΔE2000 before/after, SSIM.
3. Speed in megapixels per second on a 2048 × 2048 smear (target statistics fitted once
   beforehand, as torchstain's ``fit``): ours vs torchstain's Macenko (numpy and torch
   backends), plus the CycleGAN on this device, in float32 and (opt-in) bfloat16.
"""
import argparse
import json
import time
import warnings

import numpy as np

from napari_cytoqa.stain import delta_e2000, fit_target, transfer_stain
from napari_cytoqa.synthetic import make_smear, stain_shift
from napari_cytoqa.synthetic.tissue import tissue_series

warnings.simplefilter("ignore")


def gray_ssim(a, b):
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity

    return float(structural_similarity(rgb2gray(a[..., :3]), rgb2gray(b[..., :3]), data_range=1.0))


def semantic(sample):
    """0 background, 1 nucleated cell, 2 red cell."""
    lut = np.concatenate([[0], sample.classes]).astype(np.int64)
    return lut[sample.labels]


def pixel_classifier(steps=400, seed=0):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = [make_smear((256, 256), stain="giemsa", seed=30000 + s, blur_level=float(rng.uniform(0, 2)))
             for s in range(16)]
    x = np.stack([t.image for t in train]).astype(np.float32) / 255
    y = np.stack([semantic(t) for t in train])
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=2, dilation=2),
                        nn.ReLU(), nn.Conv2d(16, 16, 3, padding=4, dilation=4), nn.ReLU(), nn.Conv2d(16, 3, 1))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    counts = np.bincount(y.ravel(), minlength=3)
    weight = torch.tensor((counts.sum() / (3 * np.maximum(counts, 1))) ** 0.5, dtype=torch.float32)
    for _ in range(steps):
        idx = rng.integers(len(x), size=8)
        oy, ox = rng.integers(0, 256 - 96, 2)
        xb = torch.as_tensor(x[idx, oy:oy + 96, ox:ox + 96].transpose(0, 3, 1, 2))
        yb = torch.as_tensor(y[idx, oy:oy + 96, ox:ox + 96])
        loss = nn.functional.cross_entropy(net(xb), yb, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net


def mean_iou(net, images, truths):
    import torch

    inter, union = np.zeros(3), np.zeros(3)
    with torch.no_grad():
        for img, t in zip(images, truths):
            p = net(torch.as_tensor(img.astype(np.float32).transpose(2, 0, 1)[None] / 255)).argmax(1)[0].numpy()
            for c in range(3):
                inter[c] += ((p == c) & (t == c)).sum()
                union[c] += ((p == c) | (t == c)).sum()
    return float(np.mean(inter / np.maximum(union, 1)))


def held_out_transfer(n):
    rng = np.random.default_rng(7)
    seeds = range(10000, 10000 + n)
    levels = rng.uniform(0, 2, n)
    src = [make_smear((384, 384), stain="he", seed=s, blur_level=lv) for s, lv in zip(seeds, levels)]
    tgt = [make_smear((384, 384), stain="giemsa", seed=s, blur_level=lv).image for s, lv in zip(seeds, levels)]
    reference = make_smear((512, 512), stain="giemsa", seed=20000).image
    truths = [semantic(s) for s in src]
    net = pixel_classifier()
    outputs = {"target (ceiling)": tgt, "source, no transfer": [s.image for s in src]}
    seconds = {}
    for label, method, kw in (("cyclegan", "cyclegan", {}),
                              ("cyclegan, bf16 (opt-in)", "cyclegan", {"precision": "bf16"}),
                              ("macenko", "macenko", {"reference": reference}),
                              ("reinhard", "reinhard", {"reference": reference})):
        t = time.perf_counter()
        outputs[label] = [transfer_stain(s.image, method=method, **kw) for s in src]
        seconds[label] = (time.perf_counter() - t) / n
    rows = {}
    for name, imgs in outputs.items():
        rows[name] = {"downstream mIoU": mean_iou(net, imgs, truths),
                      "ΔE2000 to target": float(np.mean([delta_e2000(a, b).mean() for a, b in zip(imgs, tgt)])),
                      "SSIM gray vs target": float(np.mean([gray_ssim(a, b) for a, b in zip(imgs, tgt)]))}
    return rows


def realistic_shifts():
    from skimage import data

    cases = [("real IHC (skimage)", data.immunohistochemistry(), s) for s in range(3)]
    cases += [("synthetic H&E tissue", tissue_series((384, 384), [0], dab=0.0, seed=100 + s)[0].image, s)
              for s in range(4)]
    out = {}
    for name, original, s in cases:
        shifted = stain_shift(original, 0.3, seed=s)
        before = float(delta_e2000(shifted, original).mean())
        row = out.setdefault(name, {"ΔE before": [], "macenko ΔE": [], "macenko SSIM": [], "reinhard ΔE": [],
                                    "reinhard SSIM": []})
        row["ΔE before"].append(before)
        for m in ("macenko", "reinhard"):
            res = transfer_stain(shifted, method=m, reference=original)
            row[f"{m} ΔE"].append(float(delta_e2000(res, original).mean()))
            row[f"{m} SSIM"].append(gray_ssim(res, original))
    return out


def speed(size):
    img = make_smear((size, size), stain="he", seed=1).image
    ref = make_smear((512, 512), stain="giemsa", seed=2).image
    target = fit_target(ref)
    mpx = size * size / 1e6
    res = {}

    def timed(fn, repeats=3):
        fn()
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        return mpx * repeats / (time.perf_counter() - t)

    res["cytoqa macenko"] = timed(lambda: transfer_stain(img, method="macenko", target=target))
    res["cytoqa reinhard"] = timed(lambda: transfer_stain(img, method="reinhard", target=target))
    try:
        import torch
        import torchstain

        ts = torchstain.normalizers.MacenkoNormalizer(backend="numpy")
        ts.fit(ref)
        res["torchstain macenko (numpy)"] = timed(lambda: ts.normalize(img, stains=False))
        tt = torchstain.normalizers.MacenkoNormalizer(backend="torch")
        tt.fit(torch.from_numpy(ref).permute(2, 0, 1).contiguous())
        timg = torch.from_numpy(img).permute(2, 0, 1).contiguous()
        res["torchstain macenko (torch)"] = timed(lambda: tt.normalize(timg, stains=False))
    except ImportError:
        res["torchstain"] = "not installed (pip install torchstain)"
    res["cytoqa cyclegan"] = timed(lambda: transfer_stain(img, method="cyclegan"), repeats=1)
    res["cytoqa cyclegan, bf16 (opt-in)"] = timed(lambda: transfer_stain(img, method="cyclegan", precision="bf16"),
                                                  repeats=1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="4 held-out pairs and a 1024² speed image")
    args = ap.parse_args()
    results = {}
    t0 = time.time()
    held = held_out_transfer(4 if args.quick else 12)
    results["held-out H&E-like -> Giemsa-like smears"] = held
    print("Held-out H&E-like → Giemsa-like smears (true target renderings known)")
    print(f"{'':24s} {'downstream mIoU':>16s} {'ΔE2000→target':>14s} {'SSIM vs target':>15s}")
    for name, r in held.items():
        print(f"{name:24s} {r['downstream mIoU']:16.3f} {r['ΔE2000 to target']:14.2f} {r['SSIM gray vs target']:15.3f}")
    shifts = realistic_shifts()
    results["realistic stain shifts, normalised back to the original"] = shifts
    print("\nRealistic stain shift (strength 0.3), reference = the unshifted image (mean over shifts)")
    print(f"{'':22s} {'ΔE before':>10s} {'Macenko ΔE':>11s} {'SSIM':>6s} {'Reinhard ΔE':>12s} {'SSIM':>6s}")
    for name, r in shifts.items():
        m = {k: np.mean(v) for k, v in r.items()}
        print(f"{name:22s} {m['ΔE before']:10.2f} {m['macenko ΔE']:11.2f} {m['macenko SSIM']:6.3f} "
              f"{m['reinhard ΔE']:12.2f} {m['reinhard SSIM']:6.3f}   (worst Macenko ratio "
              f"{max(a / b for a, b in zip(r['macenko ΔE'], r['ΔE before'])):.2f})")
    size = 1024 if args.quick else 2048
    sp = speed(size)
    results[f"speed Mpx/s ({size}x{size}, 1 process)"] = sp
    print(f"\nSpeed on a {size} × {size} RGB image (megapixels per second)")
    for name, v in sp.items():
        print(f"{name:30s} {v if isinstance(v, str) else f'{v:8.2f}'}")
    print(f"\n({time.time() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
