"""Pixel size (µm) from OME-XML, Aperio SVS, Hamamatsu NDPI and plain TIFF resolution tags."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_UNIT_TO_UM = {"µm": 1.0, "um": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}
#: Plain-TIFF resolutions coarser than this are screen/print DPI, not microscopy.
MAX_PLAUSIBLE_UM = 50.0


def _ome_root(tif):
    """The parsed OME-XML of a TIFF, or None (not OME, or not XML)."""
    xml = tif.ome_metadata
    if not xml:
        return None
    try:
        return ET.fromstring(xml)
    except ET.ParseError:
        return None


def _ome(tif) -> tuple[float, float] | None:
    root = _ome_root(tif)
    if root is None:
        return None
    for el in root.iter():
        if el.tag.endswith("Pixels") and el.get("PhysicalSizeX"):
            sx = float(el.get("PhysicalSizeX"))
            sy = float(el.get("PhysicalSizeY", sx))
            unit = _UNIT_TO_UM.get(el.get("PhysicalSizeXUnit", "µm"), 1.0)
            return (sy * unit, sx * unit)
    return None


def channel_names(tif) -> list[str] | None:
    """The channel names an OME-TIFF records (``<Channel Name=…>`` of its first image; an ImageJ
    hyperstack's ``Labels`` are per plane, not per channel, and are not read); None when it names none."""
    root = _ome_root(tif)
    pixels = None if root is None else next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is None:
        return None
    names = [ch.get("Name") or "" for ch in pixels if ch.tag.endswith("Channel")]
    return names if any(names) else None


def _svs(tif) -> tuple[float, float] | None:
    match = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", tif.pages[0].description or "")
    if match:
        mpp = float(match.group(1))
        return (mpp, mpp)
    return None


def _resolution_tags(page) -> tuple[float, float] | None:
    tags = page.tags
    if "XResolution" not in tags or "ResolutionUnit" not in tags:
        return None
    unit = int(tags["ResolutionUnit"].value)
    per_unit = {2: 25400.0, 3: 10000.0}.get(unit)  # inch, centimetre -> µm
    if per_unit is None:
        return None

    def size(tag):
        num, den = tags[tag].value
        return per_unit * den / num if num else None

    sx = size("XResolution")
    sy = size("YResolution") if "YResolution" in tags else sx
    if not sx or not sy or sx > MAX_PLAUSIBLE_UM:
        return None
    return (sy, sx)


def pixel_size_um(tif, series) -> tuple[float, float] | None:
    """``(y, x)`` pixel size in µm at full resolution, or ``None`` when not recorded."""
    for reader in (_ome, _svs):
        found = reader(tif)
        if found:
            return found
    return _resolution_tags(series.pages[0] if series.pages else tif.pages[0])
