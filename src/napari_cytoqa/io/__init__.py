"""Reading slides as lazy pyramids (no Qt)."""
from .slide import SUFFIXES, Slide, SlideReadError, read_slide

__all__ = ["SUFFIXES", "Slide", "SlideReadError", "read_slide"]
