"""Layers of results over a stack's series of planes (one layer for all planes, each result on its own
plane), beside :mod:`._layers`' layers of one plane. No napari import at module level: tuples are
plain data."""
from __future__ import annotations

import numpy as np

from ._geojson_layers import frame_metadata
from ._layers import MAX_BOXES, _level_placement, is_stale, layer_levels, plane_name, result_name, upsert_layer

#: Largest stacked instance-label layer (pixels over all planes); beyond it only boxes or points are drawn.
MAX_LABEL_PIXELS = 200_000_000


def _series_place(source, level: int, planes: list, axis: int) -> dict:
    """Scale, translate and units of a layer with the source's axes: the source's own on the axes
    before Y and X, the analysed level's grid on Y and X (see ``_level_placement``)."""
    lead = len(planes[0])
    place = _level_placement(source, level, planes[0])
    out = {"scale": tuple(source.scale[:lead]) + tuple(place["scale"]),
           "translate": tuple(source.translate[:lead]) + tuple(place["translate"])}
    if "units" in place:
        out["units"] = tuple(str(u) for u in source.units[:lead]) + place["units"]
    return out


def series_detection_layers_data(found, source, *, level: int = 0, axis: int = 0) -> list:
    """Layer data for :class:`~napari_cytoqa.detection.planes.PlaneDetections` of ``source``'s series
    along ``axis``: ``<name> [plane *] cells`` (the instance labels of every plane, stacked; when every
    plane has them and they fit in :data:`MAX_LABEL_PIXELS`) and ``<name> [plane *] boxes``
    (rectangles, or beyond 2,000 objects their centres as points), each object on its own plane,
    with its plane, score, route and focus as features."""
    import pandas as pd

    planes, dets = list(found.detections), list(found.detections.values())
    lead = len(planes[0])
    fixed = tuple("*" if a == axis else p for a, p in enumerate(planes[0]))
    base = result_name(source, fixed)
    place = _series_place(source, level, planes, axis)
    meta = {"cytoqa_detections": {"count": int(sum(d.count for d in dets)), "detector": dets[0].detector,
                                  "planes": len(planes), "axis": axis}, **frame_metadata(source)}
    out = []
    labels = [d.labels for d in dets]
    n = layer_levels(source)[0].shape[axis]
    if all(lab is not None for lab in labels) and n * labels[0].size <= MAX_LABEL_PIXELS:
        shape = [1] * lead
        shape[axis] = n
        stack = np.zeros(tuple(shape) + labels[0].shape, np.result_type(*[lab.dtype for lab in labels]))
        for plane, lab in zip(planes, labels):
            stack[tuple(plane[axis] if a == axis else 0 for a in range(lead))] = lab
        at = dict(place)
        sc, tr = place["scale"], list(place["translate"])
        for a in range(lead):  # the other axes: the series' fixed indices
            tr[a] += 0 if a == axis else planes[0][a] * sc[a]
        for k, o in enumerate(dets[0].origin):  # a region's labels start there
            tr[lead + k] += o * sc[lead + k]
        at["translate"] = tuple(tr)
        out.append((stack, {"name": f"{base} cells", "metadata": meta, **at}, "labels"))
    feats = pd.DataFrame({
        "plane": np.concatenate([[plane_name(p)] * d.count for p, d in zip(planes, dets)]) if dets else [],
        "score": np.concatenate([d.scores for d in dets]), "focus": np.concatenate([d.focus for d in dets]),
        "route": np.concatenate([[str(m).replace(f"cytoqa-{d.detector}-", "") for m in d.route] for d in dets])})
    lead_of = np.concatenate([np.tile(np.asarray(p, float), (d.count, 1)) for p, d in zip(planes, dets)]) \
        if sum(d.count for d in dets) else np.zeros((0, lead))
    boxes = np.concatenate([np.asarray(d.boxes, float).reshape(-1, 4) for d in dets])
    if 0 < len(boxes) <= MAX_BOXES:
        y0, x0, y1, x1 = (boxes[:, i] - 0.5 for i in range(4))
        corners = np.stack([np.stack([y0, x0], 1), np.stack([y0, x1], 1), np.stack([y1, x1], 1),
                            np.stack([y1, x0], 1)], axis=1)  # (N, 4, 2)
        rects = np.concatenate([np.repeat(lead_of[:, None, :], 4, axis=1), corners], axis=2)
        out.append((list(rects), {"name": f"{base} boxes", "shape_type": "rectangle", "edge_color": "yellow",
                                  "face_color": "transparent", "edge_width": 1.0, "features": feats,
                                  "metadata": meta, **place}, "shapes"))
    else:
        centres = np.stack([(boxes[:, 0] + boxes[:, 2] - 1) / 2, (boxes[:, 1] + boxes[:, 3] - 1) / 2], 1) \
            if len(boxes) else np.zeros((0, 2))
        out.append((np.concatenate([lead_of, centres], axis=1), {
            "name": f"{base} boxes", "size": 6, "face_color": "yellow", "border_width": 0, "features": feats,
            "metadata": meta, **place}, "points"))
    return out


def add_series_detection_layers(viewer, found, source, *, level: int = 0, axis: int = 0) -> list:
    """Add or update the layers of :func:`series_detection_layers_data`; a result without labels
    removes the stacked labels an earlier run drew, so no stale layer is left beside the new boxes."""
    data = series_detection_layers_data(found, source, level=level, axis=axis)
    stale = data[0][1]["name"].replace(" boxes", " cells")
    if data[0][2] != "labels" and stale in viewer.layers and is_stale(viewer.layers[stale]):
        viewer.layers.remove(stale)
    return [upsert_layer(viewer, d) for d in data]
