"""YOLO training data and training, offline and pickle-free (inference: :mod:`.yolo`).

* :func:`write_yolo_dataset` writes images and labels in ultralytics' folder layout;
  :func:`synthetic_samples` makes them from the synthetic defocus series.
* :func:`iter_train_yolo` runs ultralytics' own trainer — mosaic and colour augmentation,
  validation mAP — with saving switched off: no checkpoint pickle is ever written or read; the
  best epoch's EMA weights are copied in memory and returned as a state dict.
  :func:`train_yolo` is its blocking twin with ``progress`` and ``cancel``.
"""
from __future__ import annotations

import queue
import threading
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .yolo import CELL_YOLO, offline_ultralytics, to_training_image


# ---------------------------------------------------------------- training data
def write_yolo_dataset(root, samples, *, class_names=("cell",)) -> Path:
    """Write ``samples`` — ``(split, name, image, boxes)`` with split ``"train"``/``"val"``, an
    ``(H, W, 3)`` uint8 image (see :func:`to_training_image`) and ``(N, 4)`` boxes ``y0 x0 y1
    x1`` in pixels — as an ultralytics dataset; returns the path of its ``data.yaml``."""
    from PIL import Image

    root = Path(root).absolute()
    counts = {"train": 0, "val": 0}
    for split, name, image, boxes in samples:
        if split not in counts:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"training images must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / "images" / split / f"{name}.png")
        b = np.asarray(boxes, float).reshape(-1, 4)
        lines = [f"0 {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"
                 for y0, x0, y1, x1 in b if y1 > y0 and x1 > x0]
        (root / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        counts[split] += 1
    if not counts["train"] or not counts["val"]:
        raise ValueError(f"a YOLO dataset needs train and val images, got {counts}")
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(class_names))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data


def synthetic_samples(n_scenes: int, levels, *, size: int = 256, val_fraction: float = 0.15, seed: int = 0,
                      recipe=1, exposure_share: float = 0.0):
    """Training samples for :func:`write_yolo_dataset` from the shared synthetic z-series
    recipe (:func:`..unet_task.scene_series`, ``exposure_share`` of the scenes over-exposed):
    every scene at every level in ``levels``; whole scenes go to ``val`` (group-aware split)."""
    from .instances import boxes_from_labels
    from .unet_task import scene_series

    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(n_scenes * val_fraction)))
    val = set(np.random.default_rng(seed + 1).choice(n_scenes, n_val, replace=False).tolist())
    for scene in range(n_scenes):
        series = scene_series(rng, scene, (size, size), levels, recipe, exposure_share)
        boxes = boxes_from_labels(series[0].labels)
        for img in series:
            yield ("val" if scene in val else "train", f"s{scene:04d}_z{int(img.meta['blur_level']):02d}",
                   to_training_image(img.image), boxes)


# ---------------------------------------------------------------- training
@dataclass
class YoloTrainConfig:
    """ultralytics training arguments we set (anything else: ``extra``). ``device``: ``"auto"``
    (CUDA, then MPS, then CPU) or a torch device string. ``workers``: dataloader processes
    (0 = load in the training thread, what the GUI uses; scripts on a GPU machine raise it,
    since mosaic augmentation on one core starves the GPU)."""

    epochs: int = 40
    imgsz: int = 256
    batch: int = 16
    lr0: float = 0.002
    optimizer: str = "AdamW"
    patience: int = 10
    seed: int = 0
    device: str = "auto"
    close_mosaic: int = 5
    cache: bool | str = "ram"
    workers: int = 0
    extra: dict = field(default_factory=lambda: {
        "flipud": 0.5, "fliplr": 0.5, "degrees": 0.0, "scale": 0.3, "translate": 0.1, "mosaic": 1.0,
        "hsv_h": 0.015, "hsv_s": 0.5, "hsv_v": 0.3, "max_det": 3000})


@dataclass
class YoloTrainResult:
    state_dict: dict
    best_epoch: int
    history: list
    device: str
    yaml: dict
    stopped: bool = False  # ended early on request (``send("stop")`` / ``cancel()``)


def _trainer_device(device: str) -> str:
    from ..models.registry import resolve_device

    dev = resolve_device(device)
    return "0" if dev == "cuda" else dev.replace("cuda:", "")


def _make_trainer(data_yaml, config: YoloTrainConfig, yaml: dict, init_state, project):
    offline_ultralytics()
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.nn.tasks import DetectionModel

    class CytoTrainer(DetectionTrainer):
        """No pickles: the model comes from the dict (+ our state dict), nothing is saved."""

        def get_model(self, cfg=None, weights=None, verbose=True):
            model = DetectionModel(deepcopy(yaml), nc=self.data["nc"], ch=3, verbose=False)
            if init_state is not None:
                model.load_state_dict(init_state)
            return self.set_model_names_for_load(model) if hasattr(self, "set_model_names_for_load") else model

        def save_model(self):
            return False

        def final_eval(self):
            return None

    project = Path(project).absolute()
    model_yaml = project / "model.yaml"
    model_yaml.parent.mkdir(parents=True, exist_ok=True)
    import yaml as pyyaml

    model_yaml.write_text(pyyaml.safe_dump(yaml, sort_keys=False))
    overrides = dict(model=str(model_yaml), data=str(Path(data_yaml).absolute()), epochs=config.epochs,
                     imgsz=config.imgsz, batch=config.batch, lr0=config.lr0, optimizer=config.optimizer,
                     patience=config.patience, seed=config.seed, deterministic=True,
                     device=_trainer_device(config.device), close_mosaic=config.close_mosaic, cache=config.cache,
                     workers=config.workers, amp=False, pretrained=False, plots=False, save=False, val=True,
                     verbose=False, project=str(project), name="run", exist_ok=True, **config.extra)
    return CytoTrainer(overrides=overrides)


def iter_train_yolo(data_yaml, config: YoloTrainConfig | None = None, *, yaml: dict | None = None,
                    init_state: dict | None = None, project=None):
    """Train a YOLO detector on an ultralytics dataset (``data.yaml``, see
    :func:`write_yolo_dataset`). Generator for GUI workers and the blocking twin: yields
    ``{"event": "batch"|"epoch", ...}`` events. Returns a :class:`YoloTrainResult` with the best
    epoch's EMA weights (by ultralytics' fitness, 0.1·mAP50 + 0.9·mAP50-95). To stop early and
    keep the best epoch so far, ``send("stop")`` to the generator (napari's
    ``GeneratorWorker.send``): training ends after the current batch and the generator returns
    normally, ``stopped=True``; closing it instead stops and discards everything.
    ``init_state`` fine-tunes from existing weights; ``project`` is the run directory
    (absolute; a temporary one by default)."""
    import tempfile

    from .._triton import avoid_triton_in_gui

    avoid_triton_in_gui()
    config = config or YoloTrainConfig()
    yaml = deepcopy(yaml or CELL_YOLO)
    tmp = None
    if project is None:
        tmp = tempfile.TemporaryDirectory(prefix="cytoqa-yolo-")
        project = tmp.name
    trainer = _make_trainer(data_yaml, config, yaml, init_state, project)
    # lock-step with the consumer: each event waits for the consumer to come back for the next
    # one, so a stop request is seen at the very next batch, not after the thread has run ahead
    events: queue.Queue = queue.Queue()
    acks: queue.Queue = queue.Queue()
    stop, closed = threading.Event(), threading.Event()

    def emit(event):
        if closed.is_set():
            return
        events.put(event)
        acks.get()

    best = {"fitness": -np.inf, "state": None, "epoch": -1}
    history = []
    step = [0]

    def on_epoch_start(tr):
        step[0] = 0

    def on_batch_end(tr):
        step[0] += 1
        emit({"event": "batch", "epoch": tr.epoch, "epochs": tr.epochs, "step": step[0],
              "steps": len(tr.train_loader), "loss": float(tr.loss.detach()) / max(tr.batch_size, 1)})
        if stop.is_set():
            tr.stop = True

    def on_fit_epoch_end(tr):
        m = {k: float(v) for k, v in (tr.metrics or {}).items()}
        fitness = float(tr.fitness) if tr.fitness is not None else -np.inf
        is_best = fitness > best["fitness"]
        if is_best:
            best.update(fitness=fitness, epoch=tr.epoch,
                        state={k: v.detach().float().cpu().clone() for k, v in tr.ema.ema.state_dict().items()})
        record = {"epoch": tr.epoch, "train_loss": float(sum(float(v) for v in (tr.tloss or {}).values())),
                  "val_loss": sum(v for k, v in m.items() if k.startswith("val/")),
                  "precision": m.get("metrics/precision(B)", np.nan), "recall": m.get("metrics/recall(B)", np.nan),
                  "map50": m.get("metrics/mAP50(B)", np.nan), "map50_95": m.get("metrics/mAP50-95(B)", np.nan),
                  "fitness": fitness, "best": is_best}
        history.append(record)
        emit({"event": "epoch", **record, "epochs": tr.epochs})
        if stop.is_set():
            tr.stop = True

    trainer.add_callback("on_train_epoch_start", on_epoch_start)
    trainer.add_callback("on_train_batch_end", on_batch_end)
    trainer.add_callback("on_fit_epoch_end", on_fit_epoch_end)

    def run():
        try:
            trainer.train()
            events.put(("done", None))
        except BaseException as err:  # re-raised in the consumer
            events.put(("error", err))

    thread = threading.Thread(target=run, name="cytoqa-yolo-train", daemon=True)
    thread.start()
    try:
        while True:
            ev = events.get()
            if isinstance(ev, tuple):
                if ev[0] == "error":
                    raise ev[1]
                break
            if (yield ev) == "stop":
                stop.set()
            acks.put(None)
    finally:
        stop.set()
        closed.set()
        acks.put(None)  # a producer waiting on the event we were closed at
        thread.join()
        if tmp is not None:
            tmp.cleanup()
    if best["state"] is None:
        raise RuntimeError("YOLO training stopped before its first validation: no weights to keep")
    return YoloTrainResult(state_dict=best["state"], best_epoch=best["epoch"], history=history,
                           device=str(trainer.device), yaml=yaml, stopped=stop.is_set())


def train_yolo(data_yaml, config: YoloTrainConfig | None = None, *, progress=None, cancel=None, **kwargs):
    """Blocking twin of :func:`iter_train_yolo` (``progress(event)``; ``cancel()`` → stop after
    the current batch and raise :class:`~napari_cytoqa.training.TrainingCancelled` whose
    ``result`` holds the best epoch so far, or None when no epoch was validated yet)."""
    from ..training.engine import TrainingCancelled

    gen = iter_train_yolo(data_yaml, config, **kwargs)
    reply = None
    try:
        while True:
            event = gen.send(reply)
            if progress is not None:
                progress(event)
            if reply is None and cancel is not None and cancel():
                reply = "stop"
    except StopIteration as done:
        result = done.value
    except RuntimeError as err:
        if reply != "stop" or "before its first validation" not in str(err):
            raise
        raise TrainingCancelled("YOLO training cancelled before its first validation") from err
    if reply == "stop":
        raise TrainingCancelled(f"YOLO training cancelled; best epoch so far: {result.best_epoch}", result=result)
    return result


__all__ = ["YoloTrainConfig", "YoloTrainResult", "iter_train_yolo", "synthetic_samples", "train_yolo",
           "write_yolo_dataset"]
