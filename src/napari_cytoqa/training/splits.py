"""Group-aware splits: every version of one source image stays in one fold (seed 000's Sameidx)."""
from __future__ import annotations

import numpy as np


def group_split(groups, val_fraction: float = 0.15, *, seed: int = 0):
    """Indices ``(train, val)`` with whole groups on each side."""
    groups = np.asarray(groups)
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    n_val = max(1, int(round(len(unique) * val_fraction))) if len(unique) > 1 else 0
    val_groups = set(unique[:n_val].tolist())
    in_val = np.array([g in val_groups for g in groups.tolist()], dtype=bool)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def group_kfold(groups, k: int = 5, *, seed: int = 0):
    """``k`` pairs ``(train, test)``; each group is in exactly one test fold."""
    groups = np.asarray(groups)
    unique = np.unique(groups)
    if k < 2 or k > len(unique):
        raise ValueError(f"k must lie in [2, {len(unique)}] for {len(unique)} groups, got {k}")
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    folds = np.array_split(unique, k)
    out = []
    for fold in folds:
        test = np.isin(groups, fold)
        out.append((np.flatnonzero(~test), np.flatnonzero(test)))
    return out
