"""Detection and segmentation metrics (seed 003's Table 1 and 2 quantities).

Boxes are ``(N, 4)`` arrays ``y0 x0 y1 x1`` in pixels, end exclusive. A prediction is a true
positive when its IoU with a not yet matched ground-truth box is ≥ ``iou`` (0.5); predictions
are matched in order of decreasing score (PASCAL VOC / COCO greedy matching), so every
ground-truth box is matched at most once and duplicates count as false positives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _boxes(b) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) y0 x0 y1 x1, got shape {b.shape}")
    return b


def box_iou(a, b) -> np.ndarray:
    """``(N, M)`` intersection over union of two box sets."""
    a, b = _boxes(a), _boxes(b)
    y0 = np.maximum(a[:, None, 0], b[None, :, 0])
    x0 = np.maximum(a[:, None, 1], b[None, :, 1])
    y1 = np.minimum(a[:, None, 2], b[None, :, 2])
    x1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match(pred_boxes, scores, gt_boxes, iou: float = 0.5) -> np.ndarray:
    """True-positive flag per prediction (in the order given), greedy by decreasing score."""
    return assign(pred_boxes, scores, gt_boxes, iou) >= 0


def assign(pred_boxes, scores, gt_boxes, iou: float = 0.5) -> np.ndarray:
    """The ground-truth box each prediction matched (its index; -1 for none), in the order given:
    :func:`match`'s greedy matching by decreasing score."""
    pred_boxes, gt_boxes = _boxes(pred_boxes), _boxes(gt_boxes)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(pred_boxes):
        raise ValueError("one score per predicted box is needed")
    found = np.full(len(pred_boxes), -1, dtype=np.intp)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return found
    ious = box_iou(pred_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        cand = np.where(taken, -1.0, ious[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou:
            found[i], taken[j] = j, True
    return found


def average_precision(tp_flags, scores, n_gt: int) -> float:
    """All-point interpolated AP (area under the monotone precision envelope, VOC 2010+)."""
    tp_flags = np.asarray(tp_flags, dtype=bool)
    if n_gt == 0:
        return float("nan")
    if tp_flags.size == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    tp = np.cumsum(tp_flags[order])
    fp = np.cumsum(~tp_flags[order])
    recall = tp / n_gt
    precision = tp / (tp + fp)
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # envelope: best precision at any higher recall
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


@dataclass
class DetectionScores:
    ap50: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    count_mape: float  # mean |predicted count − true count| / true count over images with objects
    tp_mape: float  # seed 003's variant: true positives instead of the predicted count

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of true positives, false positives and misses (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate_detections(predictions, ground_truths, *, iou: float = 0.5, score_threshold: float = 0.5
                        ) -> DetectionScores:
    """Pool images: ``predictions`` is a list of ``(boxes, scores)``, ``ground_truths`` a list of
    boxes. AP@``iou`` uses every prediction; precision, recall, F1 and the count errors use
    those with score ≥ ``score_threshold``."""
    if len(predictions) != len(ground_truths):
        raise ValueError("one prediction set per ground-truth image is needed")
    flags, all_scores, n_gt = [], [], 0
    tp = fp = fn = 0
    ape, tp_ape = [], []
    for (boxes, scores), gt in zip(predictions, ground_truths):
        boxes, gt = _boxes(boxes), _boxes(gt)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        f = match(boxes, scores, gt, iou)
        flags.append(f)
        all_scores.append(scores)
        n_gt += len(gt)
        keep = scores >= score_threshold
        fk = match(boxes[keep], scores[keep], gt, iou)
        tp += int(fk.sum())
        fp += int((~fk).sum())
        fn += len(gt) - int(fk.sum())
        if len(gt):
            ape.append(abs(int(keep.sum()) - len(gt)) / len(gt))
            tp_ape.append(abs(int(fk.sum()) - len(gt)) / len(gt))
    ap = average_precision(np.concatenate(flags) if flags else [], np.concatenate(all_scores) if all_scores else [],
                           n_gt)
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    return DetectionScores(ap, precision, recall, f1, tp, fp, fn,
                           float(np.mean(ape)) if ape else float("nan"),
                           float(np.mean(tp_ape)) if tp_ape else float("nan"))


def count_ape(predicted: int, true: int) -> float:
    """Absolute percentage error of one count (``nan`` when the true count is 0)."""
    return abs(predicted - true) / true if true else float("nan")


def pixel_scores(prob, truth, threshold: float = 0.5) -> dict:
    """Foreground pixel precision, recall, F1 at ``threshold`` and PR-AUC (average precision over
    all thresholds) of a probability map against a binary (or instance) mask."""
    prob = np.asarray(prob, dtype=np.float64).ravel()
    truth = np.asarray(truth).ravel() > 0
    if prob.shape != truth.shape:
        raise ValueError("probability map and mask must have the same shape")
    pred = prob >= threshold
    tp = int((pred & truth).sum())
    precision = tp / pred.sum() if pred.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # PR-AUC: AP over distinct probability values (ties share one operating point)
    order = np.argsort(-prob, kind="stable")
    p_sorted, t_sorted = prob[order], truth[order]
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    ctp = np.cumsum(t_sorted)[last]
    cfp = np.cumsum(~t_sorted)[last]
    n_pos = int(truth.sum())
    if n_pos == 0:
        pr_auc = float("nan")
    else:
        rec = np.concatenate([[0.0], ctp / n_pos])
        prec = ctp / (ctp + cfp)
        pr_auc = float(np.sum((rec[1:] - rec[:-1]) * prec))
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "pr_auc": pr_auc}
