"""YOLO cell detection through ultralytics, fully offline and pickle-free.

* :func:`offline_ultralytics` imports ultralytics with ``YOLO_OFFLINE=1``, a config directory of
  our own (``$YOLO_CONFIG_DIR``, default ``<cytoqa cache>/ultralytics``) and its two fonts seeded
  from matplotlib's DejaVuSans, so nothing is ever fetched from GitHub.
* :data:`CELL_YOLO` is the compact configuration shipped for cells: a YOLOv8-style backbone cut
  after stride 16 (cells are 10–40 px at 0.5 µm/px: the stride-32 stage only costs time), two
  detection scales (P3/8, P4/16) and a DFL range of 8 bins (objects up to 128 px). 0.85 M
  parameters.
* Models are built from that configuration (a dict, never a ``.pt``) and their weights live in
  hash-checked safetensors (the registry's ``"yolo"`` architecture). Training data and training
  are in :mod:`.yolo_train`.
* The network sees the same input as the U-Net (:func:`yolo_input`): the tile scaled by
  image-wide statistics, gray as RGB, brightfield inverted, so one model serves both
  polarities and any bit depth.
"""
from __future__ import annotations

import os
import shutil
import threading
from copy import deepcopy
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..quality.measures import IntensityStats
from .unet_task import unet_input

STRIDE = 32  # inputs are padded to a multiple of this

CELL_YOLO = {
    "nc": 1,
    "reg_max": 8,
    "backbone": [
        [-1, 1, "Conv", [16, 3, 2]],  # 0 P1/2
        [-1, 1, "Conv", [32, 3, 2]],  # 1 P2/4
        [-1, 1, "C2f", [32, True]],
        [-1, 1, "Conv", [64, 3, 2]],  # 3 P3/8
        [-1, 2, "C2f", [64, True]],
        [-1, 1, "Conv", [128, 3, 2]],  # 5 P4/16
        [-1, 2, "C2f", [128, True]],
        [-1, 1, "SPPF", [128, 5]],  # 7
    ],
    "head": [
        [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
        [[-1, 4], 1, "Concat", [1]],
        [-1, 1, "C2f", [64]],  # 10 (P3/8)
        [-1, 1, "Conv", [64, 3, 2]],
        [[-1, 7], 1, "Concat", [1]],
        [-1, 1, "C2f", [128]],  # 13 (P4/16)
        [[10, 13], 1, "Detect", ["nc"]],
    ],
}

_FONTS = ("Arial.ttf", "Arial.Unicode.ttf")
_OFFLINE_LOCK = threading.Lock()


def offline_ultralytics():
    """Import ultralytics configured never to touch the network; returns the module.

    Sets ``YOLO_OFFLINE=1`` and (unless already set) ``YOLO_CONFIG_DIR`` before the first import,
    then makes sure the fonts ultralytics would otherwise download exist in its config directory.
    """
    from .._triton import avoid_triton_in_gui

    avoid_triton_in_gui()  # ultralytics' import reaches triton, which crashes beside napari's OpenGL
    with _OFFLINE_LOCK:
        os.environ["YOLO_OFFLINE"] = "1"
        if "YOLO_CONFIG_DIR" not in os.environ:
            from ..models.registry import cache_dir

            os.environ["YOLO_CONFIG_DIR"] = str(cache_dir() / "ultralytics")
        import ultralytics
        from ultralytics.utils import USER_CONFIG_DIR

        _seed_fonts(Path(USER_CONFIG_DIR))
        return ultralytics


def _seed_fonts(directory: Path) -> None:
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    directory.mkdir(parents=True, exist_ok=True)
    for name in _FONTS:
        target = directory / name
        if not target.exists() and source.exists():
            atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def build_yolo(yaml: dict | None = None, nc: int = 1):
    """An untrained ultralytics ``DetectionModel`` from a configuration dict (default
    :data:`CELL_YOLO`)."""
    offline_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(deepcopy(yaml or CELL_YOLO), ch=3, nc=nc, verbose=False)


def yolo_input(tile: np.ndarray, stats: IntensityStats) -> np.ndarray:
    """``(3, H, W)`` float32 in [0, 1]: the U-Net's input, clipped (what the 8-bit training
    images hold)."""
    return np.clip(unet_input(tile, stats), 0.0, 1.0)


def to_training_image(image: np.ndarray, stats: IntensityStats | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB as written to YOLO training folders."""
    stats = stats or IntensityStats.from_sample(np.asarray(image), np.asarray(image).dtype)
    return np.round(yolo_input(image, stats).transpose(1, 2, 0) * 255).astype(np.uint8)


#: ``predict_boxes(..., flips=True)``: a fused box is kept if at least this many of the four
#: mirror views found it (rule TY2, docs/detection.md)
TTA_MIN_VIEWS = 2


def predict_boxes(net, x: np.ndarray, device, *, conf: float = 0.25, iou: float = 0.5,
                  max_det: int = 3000, flips: bool = False,
                  min_views: int | None = TTA_MIN_VIEWS) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(N, 4)`` ``y0 x0 y1 x1`` and scores for one ``(3, H, W)`` input.

    ``flips``: test-time augmentation — the input and its left-right, up-down and both-ways
    mirror images run as one batch; each view's boxes (score above ``conf``, NMS'd, mirrored
    back) are merged by weighted box fusion (:mod:`.fusion`). A fused box's score is its
    members' scores averaged over the four views (a view without it counting 0), so it may lie
    below ``conf``; the box is kept if at least ``min_views`` views found it, or, with
    ``min_views=None`` (the first rule, which lost recall: rule TY), if that score reaches ``conf``."""
    import torch
    import torchvision

    from ..models.precision import input_dtype
    from .fusion import mirror_views, weighted_box_fusion

    _, h, w = x.shape
    views, axes = mirror_views(x, STRIDE, flips)
    found = []
    with torch.no_grad():
        t = torch.as_tensor(np.stack(views), dtype=torch.float32).to(device=device, dtype=input_dtype(net))
        out = net(t)
        out = (out[0] if isinstance(out, (tuple, list)) else out).float()  # (views, 4 + nc, anchors)
        for pred, a in zip(out, axes):
            score = pred[4:].amax(0)
            keep = score > conf
            xywh, score = pred[:4, keep].T, score[keep]
            xyxy = torch.cat([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
            kept = torchvision.ops.nms(xyxy, score, iou)[:max_det]
            xyxy, sc = xyxy[kept].cpu().numpy().astype(np.float64), score[kept].cpu().numpy().astype(np.float64)
            # centred in the padding (a mirrored cell): not a cell
            inside = ((xyxy[:, 0] + xyxy[:, 2]) / 2 < w) & ((xyxy[:, 1] + xyxy[:, 3]) / 2 < h)
            xyxy, sc = xyxy[inside], sc[inside]
            if 2 in a:  # mirrored back: x -> w - x
                xyxy[:, [0, 2]] = w - xyxy[:, [2, 0]]
            if 1 in a:
                xyxy[:, [1, 3]] = h - xyxy[:, [3, 1]]
            found.append((xyxy, sc))
    if flips:
        xyxy, score = weighted_box_fusion(np.concatenate([b for b, _ in found]), np.concatenate([s for _, s in found]),
                                          np.repeat(np.arange(len(found)), [len(s) for _, s in found]),
                                          len(found), iou=iou, min_views=min_views or 1)
        keep = score >= conf if min_views is None else np.ones(len(score), bool)
        xyxy, score = xyxy[keep][:max_det], score[keep][:max_det]
    else:
        xyxy, score = found[0]
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    boxes = xyxy[:, [1, 0, 3, 2]]
    # under a pixel thick once clipped: not a cell
    ok = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
    return boxes[ok], score[ok]


__all__ = ["CELL_YOLO", "STRIDE", "build_yolo", "offline_ultralytics", "predict_boxes", "to_training_image",
           "yolo_input"]
