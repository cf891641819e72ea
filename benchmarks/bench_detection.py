"""Detection latency on this CPU, side by side in one run.

    python benchmarks/bench_detection.py [--repeats 3] [--all]

Per 512 × 512 tile and per 2592 × 1944 RGB image (seed 000's camera; 512-px tiles with 64 px
overlap for ours): the Otsu + watershed baseline, the combined U-Net, the blur-routed U-Nets
(focus model included), our compact YOLO (combined and routed; full ``detect_cells`` including
input scaling and tile merging), both with and without ``tta`` (the default: each tile's 4
mirror images, the U-Net's maps averaged, YOLO's boxes fused), the combined U-Net and YOLO once
more with ``precision="bf16"`` (opt-in; bfloat16 networks, native on CPUs with AMX /
AVX512-BF16; left out on CPUs without it, where emulated bfloat16 ran 8.5× slower than
float32, unless ``--all``) and ultralytics' stock
yolov8n (built from its yaml with random weights — speed does not depend on weight values —
at imgsz 512 on the same tile grid).
Each detector runs after a warm-up call; the median of ``--repeats`` is printed.
"""
import argparse
import time

import numpy as np

from napari_cytoqa.detection import detect_cells
from napari_cytoqa.detection.yolo import offline_ultralytics
from napari_cytoqa.models.precision import native_bf16
from napari_cytoqa.synthetic import make_smear
from napari_cytoqa.tiling import read_tile, tile_grid


def _yolo():
    offline_ultralytics()
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")

    def run(img):
        grid = tile_grid(img.shape[:2], 512, stride=448, edge="shift")
        tiles = [np.ascontiguousarray(read_tile(img, b)[..., ::-1]) for b in grid.boxes]  # BGR like cv2
        model.predict(tiles, imgsz=512, verbose=False, device="cpu")

    return run


def timed(fn, img, repeats):
    fn(img)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(img)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--all", action="store_true", help="run the bfloat16 rows even where bfloat16 is emulated")
    args = ap.parse_args()
    tile = make_smear((512, 512), seed=1).image
    image = make_smear((1944, 2592), seed=2).image
    runs = {
        "Otsu + watershed baseline": lambda im: detect_cells(im, detector="otsu"),
        "U-Net combined": lambda im: detect_cells(im, detector="unet", routing="combined", device="cpu",
                                                  tta=False),
        "U-Net routed (focus model + 2 U-Nets)": lambda im: detect_cells(im, detector="unet", routing="blur",
                                                                         device="cpu", tta=False),
        "U-Net combined, mirror averaging (tta=True)": lambda im: detect_cells(
            im, detector="unet", routing="combined", device="cpu", tta=True),
        "U-Net routed, mirror averaging (tta=True)": lambda im: detect_cells(im, detector="unet", routing="blur",
                                                                             device="cpu", tta=True),
        "U-Net combined, bfloat16 (opt-in)": lambda im: detect_cells(im, detector="unet", routing="combined",
                                                                     device="cpu", precision="bf16", tta=False),
        "U-Net combined, bfloat16 + mirror averaging": lambda im: detect_cells(im, detector="unet", routing="combined",
                                                                  device="cpu", precision="bf16", tta=True),
        "YOLO combined (ours, CELL_YOLO)": lambda im: detect_cells(im, detector="yolo", routing="combined",
                                                                   device="cpu", tta=False),
        "YOLO routed (focus model + 2 YOLOs)": lambda im: detect_cells(im, detector="yolo", routing="blur",
                                                                       device="cpu", tta=False),
        "YOLO combined, bfloat16 (opt-in)": lambda im: detect_cells(im, detector="yolo", routing="combined",
                                                                    device="cpu", precision="bf16", tta=False),
        "YOLO combined, mirror averaging (tta=True)": lambda im: detect_cells(
            im, detector="yolo", routing="combined", device="cpu", tta=True),
        "YOLO routed, mirror averaging (tta=True)": lambda im: detect_cells(
            im, detector="yolo", routing="blur", device="cpu", tta=True),
    }
    if not native_bf16("cpu") and not args.all:  # emulated bfloat16 is slower than float32: nothing to learn
        print("this CPU has no native bfloat16 (AMX / AVX512-BF16): the bfloat16 rows are left out (--all runs them)")
        runs = {k: v for k, v in runs.items() if "bfloat16" not in k}
    try:
        runs["ultralytics yolov8n (stock, random weights)"] = _yolo()
    except Exception as err:  # noqa: BLE001 - report and go on
        print(f"yolov8n unavailable: {err}")
    print(f"{'detector':52s} {'s / 512² tile':>14s} {'s / 2592×1944':>14s}")
    for name, fn in runs.items():
        try:
            a, b = timed(fn, tile, args.repeats), timed(fn, image, args.repeats)
        except Exception as err:  # noqa: BLE001
            print(f"{name:52s} failed: {err}")
            continue
        print(f"{name:52s} {a:14.3f} {b:14.3f}")


if __name__ == "__main__":
    main()
