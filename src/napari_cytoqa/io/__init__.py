"""Reading slides as lazy pyramids, and GeoJSON annotations in their pixels (no Qt)."""
from .geojson import Annotations, GeoJSONError, read_geojson, write_geojson
from .slide import SUFFIXES, Slide, SlideReadError, read_slide

__all__ = ["SUFFIXES", "Annotations", "GeoJSONError", "Slide", "SlideReadError", "read_geojson", "read_slide",
           "write_geojson"]
