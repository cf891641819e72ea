"""Classification metrics: accuracy, precision, recall, F1, ROC AUC, confusion matrix."""
from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class ``i`` predicted as ``j``."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    n = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve (Mann–Whitney U with tie correction); NaN if one class is absent."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(y_true, scores, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1 (positive class 1), AUC and the 2×2 confusion matrix."""
    y = np.asarray(y_true).astype(int)
    pred = (np.asarray(scores) >= threshold).astype(int)
    cm = confusion_matrix(y, pred, 2)
    tp, fp, fn = cm[1, 1], cm[0, 1], cm[1, 0]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float((pred == y).mean()) if len(y) else float("nan"),
            "precision": float(precision), "recall": float(recall), "f1": float(f1),
            "auc": roc_auc(y, scores), "confusion": cm.tolist()}


def multiclass_metrics(y_true, y_pred, n_classes: int) -> dict:
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    return {"accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
            "confusion": cm.tolist()}
