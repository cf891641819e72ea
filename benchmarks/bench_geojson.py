"""Opening a QuPath-style GeoJSON of N cells in napari, side by side in one run.

    python benchmarks/bench_geojson.py [--sizes 1000,5000,20000] [--vertices 16]

A FeatureCollection of N nucleus polygons (``--vertices`` each, QuPath ``detection`` objects with a
classification and two measurements, 12 px across on a 20,000-px field) is written to a temporary
file, then: parsing it (``read_geojson``), building the layer data napari-cytoqa's reader returns
(up to ``MAX_SHAPES`` a Shapes layer, beyond it the centres as a Points layer), and constructing the
napari layer from them (no Qt: the layer model, where napari triangulates shapes). The baseline is
a Shapes layer of every polygon, what a reader without the limit gives napari. Times are seconds,
one run each (the reader runs on napari's GUI thread, so these are seconds the viewer is blocked).

A second table times what the Detection widget's "compare with" does with the opened layer after a
run (also on the GUI thread): the cells' coordinates on the image (a µm-scaled image layer) —
``points_yx`` / ``shapes_boxes`` on whole arrays, against the baseline of napari's
``world_to_data(data_to_world(v))`` one vertex at a time (what they did until 2026-12-07).
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def make_file(path: Path, n: int, vertices: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    feats = []
    for y, x in rng.uniform(0, 20000, (n, 2)):
        ring = [[float(x + 6 * np.cos(a)), float(y + 6 * np.sin(a))] for a in t]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]},
                      "properties": {"objectType": "detection", "classification": {"name": "Tumor",
                                                                                   "color": [200, 0, 0]},
                                     "measurements": {"Nucleus: Area": float(rng.uniform(80, 140)),
                                                      "Hematoxylin OD mean": float(rng.uniform(0.1, 0.9))}}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


def layer(kind: str, data, kwargs):
    from napari.layers import Points, Shapes

    return (Shapes if kind == "shapes" else Points)(data, **kwargs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--vertices", type=int, default=16)
    args = ap.parse_args()
    from napari_cytoqa._geojson_layers import MAX_SHAPES, annotations_layer_data
    from napari_cytoqa.io import read_geojson

    layer("points", np.zeros((1, 2)), {})  # napari's first-layer imports out of the timings
    layer("shapes", [np.array([[0.0, 0], [0, 5], [5, 5]])], {"shape_type": "polygon"})
    print(f"MAX_SHAPES = {MAX_SHAPES}; seconds per step")
    print(f"{'cells':>7} {'MB':>6} {'parse':>7} {'ours: data':>11} {'ours: layer':>12} {'as':>7} "
          f"{'baseline: all shapes':>21}")
    opened = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(v) for v in args.sizes.split(",")):
            path = Path(tmp) / f"cells{n}.geojson"
            make_file(path, n, args.vertices)
            t0 = time.perf_counter()
            ann = read_geojson(path)
            t1 = time.perf_counter()
            (data, kwargs, kind), = annotations_layer_data(ann, name="cells")
            t2 = time.perf_counter()
            layer(kind, data, kwargs)
            t3 = time.perf_counter()
            (all_data, all_kwargs, _), = annotations_layer_data(ann, name="cells", max_shapes=None)
            layer("shapes", all_data, all_kwargs)
            t5 = time.perf_counter()
            print(f"{n:>7} {path.stat().st_size / 1e6:>6.1f} {t1 - t0:>7.2f} {t2 - t1:>11.2f} {t3 - t2:>12.2f} "
                  f"{kind:>7} {t5 - t3:>21.2f}")
            opened.append((n, kind, layer(kind, data, kwargs)))
    compare_table(opened)


def compare_table(opened) -> None:
    """Seconds to put the opened cells on the image for "compare with": ours against vertex by vertex."""
    import dask.array as da
    from napari.layers import Image

    from napari_cytoqa._marks import points_yx, shapes_boxes

    image = Image(da.zeros((20000, 20000), np.uint8, chunks=4096), scale=(0.25, 0.25), contrast_limits=(0, 255))
    print("\ncompare with: the opened cells on the image, seconds")
    print(f"{'cells':>7} {'as':>7} {'ours':>7} {'baseline: per vertex':>21}")
    for n, kind, cells in opened:
        t0 = time.perf_counter()
        ours = (points_yx if kind == "points" else shapes_boxes)(cells, image)
        t1 = time.perf_counter()
        verts = cells.data if kind == "points" else np.concatenate([np.asarray(v) for v in cells.data])
        base = np.array([image.world_to_data(cells.data_to_world(v)) for v in verts])
        t2 = time.perf_counter()
        assert len(ours) == n and len(base) >= n
        print(f"{n:>7} {kind:>7} {t1 - t0:>7.3f} {t2 - t1:>21.3f}")


if __name__ == "__main__":
    main()
