"""Tiling engine: grids over lazy arrays, per-tile weights, aggregation and stitching (no Qt)."""
from .grid import EDGES, TileGrid, read_tile, tile_grid, values_to_grid
from .stitch import blend_window, stitch
from .weights import WEIGHTINGS, aggregate, rgb_variance, saturation_variance, tile_weight

__all__ = ["EDGES", "WEIGHTINGS", "TileGrid", "aggregate", "blend_window", "read_tile",
           "rgb_variance", "saturation_variance", "stitch", "tile_grid", "tile_weight",
           "values_to_grid"]
