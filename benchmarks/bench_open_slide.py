"""Open a 40,000 × 40,000 RGB pyramidal TIFF: time and peak memory, side by side with baselines.

    python benchmarks/bench_open_slide.py [--size 40000]

The slide is generated once into benchmarks/_data/ (JPEG tiles, ~0.5 GB) from
a synthetic smear. Each measurement runs in a fresh Python process so its peak
resident memory (VmHWM) belongs to that step alone, imports included. Baselines: parsing the file with
tifffile alone (the floor for any reader) and an eager ``tifffile.imread`` of
a downsampled level (what a non-lazy reader must do to show even an overview).
Run it under ``xvfb-run -a`` to include the napari viewer row.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "_data"


def make_slide(size: int) -> Path:
    import dask.array as da

    from napari_cytoqa.io.writer import downsample2, write_pyramid
    from napari_cytoqa.synthetic import make_smear

    path = DATA / f"slide_{size}.ome.tif"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    patch = make_smear((2048, 2048), seed=7).image
    levels, side = [], size
    while side >= 512:
        reps = int(np.ceil(side / patch.shape[0]))
        lazy = da.tile(da.from_array(patch, chunks=(512, 512, 3)), (reps, reps, 1))[:side, :side]
        levels.append(lazy.rechunk((512, 512, 3)))
        patch, side = downsample2(patch), side // 2
    t = time.perf_counter()
    write_pyramid(path, levels, pixel_size_um=0.25, tile=512, compression="jpeg", quality=80)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
    return path


STEPS = {
    "cytoqa read_slide (open)": """
from napari_cytoqa import read_slide
t = time.perf_counter(); s = read_slide(P); out['seconds'] = time.perf_counter() - t
out['levels'] = len(s.levels)""",
    "cytoqa read_slide + one 512x512 tile at level 0": """
from napari_cytoqa import read_slide
import numpy as np
t = time.perf_counter(); s = read_slide(P); np.asarray(s.levels[0][20000:20512, 20000:20512])
out['seconds'] = time.perf_counter() - t""",
    "cytoqa read_slide + whole smallest level": """
from napari_cytoqa import read_slide
import numpy as np
t = time.perf_counter(); s = read_slide(P); a = np.asarray(s.levels[-1])
out['seconds'] = time.perf_counter() - t; out['shape'] = list(a.shape)""",
    "napari viewer.open (cytoqa reader, multiscale)": """
import os
if not os.environ.get('DISPLAY'): raise SystemExit(3)
import napari
from qtpy.QtWidgets import QApplication
v = napari.Viewer(show=False)
t = time.perf_counter(); [layer] = v.open(P, plugin='napari-cytoqa')
for _ in range(5): QApplication.processEvents()
v.screenshot(canvas_only=False)
out['seconds'] = time.perf_counter() - t; out['multiscale'] = layer.multiscale""",
    "baseline: tifffile parse only": """
import tifffile
t = time.perf_counter(); f = tifffile.TiffFile(P); lv = f.series[0].levels
out['seconds'] = time.perf_counter() - t""",
    "baseline: eager tifffile.imread of level 2": """
import tifffile
t = time.perf_counter(); a = tifffile.imread(P, level=2)
out['seconds'] = time.perf_counter() - t; out['shape'] = list(a.shape)""",
}

RUNNER = """
import json, sys, time
P = sys.argv[1]; out = {{}}
{body}
# VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's over exec)
hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))
out['peak_rss_mb'] = int(hwm.split()[1]) / 1024
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=40000)
    args = ap.parse_args()
    path = make_slide(args.size)
    print(f"\n{args.size} x {args.size} RGB pyramid, {path.stat().st_size / 1e6:.0f} MB on disk\n")
    print(f"{'step':52s} {'seconds':>8s} {'peak RSS MB':>12s}")
    for name, body in STEPS.items():
        proc = subprocess.run([sys.executable, "-c", RUNNER.format(body=body), str(path)],
                              capture_output=True, text=True, env=dict(os.environ))
        if proc.returncode == 3:
            print(f"{name:52s} {'(no DISPLAY: run under xvfb-run)':>21s}")
            continue
        if proc.returncode:
            print(f"{name:52s} failed: {proc.stderr.strip().splitlines()[-1]}")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{name:52s} {res['seconds']:8.2f} {res['peak_rss_mb']:12.0f}")


if __name__ == "__main__":
    main()
