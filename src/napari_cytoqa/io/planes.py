"""Planes of a stack in annotation files (GUI-free): our ``plane`` property in the file's plane
indices, with the channel index napari's channel layers leave out put back in; and QuPath's own
plane of each object (``"plane": {"c", "z", "t"}`` in its geometry), read and written by the stack's
axes (from qupath-core's ``ROITypeAdapters``: read, not run)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # io.geojson imports this module
    from .geojson import Annotations

#: The properties that keep QuPath's plane of an object (its geometry's ``plane``: c, z, t).
QUPATH_PLANE = ("qupath_c", "qupath_z", "qupath_t")


def file_plane(plane: tuple, channel) -> tuple:
    """The plane indices of the file (a :class:`~napari_cytoqa.io.Slide`'s ``planes``, what
    ``cytoqa --plane`` takes) of a layer's leading indices ``plane``, where the layer is channel
    ``channel = [position, index]`` of a file our reader split into one layer per channel."""
    if channel is None:
        return tuple(int(p) for p in plane)
    at, index = int(channel[0]), int(channel[1])
    plane = tuple(int(p) for p in plane)
    return plane[:at] + (index,) + plane[at:]


def layer_plane(plane: tuple, channel) -> tuple:
    """The inverse of :func:`file_plane`: a file's plane indices as the channel layer's leading indices."""
    if channel is None or len(plane) <= int(channel[0]):
        return tuple(plane)
    at = int(channel[0])
    return tuple(plane[:at]) + tuple(plane[at + 1:])


def qupath_plane(plane, axes: str) -> dict | None:
    """QuPath's ``{"c", "z", "t"}`` of ``plane`` on a stack with plane axes ``axes`` (Z, T and C, or S
    for samples); None for QuPath's default plane (c -1, z 0, t 0), which it leaves unwritten, and where
    ``plane`` does not fit ``axes`` or an axis is none of those."""
    if not plane or len(plane) != len(axes) or any(a not in "ZTCS" for a in axes):
        return None
    at = {"c": -1, "z": 0, "t": 0}
    for a, i in zip(axes, plane):
        at["c" if a in "CS" else a.lower()] = int(i)
    return None if at == {"c": -1, "z": 0, "t": 0} else at


def place_qupath_planes(ann: Annotations, axes: str, channel: int | None = None) -> Annotations:
    """``ann`` with QuPath's planes put on a stack whose planes have the axes ``axes`` (one letter per
    plane axis, as :attr:`~napari_cytoqa.io.Slide.plane_axes`: ``Z``, ``T``, ``C`` …).

    QuPath writes ``"plane": {"c", "z", "t"}`` into an object's geometry when it is not the default
    plane (c -1: every channel, z 0, t 0); :func:`parse_geojson` keeps it as the ``qupath_c``,
    ``qupath_z`` and ``qupath_t`` properties. When a file has any, each object without our own
    ``plane`` gets the plane its z and t name — z 0, t 0 where QuPath wrote none — and the channel
    at position ``channel`` of ``axes`` where QuPath names one; where it says every channel
    (c -1), the channel index is left out (see ``detection.compare.on_plane``). A file without
    them, or a stack with an axis that is not Z, T or the channel, is returned as it is."""
    from dataclasses import replace

    rows = ann.shape_properties + ann.point_properties
    if not any(key in row for row in rows for key in QUPATH_PLANE):
        return ann
    keys = {"Z": "qupath_z", "T": "qupath_t"}
    if any(a not in keys for i, a in enumerate(axes) if i != channel):
        return ann

    def placed(planes, props):
        out = []
        for ours, row in zip(planes, props):
            if ours:
                out.append(tuple(ours))
                continue
            at = []
            for i, a in enumerate(axes):
                if i == channel:
                    if int(row.get("qupath_c", -1)) >= 0:
                        at.append(int(row["qupath_c"]))
                else:
                    at.append(int(row.get(keys[a], 0)))
            out.append(tuple(at))
        return out

    return replace(ann, shape_planes=placed(ann.shape_planes, ann.shape_properties),
                   point_planes=placed(ann.point_planes, ann.point_properties))
