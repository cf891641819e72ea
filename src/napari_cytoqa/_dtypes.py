"""Putting computed (float) pixel values back into an image's dtype, one way everywhere."""
from __future__ import annotations

import numpy as np


def cast_to(values, dtype) -> np.ndarray:
    """``values`` as ``dtype``: integers rounded to nearest (half to even), NaN → 0 and clipped
    to the dtype's range (no wrap-around); booleans are ``values >= 0.5``; floats are cast."""
    dtype = np.dtype(dtype)
    values = np.asarray(values)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            values = np.nan_to_num(values, nan=0.0, posinf=info.max, neginf=info.min)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return values >= 0.5
    return values.astype(dtype)
