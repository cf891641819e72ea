"""napari reader contribution: slides as (multiscale) image layers with their pixel size, and
GeoJSON annotations (QuPath's, ours) as Shapes/Points layers on the image they belong to."""
from __future__ import annotations

import logging

from ._geojson_layers import read_geojson_layers
from ._layers import slide_layer_data
from .io import SUFFIXES, read_slide

log = logging.getLogger(__name__)


def get_reader(path):
    """Return a reader for a single slide file, or ``None`` (napari's convention) if it
    cannot be read: wrong extension, corrupt or truncated file. A ``.geojson`` file always gets
    a reader, which raises a clear error when the file is not GeoJSON."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    if str(path).lower().endswith(".geojson"):
        # parsed when called, so that a bad file gets napari's error notice with our message
        return lambda _path: read_geojson_layers(path)
    if not str(path).lower().endswith(SUFFIXES):
        return None
    try:
        slide = read_slide(path)
    except (OSError, ValueError) as err:
        log.info("napari-cytoqa cannot read %s: %s", path, err)
        return None

    def reader(_path):
        return [slide_layer_data(slide)]

    return reader
