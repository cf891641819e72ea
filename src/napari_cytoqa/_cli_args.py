"""Argument types of the ``cytoqa`` command line (kept apart so :mod:`.cli` stays small)."""
from __future__ import annotations

import argparse
import re


def _pixel_size(text: str):
    """``--pixel-size``: 'auto' or µm per pixel, checked by the core's own rule."""
    from .quality.scale import resolve_pixel_size

    if text == "auto":
        return text
    try:
        value = float(text)
        resolve_pixel_size(None, value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive pixel size in um, got {text!r}") from None
    return value


def _auto_or(convert, what: str):
    """An argparse type: ``"auto"`` as it is, anything else through ``convert`` (``what`` names it)."""
    def parse(text: str):
        if text == "auto":
            return text
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected {what} or "auto", got {text!r}') from None
    return parse


_overlap_arg = _auto_or(int, "a whole number of pixels")


class Microns(float):
    """A ``--diameter`` given in µm (``8um``, ``8µm``): converted with the image's pixel size."""


_UM = re.compile(r"^\s*([0-9.eE+-]+)\s*(?:um|µm|μm|micron|microns)\s*$")


def diameter_arg(text: str):
    """``--diameter``: ``"auto"``, pixels (``12.5``) or µm (``8um`` / ``8µm``)."""
    m = _UM.match(text)
    try:
        return Microns(float(m.group(1))) if m else _auto_or(float, "a number of pixels")(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f'expected a number of pixels, µm (e.g. 8um) or "auto", got {text!r}') \
            from None


def region_arg(text: str) -> tuple[float, float, float, float]:
    """``--region``: ``Y0,X0,Y1,X1`` in level-0 pixels."""
    try:
        values = tuple(float(v) for v in text.split(","))
        if len(values) != 4:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected Y0,X0,Y1,X1 (level-0 pixels), got {text!r}") from None
    return values
