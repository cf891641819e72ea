"""Quality-model throughput on this CPU: ours vs seed 000's method, side by side in one run.

    python benchmarks/bench_quality_models.py [--repeats 3]

Per 2592 × 1944 RGB image (seed 000's camera):
- seed 000: torchvision ResNet18 at 224 × 224 over the whole 500 × 500 tiles (partial edge
  tiles dropped), tiles bilinearly resized, one batch, RGB-variance ensemble; once as stock
  torchvision and once with the inference tricks our scorer uses (batch norms folded into the
  convolutions, channels-last), also in bfloat16, so the comparison is not won by those
  tricks alone;
- cytoqa learned: ``assess_quality(method="learned")`` end to end (512-px tiles, 4 native
  96-px crops per tile, content/exposure measures, aggregation), once with the network in
  float32 and once in bfloat16 (``precision="bf16"``; what ``"auto"`` picks on CPUs with
  native bfloat16, AMX or AVX512-BF16 — emulated elsewhere, see the "native bf16" line);
- cytoqa learned, int8: the same with ``precision="int8"`` (the network quantized; its one-off
  ~5 s calibration falls in the warm-up image);
- cytoqa classical: ``assess_quality(method="classical")``.
Speed does not depend on weight values, so the ResNet18 runs with random weights. Each method
runs in its own process (peak memory = its VmHWM, imports and model included), after one
warm-up image. The methods take turns for ``--rounds`` rounds (this shared 2-core machine's
speed drifts by ±30 % over minutes, so running each method once in sequence can favour
whichever ran in a quiet spell); a figure is the median over all rounds × ``--repeats``
images, and the last column gives the range of the per-round ratio to the stock seed.
"""
import argparse
import json
import subprocess
import sys

import numpy as np

SEED = """
import torch, torch.nn.functional as F
from torch.fx.experimental.optimization import fuse
from torchvision.models import resnet18
from napari_cytoqa.tiling import tile_grid, read_tile, tile_weight, aggregate
net = resnet18(weights=None).eval()
DTYPE = torch.bfloat16 if {bf16} else torch.float32
if {tricks}:  # batch norms folded into the convolutions, channels-last layout
    net = fuse(net).to(memory_format=torch.channels_last)
net = net.to(DTYPE)
def run(img):
    g = tile_grid(img.shape, 500, edge="drop")
    tiles = [read_tile(img, b) for b in g.boxes]
    x = torch.stack([torch.as_tensor(t).permute(2, 0, 1).float() / 255 for t in tiles])
    x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    if {tricks}:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        p = torch.softmax(net(x.to(DTYPE)).float(), 1)[:, 0].numpy()
    aggregate(p, [tile_weight(t, "rgb_var") for t in tiles])
    return len(tiles)
"""

BODY = {
    "seed 000: ResNet18 @224 over 500-px tiles": SEED.replace("{tricks}", "False").replace("{bf16}", "False"),
    "seed 000, same inference tricks (BN fused, NHWC)": SEED.replace("{tricks}", "True").replace("{bf16}", "False"),
    "seed 000, same tricks + bfloat16": SEED.replace("{tricks}", "True").replace("{bf16}", "True"),
    "cytoqa learned, float32 network": """
from napari_cytoqa import assess_quality
def run(img):
    return len(assess_quality(img, tile_size=512, method="learned", device="cpu", precision="fp32").tiles)
""",
    "cytoqa learned, bfloat16 network": """
from napari_cytoqa import assess_quality
def run(img):
    return len(assess_quality(img, tile_size=512, method="learned", device="cpu", precision="bf16").tiles)
""",
    "cytoqa learned, int8 network (opt-in)": """
from napari_cytoqa import assess_quality
def run(img):
    return len(assess_quality(img, tile_size=512, method="learned", device="cpu", precision="int8").tiles)
""",
    "cytoqa classical (512-px tiles)": """
from napari_cytoqa import assess_quality
def run(img):
    return len(assess_quality(img, tile_size=512, method="classical").tiles)
""",
}

RUNNER = """
import json, time, numpy as np, torch
from napari_cytoqa.synthetic import make_smear
{body}
imgs = [make_smear((1944, 2592), seed=s).image for s in range({n} + 1)]
run(imgs[0])
times = []
for img in imgs[1:]:
    t = time.perf_counter(); n = run(img); times.append(time.perf_counter() - t)
hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))
print(json.dumps({{"times": times, "tiles": n, "threads": torch.get_num_threads(),
                  "peak_mb": int(hwm.split()[1]) / 1024}}))
"""


def _run(body, repeats):
    proc = subprocess.run([sys.executable, "-c", RUNNER.format(body=body, n=repeats)], capture_output=True, text=True)
    if proc.returncode:
        return proc.stderr.strip().splitlines()[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3, help="timed images per process")
    ap.add_argument("--rounds", type=int, default=3, help="processes per method, taking turns")
    args = ap.parse_args()
    runs = {name: [] for name in BODY}
    for _ in range(args.rounds):
        for name, body in BODY.items():
            runs[name].append(_run(body, args.repeats))
    from napari_cytoqa.models.precision import native_bf16

    print(f"native bf16 on this CPU: {native_bf16('cpu')}")
    print(f"{'method':46s} {'s/image':>8s} {'tiles':>6s} {'tiles/s':>8s} {'images/s':>9s} {'peak MB':>8s}"
          "   vs the stock seed (per-round range)")
    base = runs[next(iter(BODY))]
    for name, rs in runs.items():
        failed = [r for r in rs if isinstance(r, str)]
        if failed:
            print(f"{name:46s} failed: {failed[0]}")
            continue
        sec = float(np.median([t for r in rs for t in r["times"]]))
        if any(isinstance(b, str) for b in base):
            ratio = ""
        else:
            base_sec = float(np.median([t for b in base for t in b["times"]]))
            per_round = [np.median(b["times"]) / np.median(r["times"]) for b, r in zip(base, rs)]
            ratio = f"{base_sec / sec:.1f}x ({min(per_round):.1f}-{max(per_round):.1f}x)"
        peak = max(r["peak_mb"] for r in rs)
        print(f"{name:46s} {sec:8.3f} {rs[0]['tiles']:6d} {rs[0]['tiles'] / sec:8.1f} {1 / sec:9.2f} "
              f"{peak:8.0f}   {ratio}")


if __name__ == "__main__":
    main()
