"""Cell outlines of an image too large for a label image, side by side in one run.

    python benchmarks/bench_outlines.py [--side 2048] [--detector otsu|unet] [--expansion 4]

A synthetic fluorescence field (``make_fluorescence`` 1024² fields tiled to ``--side`` px) is detected
twice: keeping the instance label image (``keep_labels=True``, the baseline: what images up to 100 Mpx
get) and without it (``keep_labels=False``, what a whole slide gets: each cell's outline and pixel count
taken from the tile that owns it, since 2026-12-07). Printed: seconds, the peak of memory allocated
during the run (tracemalloc, numpy's arrays included, in a second run), cells, and the share of cells whose outline and
area equal the label image's. Then what the export does with each: the GeoJSON of nucleus outlines
(``Detections.to_geojson(outlines=True)``) and QuPath cells grown by ``--expansion`` px
(``cell_outlines`` on the label image vs ``ring_cells`` from the outlines). One run each; seconds on
this machine (about 1.5 min at the default 2048², 14 min at 4096²: the traced runs are slow).
"""
import argparse
import time
import tracemalloc

import numpy as np


def field(side: int) -> np.ndarray:
    from napari_cytoqa.synthetic import make_fluorescence

    base = make_fluorescence((1024, 1024), seed=11).image
    reps = -(-side // 1024)
    return np.tile(base, (reps, reps))[:side, :side]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def peak_mb(fn) -> float:
    """The peak of memory allocated while ``fn`` runs (a second run: tracing slows Python loops)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--detector", default="otsu", choices=["otsu", "unet"])
    parser.add_argument("--expansion", type=float, default=4.0)
    args = parser.parse_args()

    from napari_cytoqa.detection import detect_cells
    from napari_cytoqa.detection.outlines import label_outlines

    image = field(args.side)
    for keep in (True, False):  # imports (NMS: torchvision) and model loading outside the timings
        detect_cells(image[:1024, :1024], detector=args.detector, keep_labels=keep)
    kept, t_kept = timed(lambda: detect_cells(image, detector=args.detector, keep_labels=True))
    lean, t_lean = timed(lambda: detect_cells(image, detector=args.detector, keep_labels=False))
    m_kept = peak_mb(lambda: detect_cells(image, detector=args.detector, keep_labels=True))
    m_lean = peak_mb(lambda: detect_cells(image, detector=args.detector, keep_labels=False))
    rings, where = label_outlines(kept.labels), {tuple(b): i for i, b in enumerate(kept.boxes.astype(int))}
    pairs = [(j, where[tuple(b)]) for j, b in enumerate(lean.boxes.astype(int)) if tuple(b) in where]
    same_ring = np.mean([np.array_equal(lean.outlines[j], rings[i + 1]) for j, i in pairs])
    same_area = np.mean([lean.areas[j] == kept.areas[i] for j, i in pairs])
    print(f"{args.detector} on {args.side}² ({args.side ** 2 / 1e6:.0f} Mpx)\n")
    print("| run | seconds | peak MB | cells | same box / outline / area as the labels' |")
    print("|---|---:|---:|---:|---|")
    print(f"| labels kept (baseline) | {t_kept:.1f} | {m_kept:,.0f} | {kept.count:,} | |")
    print(f"| outlines kept | {t_lean:.1f} | {m_lean:,.0f} | {lean.count:,} | {len(pairs) / lean.count:.3f} / "
          f"{same_ring:.3f} / {same_area:.3f} |")
    print("\n| export step | from the label image | from the outlines |")
    print("|---|---:|---:|")
    _, a = timed(lambda: kept.to_geojson(outlines=True))
    _, b = timed(lambda: lean.to_geojson(outlines=True))
    print(f"| nucleus outlines, GeoJSON | {a:.1f} s | {b:.1f} s |")
    _, a = timed(lambda: kept.to_geojson(cell_expansion=args.expansion))
    _, b = timed(lambda: lean.to_geojson(cell_expansion=args.expansion))
    print(f"| QuPath cells grown {args.expansion:g} px, GeoJSON | {a:.1f} s | {b:.1f} s |")


if __name__ == "__main__":
    main()
