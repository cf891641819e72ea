"""The one place that turns core results into napari layer data and updates result layers.

Functions return ``(data, kwargs, layer_type)`` tuples; :func:`upsert_layer`
replaces the data of an existing result layer instead of stacking new ones.
No napari import at module level: tuples are plain data.
"""
from __future__ import annotations

import numpy as np

from ._geojson_layers import frame_metadata
from .quality.render import VERDICT_COLORS

#: Above this many tiles the QC overlay is a low-resolution image, not shapes.
MAX_SHAPES = 2000
#: QC label font size as a share of the tile side (world units; 'excellent' fits a tile's width)
TEXT_PER_TILE = 0.10
FEATURE_COLUMNS = ("verdict", "grade", "blur_level", "p_blurry", "focus", "p_valid", "content",
                   "weight", "flag")


def slide_layer_data(slide) -> tuple:
    """A (multiscale) image layer of a :class:`~napari_cytoqa.io.Slide`."""
    kwargs = {"name": slide.name, "rgb": slide.rgb, "multiscale": slide.multiscale,
              "metadata": {"cytoqa": {k: v for k, v in slide.metadata.items() if k != "description"}
                           | {"plane_axes": slide.plane_axes},
                           "path": str(slide.path) if slide.path else None}}
    if slide.pixel_size_um:
        kwargs["scale"] = tuple(slide.pixel_size_um)
        kwargs["units"] = "µm"
    at = slide.channel_plane
    if at is not None:  # one layer per channel, each knowing its place among the Slide's planes
        lead = len(slide.axes) - 2 - slide.axes.endswith("S")
        kwargs["channel_axis"] = at if at < lead else len(slide.axes) - 1
        meta, n = kwargs["metadata"], slide.planes[at]
        kwargs["metadata"] = [{**meta, "cytoqa": {**meta["cytoqa"], "channel": [at, c]}} for c in range(n)]
        names = slide.metadata.get("channel_names") or []
        names = names if len(names) == n and all(names) else [f"channel {c}" for c in range(n)]
        kwargs["name"] = [f"{slide.name} [{name}]" for name in names]  # napari's own: "name", "name [1]"…
    data = slide.levels if slide.multiscale else slide.levels[0]
    return data, kwargs, "image"


def _placement(source) -> dict:
    """Scale, translate and units of the source layer's 2-D plane (level-0 pixels to world)."""
    if source is None:
        return {}
    place = {"scale": tuple(source.scale[-2:]), "translate": tuple(source.translate[-2:])}
    units = getattr(source, "units", None)
    if units is not None:
        place["units"] = tuple(str(u) for u in units[-2:])
    return place


def layer_pixel_size(layer) -> tuple[float, float] | None:
    """The ``(y, x)`` size in µm of one level-0 pixel of an image layer's 2-D plane, from its
    scale and units (our reader sets both from the file), or None when its units are not
    lengths (napari's default, pixels)."""
    units = getattr(layer, "units", None)
    if layer is None or units is None:
        return None
    out = []
    for scale, unit in zip(layer.scale[-2:], units[-2:]):
        try:
            um = float((1.0 * unit).to("micrometer").magnitude)
        except Exception:  # pint raises DimensionalityError for pixels and other non-lengths
            return None
        out.append(float(scale) * um)
    return (out[0], out[1]) if all(np.isfinite(v) and v > 0 for v in out) else None


def plane_name(plane) -> str:
    """A plane of a stack as the result layers name it: ``2, 1`` (``*`` for a series' axis)."""
    return ", ".join(map(str, plane))


def result_name(source, plane: tuple = ()) -> str:
    """The stem of the result layers' names: the source's name, with the plane of a stack."""
    base = source.name if source is not None else "image"
    return f"{base} [plane {plane_name(plane)}]" if plane else base


def tile_rectangles(tiles, place: dict) -> tuple[list, float, float]:
    """``(rectangles, height, side)`` of report tiles (``y0 x0 y1 x1`` columns, level-0 pixels): four
    corners each on pixel edges (pixel i spans [i - 0.5, i + 0.5] in napari), the median tile height
    in data pixels (for edge widths) and the median shorter side in world units under ``place``'s
    scale (for text that zooms with the image)."""
    y0, x0, y1, x1 = (tiles[c].to_numpy(dtype=float) - 0.5 for c in ("y0", "x0", "y1", "x1"))
    rects = np.stack([np.stack([y0, x0], 1), np.stack([y0, x1], 1),
                      np.stack([y1, x1], 1), np.stack([y1, x0], 1)], axis=1)
    sy, sx = place.get("scale", (1.0, 1.0))
    side = float(np.median(np.minimum((y1 - y0) * abs(sy), (x1 - x0) * abs(sx))))
    return list(rects), float(np.median(y1 - y0)), side


def qc_layer_data(report, source=None, *, name=None, max_shapes: int | None = None, plane: tuple = ()) -> tuple:
    """The QC overlay: rectangles coloured by verdict with tile scores as features, or,
    beyond ``max_shapes`` tiles, an RGBA image with one pixel per tile."""
    name = name or (f"{result_name(source, plane)} QC" if source is not None else "QC")
    df = report.tiles
    meta = {"cytoqa_report": report.summary(), **frame_metadata(source, plane)}
    colours = np.array([VERDICT_COLORS[v] for v in df["verdict"]], dtype=np.float32) / 255
    if len(df) > (MAX_SHAPES if max_shapes is None else max_shapes):
        return _qc_image(report, colours, name, meta, source)
    place = _placement(source)
    rects, height, side = tile_rectangles(df, place)
    face = colours.copy()
    face[:, 3] = 0.18
    features = df[list(FEATURE_COLUMNS)].reset_index(drop=True)
    # blur level and grade at each tile centre; the verdict is the colour. The text is sized in
    # world units (it zooms with the image), so a tile's label stays inside its tile at any zoom
    text = {"string": "{blur_level:.1f}\n{grade}", "size": TEXT_PER_TILE * side, "scaling": True,
            "color": "white", "anchor": "center"} if len(df) <= 400 else None
    kwargs = {"name": name, "shape_type": "rectangle", "edge_color": colours, "face_color": face,
              "edge_width": max(1.0, 0.04 * height), "features": features,
              "metadata": meta, **place}
    if text:
        kwargs["text"] = text
    return rects, kwargs, "shapes"


def _qc_image(report, colours, name, meta, source) -> tuple:
    df = report.tiles
    rgba = np.zeros((int(df["row"].max()) + 1, int(df["col"].max()) + 1, 4), dtype=np.uint8)
    rgba[df["row"].to_numpy(), df["col"].to_numpy()] = np.rint(colours * 255).astype(np.uint8)
    step_y, step_x = (s * d for s, d in zip(report.stride, report.downsample))
    place = _placement(source)
    sy, sx = place.get("scale", (1.0, 1.0))
    oy, ox = place.get("translate", (0.0, 0.0))
    # overlay pixel r covers level-0 pixels [r*step, (r+1)*step): align pixel edges
    extra = {"units": place["units"]} if "units" in place else {}
    return rgba, {"name": name, "rgb": True, "opacity": 0.45, "metadata": meta, **extra,
                  "scale": (sy * step_y, sx * step_x),
                  "translate": (oy + sy * (step_y - 1) / 2, ox + sx * (step_x - 1) / 2)}, "image"


def add_quality_overlay(viewer, report, source=None, *, max_shapes: int | None = None, plane: tuple = ()):
    """Scriptable twin of the QC widget's drawing step: add or update the overlay layer
    (``plane``: the stack plane the report is of, see :func:`displayed_plane`)."""
    layer = upsert_layer(viewer, qc_layer_data(report, source, max_shapes=max_shapes, plane=plane))
    layer.metadata["cytoqa_tiles"] = report.tiles
    return layer


#: Metadata key set on a result layer once the user has painted it or moved, added or removed its
#: shapes or points: a re-run keeps it (renamed) instead of drawing over the corrections.
EDITED = "cytoqa_edited"
_drawing: set = set()  # ids of the layers being redrawn by us: their data events are not edits


def _mark_edited(event) -> None:
    layer = event.source
    if id(layer) not in _drawing and getattr(event, "action", "added") not in ("adding", "removing", "changing"):
        layer.metadata[EDITED] = True


def _watch_edits(layer) -> None:
    """Mark ``layer`` edited (:data:`EDITED`) when the user paints a Labels layer or changes a Shapes or
    Points layer's data; connecting twice is connecting once."""
    emitter = getattr(layer.events, "paint", None) if layer._type_string == "labels" else (
        layer.events.data if layer._type_string in ("shapes", "points") else None)
    if emitter is not None:
        emitter.connect(_mark_edited)


def is_stale(layer) -> bool:
    """Whether ``layer`` is an earlier detection result a new run may remove: ours, and not edited."""
    return "cytoqa_detections" in layer.metadata and not layer.metadata.get(EDITED)


def _kept_name(viewer, name: str) -> str:
    kept, k = f"{name} (edited)", 2
    while kept in viewer.layers:
        kept, k = f"{name} (edited {k})", k + 1
    return kept


def upsert_layer(viewer, layer_data: tuple):
    """Add the layer, or update the existing layer of that name (same type: in place;
    other type: replaced at the same position). A layer of that name the user has edited (corrected
    cells, moved boxes: :data:`EDITED`) is kept, renamed ``<name> (edited)``, and a new one added.
    Returns the layer."""
    data, kwargs, layer_type = layer_data
    name = kwargs["name"]
    if name in viewer.layers and viewer.layers[name].metadata.get(EDITED):
        from napari.utils.notifications import show_info

        kept = viewer.layers[name]
        kept.name = _kept_name(viewer, name)
        show_info(f"{name} had your edits: kept as {kept.name}, the new result drawn beside it")
    if name in viewer.layers:
        old = viewer.layers[name]
        if old._type_string == layer_type:
            _drawing.add(id(old))
            try:
                _update(old, data, kwargs, layer_type)
            finally:
                _drawing.discard(id(old))
            old.metadata.pop(EDITED, None)  # redrawn: our result again
            _watch_edits(old)
            return old
        index = viewer.layers.index(old)
        viewer.layers.remove(old)
        layer = getattr(viewer, f"add_{layer_type}")(data, **kwargs)
        viewer.layers.move(viewer.layers.index(layer), index)
        _watch_edits(layer)
        return layer
    layer = getattr(viewer, f"add_{layer_type}")(data, **kwargs)
    _watch_edits(layer)
    return layer


def _update(layer, data, kwargs, layer_type) -> None:
    if layer_type == "shapes":
        layer.data = []
        layer.add_rectangles(data, edge_color=kwargs["edge_color"], face_color=kwargs["face_color"],
                             edge_width=kwargs["edge_width"])
        layer.features = kwargs["features"]
        if "text" in kwargs:
            layer.text = kwargs["text"]
    else:
        layer.data = data
        if "features" in kwargs:
            layer.features = kwargs["features"]
    for key in ("scale", "translate", "units", "metadata"):
        if key in kwargs:
            setattr(layer, key, kwargs[key])


def layer_levels(layer, plane: tuple = ()) -> list:
    """The pyramid levels of an image layer (one level when it is not multiscale); of a stack,
    the 2-D plane at ``plane``, the indices on the axes before Y and X (lazy for dask/zarr data)."""
    from .stacks import plane_levels

    return plane_levels(layer.data if getattr(layer, "multiscale", False) else [layer.data], plane)


def displayed_plane(layer, viewer) -> tuple:
    """The indices, on the axes before Y and X, of the plane of ``layer`` the viewer shows —
    ``()`` for a 2-D (gray or RGB) image. The widgets analyse that plane of a stack."""
    lead = layer.ndim - 2
    if lead <= 0 or viewer is None:
        return ()
    point = np.asarray(viewer.dims.point, float)[-layer.ndim:]
    coords = np.asarray(layer.world_to_data(point), float)[:lead]
    shape = layer_levels(layer)[0].shape[:lead]
    return tuple(int(np.clip(np.rint(c), 0, n - 1)) for c, n in zip(coords, shape))


def stain_layer_data(result, source, label: str, *, level: int = 0, plane: tuple = ()) -> tuple:
    """LayerData for a stain-transferred image: a new RGB image layer on the source's grid
    (the placement of ``level``'s pixels, see :func:`_level_placement`), named after source and model."""
    kwargs = {"name": f"{result_name(source, plane)} [{label}]", "rgb": True,
              "metadata": {"cytoqa_stain": {"source": source.name, "model": label, "level": level,
                                            "plane": list(plane)}},
              **_level_placement(source, level, plane)}
    return result, kwargs, "image"


def add_stain_layer(viewer, result, source, label: str, *, level: int = 0, plane: tuple = ()):
    """Add (or update) the stain-transfer result of ``source`` as an image layer."""
    return upsert_layer(viewer, stain_layer_data(result, source, label, level=level, plane=plane))


def composite_layer_data(image, source, *, level: int = 0, plane: tuple = (), axis: int = 0) -> tuple:
    """LayerData for :func:`~napari_cytoqa.quality.compose_sharpest`'s image of ``source``'s series
    along ``axis`` (``plane``: one plane of it, for placement and, on a stack with more axes, the
    name's other indices: ``<name> [plane *, 1] [sharpest tiles]``), on ``level``'s pixel grid."""
    fixed = tuple("*" if a == axis else p for a, p in enumerate(plane)) if len(plane) > 1 else ()
    rgb = image.ndim == 3 and image.shape[-1] in (3, 4)
    kwargs = {"name": f"{result_name(source, fixed)} [sharpest tiles]", "rgb": rgb,
              "metadata": {"cytoqa_composite": {"source": source.name, "axis": axis, "level": level}},
              **_level_placement(source, level, plane)}
    if not rgb and getattr(source, "rgb", True) is False:  # shown like its source
        kwargs |= {"colormap": source.colormap.name, "contrast_limits": tuple(source.contrast_limits)}
    return image, kwargs, "image"


#: Above this many objects detections are drawn as points (centres) instead of box rectangles.
MAX_BOXES = 2000


def _level_placement(source, level: int, plane: tuple = ()) -> dict:
    place = _placement(source)
    if source is None:
        return place
    levels = layer_levels(source, plane)
    down = np.asarray(levels[0].shape[:2], float) / np.asarray(levels[level].shape[:2], float)
    sy, sx = place["scale"]
    oy, ox = place["translate"]
    # pixel i of the level covers level-0 pixels [i*down, (i+1)*down): centre at (i + 0.5)*down - 0.5
    place["scale"] = (sy * down[0], sx * down[1])
    place["translate"] = (oy + sy * (down[0] - 1) / 2, ox + sx * (down[1] - 1) / 2)
    return place


def detection_layers_data(det, source=None, *, level: int = 0, max_boxes: int | None = None,
                          plane: tuple = ()) -> list:
    """Layer data for :class:`~napari_cytoqa.detection.Detections`: instance labels (when the
    detector segments), boxes as rectangles — or, beyond ``max_boxes`` objects, their centres as
    points, which napari draws quickly at any zoom — with score/route/focus (and, with labels, the
    instance's area in pixels of the analysed level) as features, and the
    count per tile as text on the tile grid."""
    import pandas as pd

    base = result_name(source, plane)
    place = _level_placement(source, level, plane)
    meta = {"cytoqa_detections": {"count": det.count, "detector": det.detector,
                                  "routes": pd.Series(det.route).value_counts().to_dict()},
            **frame_metadata(source, plane)}
    models = det.route.astype(str)
    feats = pd.DataFrame({"score": det.scores, "route": [m.replace(f"cytoqa-{det.detector}-", "") for m in models],
                          "model": models, "focus": det.focus})
    if det.areas is not None:  # of the label image, or of the outlines a whole slide keeps
        feats["area"] = det.areas  # pixels of the analysed level
    out = []
    if det.labels is not None:
        at = dict(place)
        if any(det.origin):  # a region's labels start there
            at["translate"] = tuple(t + o * sc for t, o, sc in zip(place.get("translate", (0.0, 0.0)), det.origin,
                                                                   place.get("scale", (1.0, 1.0))))
        out.append((det.labels, {"name": f"{base} cells", "metadata": meta, **at}, "labels"))
    limit = MAX_BOXES if max_boxes is None else max_boxes
    if det.count and det.count <= limit:
        y0, x0, y1, x1 = (det.boxes[:, i] - 0.5 for i in range(4))
        rects = np.stack([np.stack([y0, x0], 1), np.stack([y0, x1], 1), np.stack([y1, x1], 1),
                          np.stack([y1, x0], 1)], axis=1)
        out.append((list(rects), {"name": f"{base} boxes", "shape_type": "rectangle", "edge_color": "yellow",
                                  "face_color": "transparent", "edge_width": 1.0, "features": feats,
                                  "metadata": meta, **place}, "shapes"))
    else:
        centres = np.stack([(det.boxes[:, 0] + det.boxes[:, 2] - 1) / 2,
                            (det.boxes[:, 1] + det.boxes[:, 3] - 1) / 2], 1) if det.count else np.zeros((0, 2))
        out.append((centres, {"name": f"{base} boxes", "size": 6, "face_color": "yellow", "border_width": 0,
                              "features": feats, "metadata": meta, **place}, "points"))
    tb = np.asarray(det.tile_boxes, float)
    if len(tb) and len(tb) <= MAX_SHAPES:
        rects = [np.array([[a - 0.5, b - 0.5], [a - 0.5, d - 0.5], [c - 0.5, d - 0.5], [c - 0.5, b - 0.5]])
                 for a, b, c, d in _owned_regions(tb)]
        tf = pd.DataFrame({"count": det.tile_counts, "focus": det.tile_focus if len(det.tile_focus) else np.nan,
                           "route": det.tile_routes.astype(str) if len(det.tile_routes) else ""})
        colour = "#0050ff" if _bright_background(source, plane) else "cyan"
        out.append((rects, {"name": f"{base} tile counts", "shape_type": "rectangle", "edge_color": colour,
                            "face_color": "transparent", "features": tf, "opacity": 0.8, "visible": len(tb) > 1,
                            "edge_width": max(1.0, 0.006 * float(np.median(tb[:, 2] - tb[:, 0]))),
                            "text": {"string": "{count}", "size": 14, "color": colour, "anchor": "center"},
                            "metadata": frame_metadata(source, plane), **place}, "shapes"))
    return out


def _owned_regions(tile_boxes: np.ndarray) -> np.ndarray:
    """The part of the image each tile owns (objects are counted by the tile nearest to their
    centre): overlapping tiles split at the midpoints between neighbouring tile centres."""
    tb = np.asarray(tile_boxes, float)
    out = tb.copy()
    for lo, hi in ((0, 2), (1, 3)):
        centres = (tb[:, lo] + tb[:, hi]) / 2
        uniq = np.unique(centres)
        mids = (uniq[1:] + uniq[:-1]) / 2
        edges = np.concatenate([[tb[:, lo].min()], np.ceil(mids), [tb[:, hi].max()]])
        k = np.searchsorted(uniq, centres)
        out[:, lo], out[:, hi] = edges[k], edges[k + 1]
    return out


def _bright_background(source, plane: tuple = ()) -> bool:
    """Whether the source looks like brightfield (light background), judged on its smallest level."""
    if source is None:
        return False
    data = layer_levels(source, plane)[-1]
    step = max(1, int(max(data.shape[:2]) // 256))
    sample = np.asarray(data[::step, ::step], dtype=np.float64)
    lo, hi = np.nanpercentile(sample, [1, 99])
    return bool(np.nanmedian(sample) > (lo + hi) / 2)


def add_detection_layers(viewer, det, source=None, *, level: int = 0, max_boxes: int | None = None,
                         plane: tuple = ()) -> list:
    """Scriptable twin of the Detection widget's drawing step: add or update its layers. A
    boxes-only result (YOLO, baseline without labels) removes the instance labels an earlier
    run drew for the same image, so no stale layer is left beside the new boxes."""
    data = detection_layers_data(det, source, level=level, max_boxes=max_boxes, plane=plane)
    if det.labels is None:
        stale = f"{result_name(source, plane)} cells"
        if stale in viewer.layers and is_stale(viewer.layers[stale]):
            viewer.layers.remove(stale)
    return [upsert_layer(viewer, d) for d in data]
