"""GeoJSON annotations in image pixels, as QuPath reads and writes them (no Qt, no napari).

Coordinates are ``x`` right, ``y`` down, in pixels of the image's full-resolution level, with
pixel ``(0, 0)`` covering ``[0, 1) × [0, 1)`` — QuPath's convention and that of
``cytoqa detect``'s ``*_cells.geojson``. :class:`Annotations` keeps them as ``(y, x)`` arrays.

A file may carry a ``"cytoqa_frame"`` member (a foreign member, RFC 7946 §6.1, which other
readers ignore): the scale, translation and units of the image those pixels belong to, so that
reading it back places the shapes on that image. Properties follow QuPath: ``objectType``,
``classification.name`` (our ``class`` column), ``measurements`` (numbers) and plain values;
``plane`` (the leading indices of a stack) is ours: the file's plane indices, as ``cytoqa --plane``
takes them — for a layer that shows one channel of a multi-channel file, its channel index is
put back in (the frame's ``channel``: ``[position among the planes, index]``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import atomic_write
from .planes import QUPATH_PLANE, qupath_plane

#: Feature columns that become a QuPath classification, first found wins.
CLASS_COLUMNS = ("class", "classification", "verdict", "route")
#: Vertices of the polygon that stands for an ellipse.
ELLIPSE_VERTICES = 64


class GeoJSONError(ValueError):
    """A file is not GeoJSON we can read, or shapes cannot be written as GeoJSON."""


@dataclass
class Annotations:
    """Shapes and points in pixel-edge coordinates ``(y, x)`` of an image's level 0.

    ``shapes[i]`` is a ``(K, 2)`` vertex array of napari type ``shape_type[i]`` (rectangle,
    polygon, path or line; an ellipse is written as its polygon), on the stack plane
    ``shape_planes[i]`` (``()`` for 2-D); ``shape_properties`` has one row per shape.
    ``points`` ``(M, 2)`` likewise. ``frame`` is the file's ``cytoqa_frame`` or None.
    ``dropped`` counts what could not be kept (polygon holes, empty or unknown geometries).
    """

    shapes: list = field(default_factory=list)
    shape_type: list = field(default_factory=list)
    shape_planes: list = field(default_factory=list)
    shape_properties: list = field(default_factory=list)
    points: list = field(default_factory=list)
    point_planes: list = field(default_factory=list)
    point_properties: list = field(default_factory=list)
    frame: dict | None = None
    dropped: int = 0

    @property
    def count(self) -> int:
        return len(self.shapes) + len(self.points)

    def table(self, which: str = "shapes"):
        """The properties of ``"shapes"`` or ``"points"`` as a DataFrame (one row each)."""
        import pandas as pd

        rows = self.shape_properties if which == "shapes" else self.point_properties
        return pd.DataFrame(rows).reset_index(drop=True) if rows else pd.DataFrame(index=range(0))


# ---------------------------------------------------------------- writing

def ellipse_polygon(corners) -> np.ndarray:
    """The polygon of a napari ellipse given by the four corners of its (maybe rotated) box."""
    c = np.asarray(corners, float)
    centre = c.mean(axis=0)
    u, w = (c[1] - c[0]) / 2, (c[3] - c[0]) / 2
    t = np.linspace(0, 2 * np.pi, ELLIPSE_VERTICES, endpoint=False)[:, None]
    return centre + np.cos(t) * u + np.sin(t) * w


def _xy(vertices) -> list:
    return [[float(x), float(y)] for y, x in np.asarray(vertices, float)]


def _number(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value) if math.isfinite(float(value)) else None


def _hex_rgb(text: str) -> list | None:
    text = text.strip().lstrip("#")
    if len(text) not in (6, 8):
        return None
    try:
        return [int(text[i:i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        return None


def feature_properties(row: dict, *, object_type: str = "annotation", plane: tuple = ()) -> dict:
    """QuPath-style properties of one object: numbers become ``measurements``, text stays plain,
    the first of :data:`CLASS_COLUMNS` also becomes the classification."""
    props: dict = {"objectType": object_type}
    measurements = {}
    for key, value in row.items():
        key = str(key)
        if key == "plane":  # the structural plane below wins over a feature column of that name
            continue
        if isinstance(value, np.generic):
            value = value.item()
        number = _number(value)
        if number is not None:
            measurements[key] = number
        elif key == "color" and isinstance(value, str):  # QuPath reads "color" as a packed int or [r, g, b]
            rgb = _hex_rgb(value)
            if rgb is not None:
                props[key] = rgb
        elif isinstance(value, (str, bool)):
            props[key] = value
    for key in CLASS_COLUMNS:
        if isinstance(row.get(key), str) and row[key]:
            props["classification"] = {"name": row[key]}
            break
    if measurements:
        props["measurements"] = measurements
    if plane:
        props["plane"] = [int(p) for p in plane]
    return props


def shape_feature(vertices, shape_type: str, properties: dict) -> dict:
    """One GeoJSON Feature of a napari shape in ``(y, x)`` pixel-edge coordinates."""
    v = np.asarray(vertices, float)
    if v.ndim != 2 or v.shape[1] != 2 or not len(v) or not np.isfinite(v).all():
        raise GeoJSONError(f"a {shape_type} needs finite (y, x) vertices, got shape {v.shape}")
    ellipse = shape_type == "ellipse"
    if ellipse:
        v = ellipse_polygon(v)
    if shape_type in ("line", "path"):
        geometry = {"type": "LineString", "coordinates": _xy(v)}
    else:
        if len(v) < 3:
            raise GeoJSONError(f"a {shape_type} needs at least 3 vertices, got {len(v)}")
        ring = _xy(v)
        geometry = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
        if ellipse:  # QuPath's own mark: it makes an ellipse of the polygon's bounding box again
            geometry["isEllipse"] = True
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def point_feature(yx, properties: dict) -> dict:
    y, x = (float(a) for a in yx)
    if not (math.isfinite(y) and math.isfinite(x)):
        raise GeoJSONError("a point needs finite coordinates")
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}, "properties": properties}


def feature_collection(features: list, frame: dict | None = None) -> dict:
    """A FeatureCollection of ``features`` with the image's ``frame`` (``cytoqa_frame``). Where the
    frame names the stack's plane axes (``plane_axes``, one letter per plane axis), each feature's
    ``plane`` is also written as QuPath's geometry plane, so that QuPath puts it on that z and t."""
    axes = (frame or {}).get("plane_axes")
    if axes:
        for feature in features:
            at = qupath_plane((feature.get("properties") or {}).get("plane", ()), axes)
            if at is not None and feature.get("geometry"):
                feature["geometry"]["plane"] = at
    out = {"type": "FeatureCollection", "features": features}
    if frame:
        out["cytoqa_frame"] = frame
    return out


def pixel_frame(pixel_size_um, channel=None, plane_axes: str = "") -> dict | None:
    """The ``cytoqa_frame`` of an image at ``pixel_size_um`` ``(y, x)`` µm per level-0 pixel, as
    our reader places it (None when the pixel size is unknown — pixels — and there is no
    ``channel``: ``[position among the planes, index]`` of a file our reader shows one layer per channel,
    and no ``plane_axes``: a stack's, see :func:`feature_collection`)."""
    if not pixel_size_um and channel is None and not plane_axes:
        return None
    frame = ({"scale": [float(v) for v in pixel_size_um], "translate": [0.0, 0.0],
              "units": ["micrometer", "micrometer"]} if pixel_size_um else
             {"scale": [1.0, 1.0], "translate": [0.0, 0.0]})
    if channel is not None:
        frame["channel"] = [int(v) for v in channel]
    if plane_axes:
        frame["plane_axes"] = str(plane_axes)
    return frame


def write_geojson(path, collection: dict) -> Path:
    """Write ``collection`` to ``path`` atomically (strict JSON: no NaN)."""
    path = Path(path)
    text = json.dumps(collection, allow_nan=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


# ---------------------------------------------------------------- reading

def _is_rectangle(yx: np.ndarray) -> bool:
    if len(yx) != 4:
        return False
    ys, xs = np.unique(np.round(yx[:, 0], 6)), np.unique(np.round(yx[:, 1], 6))
    if len(ys) != 2 or len(xs) != 2:
        return False
    # consecutive vertices share a y or an x: the ring walks the box's edges
    nxt = np.roll(yx, -1, axis=0)
    return bool(np.all(np.isclose(yx[:, 0], nxt[:, 0]) | np.isclose(yx[:, 1], nxt[:, 1])))


def _area(yx: np.ndarray) -> float:
    y, x = yx[:, 0], yx[:, 1]
    return abs(float(x @ np.concatenate((y[1:], y[:1])) - y @ np.concatenate((x[1:], x[:1])))) / 2


def _vertices(coords) -> np.ndarray:
    try:
        a = np.asarray(coords, float)
    except (TypeError, ValueError) as err:
        raise GeoJSONError(f"malformed coordinates ({err})") from err
    if a.ndim != 2 or a.shape[1] < 2 or not np.isfinite(a[:, :2]).all():
        raise GeoJSONError("coordinates must be finite [x, y] pairs")
    return a[:, [1, 0]]


def _flat_properties(props) -> tuple[dict, tuple]:
    """A feature's properties as one flat row (classification → ``class``, measurements spread
    out, QuPath's older list form included), and its plane."""
    props = dict(props or {})
    plane = props.pop("plane", ())
    plane = tuple(int(p) for p in plane) if isinstance(plane, (list, tuple)) else ()
    row = {}
    measurements = props.pop("measurements", None)
    if isinstance(measurements, dict):
        row.update({str(k): v for k, v in measurements.items() if _number(v) is not None})
    elif isinstance(measurements, list):  # QuPath ≤ 0.3: [{"name": ..., "value": ...}]
        row.update({str(m["name"]): m["value"] for m in measurements
                    if isinstance(m, dict) and "name" in m and _number(m.get("value")) is not None})
    cls = props.pop("classification", None)
    if isinstance(cls, dict) and cls.get("name"):
        row["class"] = str(cls["name"])
        rgb = cls.get("color")
        if isinstance(cls.get("colorRGB"), int):  # QuPath ≤ 0.3: packed (A)RGB, often negative
            rgb = [(cls["colorRGB"] >> shift) & 255 for shift in (16, 8, 0)]
        if isinstance(rgb, list) and len(rgb) == 3:
            row["class_color"] = "#" + "".join(f"{int(c) & 255:02x}" for c in rgb)
    elif isinstance(cls, str) and cls:
        row["class"] = cls
    for key, value in props.items():
        if isinstance(value, (str, bool, int, float)) and not isinstance(value, dict):
            row.setdefault(str(key), value)
    return row, plane


def _features(obj) -> list:
    if isinstance(obj, list):  # QuPath's export of several objects without a collection
        return [f for item in obj for f in _features(item)]
    if not isinstance(obj, dict) or "type" not in obj:
        raise GeoJSONError("not GeoJSON: expected a FeatureCollection, a Feature or a list of Features")
    kind = obj["type"]
    if kind == "FeatureCollection":
        return list(obj.get("features") or [])
    if kind == "Feature":
        return [obj]
    if kind in ("Polygon", "MultiPolygon", "LineString", "MultiLineString", "Point", "MultiPoint",
                "GeometryCollection"):
        return [{"type": "Feature", "geometry": obj, "properties": {}}]
    raise GeoJSONError(f"not GeoJSON: unknown type {kind!r}")


def _add_geometry(out: Annotations, geometry, row: dict, plane: tuple) -> None:
    kind = (geometry or {}).get("type")
    coords = (geometry or {}).get("coordinates")
    if kind == "GeometryCollection":
        for g in geometry.get("geometries") or []:
            _add_geometry(out, g, row, plane)
        return
    if kind in ("Polygon", "MultiPolygon") and coords:
        polygons = coords if kind == "MultiPolygon" else [coords]
        for rings in polygons:
            if not rings:
                out.dropped += 1
                continue
            yx = _vertices(rings[0])
            if len(yx) > 1 and yx[0, 0] == yx[-1, 0] and yx[0, 1] == yx[-1, 1]:  # the closing vertex
                yx = yx[:-1]
            if len(yx) < 3 or _area(yx) == 0:  # a degenerate ring (e.g. an empty label's zero box) is no shape
                out.dropped += 1
                continue
            out.dropped += len(rings) - 1  # holes: napari shapes have none
            if geometry.get("isEllipse") is True:  # QuPath's ellipse: a polygon, the ellipse its bounding box
                (y0, x0), (y1, x1) = yx.min(axis=0), yx.max(axis=0)
                out.shapes.append(np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]]))
                out.shape_type.append("ellipse")
            else:
                out.shapes.append(yx)
                out.shape_type.append("rectangle" if _is_rectangle(yx) else "polygon")
            out.shape_planes.append(plane)
            out.shape_properties.append(dict(row))
    elif kind in ("LineString", "MultiLineString") and coords:
        for line in (coords if kind == "MultiLineString" else [coords]):
            yx = _vertices(line)
            if len(yx) < 2:
                out.dropped += 1
                continue
            out.shapes.append(yx)
            out.shape_type.append("line" if len(yx) == 2 else "path")
            out.shape_planes.append(plane)
            out.shape_properties.append(dict(row))
    elif kind in ("Point", "MultiPoint") and coords:
        for yx in _vertices(coords if kind == "MultiPoint" else [coords]):
            out.points.append(yx)
            out.point_planes.append(plane)
            out.point_properties.append(dict(row))
    else:
        out.dropped += 1


def parse_geojson(obj, *, nuclei: bool = True) -> Annotations:
    """:class:`Annotations` of a parsed GeoJSON object (see :func:`read_geojson`)."""
    out = Annotations()
    for feature in _features(obj):
        if not isinstance(feature, dict):
            out.dropped += 1
            continue
        row, plane = _flat_properties(feature.get("properties"))
        geometry = feature.get("geometry")
        if nuclei and isinstance(feature.get("nucleusGeometry"), dict):  # a QuPath cell: its nucleus
            geometry, row = feature["nucleusGeometry"], row | {"outline": "nucleus"}
        at = geometry.get("plane") if isinstance(geometry, dict) and not plane else None
        if isinstance(at, dict):  # QuPath's plane of a stack, written when it is not c -1, z 0, t 0; ours wins
            row = row | {key: int(at[k]) for k, key in zip("czt", QUPATH_PLANE) if isinstance(at.get(k), (int, float))}
        _add_geometry(out, geometry, row, plane)
    frame = obj.get("cytoqa_frame") if isinstance(obj, dict) else None
    out.frame = frame if isinstance(frame, dict) else None
    return out


def read_geojson(path, *, nuclei: bool = True) -> Annotations:
    """Read a GeoJSON file (QuPath's export, ``cytoqa detect``'s, napari-cytoqa's writer's).

    A QuPath cell (``objectType`` ``cell``) has two outlines: the cell's, expanded around the
    nucleus by QuPath's cell detection, and its ``nucleusGeometry``. With ``nuclei=True`` (the
    default: our detectors find nuclei, so that is what annotated cells are compared with) the
    nucleus is read, with ``outline`` ``"nucleus"`` among its properties; ``nuclei=False`` reads
    the cell outline.

    Raises :class:`GeoJSONError` naming the file when it is not JSON or not GeoJSON.
    """
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GeoJSONError(f"{path.name}: not a JSON file ({err})") from err
    try:
        return parse_geojson(obj, nuclei=nuclei)
    except GeoJSONError as err:
        raise GeoJSONError(f"{path.name}: {err}") from err
    except (TypeError, KeyError, IndexError) as err:
        raise GeoJSONError(f"{path.name}: malformed GeoJSON ({err!r})") from err
