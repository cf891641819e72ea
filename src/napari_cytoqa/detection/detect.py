"""``detect_cells``: any-size image → merged instances and boxes, tile by tile.

Detectors registered in :data:`DETECTORS` take ``(tile, context) -> (labels or None, boxes,
scores)`` in tile coordinates; tiles overlap by ``overlap`` pixels and are merged by centre
ownership (:mod:`.merge`), so objects crossing tile borders come out once and whole.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage as ndi

from .._dtypes import transparent_as_nan
from .._generators import run_tiles
from ..quality.assess import MAX_STAT_PIXELS, check_image, pick_level, stats_level, strided_sample
from ..tiling import read_tile, tile_grid
from .exposure import exposure_model, exposure_warning, saturated_fraction
from .instances import _as_gray, boxes_from_labels, polarity_of, split_instances
from .merge import box_owners, merge_boxes, merge_labels, tiling_for
from .networks import UNetRunner, YoloRunner
from .outlines import Rings, tile_outlines
from .region import inside_polygons, region_area, resolve_region
from .rescale import rescaled
from .result import Detections
from .size import resolve_diameter, scale_hint
from .stain_input import STAIN_CHOICES, stain_input

log = logging.getLogger(__name__)


class OtsuContext:
    """The classical baseline, fitted once per image: Otsu's threshold and the polarity come from
    an image-wide sample, so every tile is cut at the same grey level."""

    def __init__(self, arr, *, smooth: float = 1.5, min_size: int = 30, min_distance: float = 6.0,
                 h: float = 1.5):
        from skimage.filters import threshold_otsu

        from .sparse import sparse_otsu

        step = max(1, int(np.sqrt(arr.shape[0] * arr.shape[1] / 1_000_000)))
        raw = transparent_as_nan(arr[::step, ::step])
        sample = ndi.gaussian_filter(_as_gray(raw), smooth / step)
        # the colours the gray, smoothed sample lost, against the image's own full scale
        self.polarity = polarity_of(sample, colour=raw, dtype=arr.dtype)
        self.threshold = float(threshold_otsu(sample)) if np.ptp(sample) > 0 else np.inf
        if np.isfinite(self.threshold):  # a sparse or blank field: not Otsu's cut through the noise
            self.polarity, self.threshold = sparse_otsu(raw, arr.dtype, self.polarity, self.threshold)
        self.smooth, self.min_size, self.min_distance, self.h = smooth, min_size, min_distance, h

    def __call__(self, tile, raw=None):
        g = ndi.gaussian_filter(_as_gray(tile), self.smooth)
        fg = g < self.threshold if self.polarity == "dark_on_light" else g > self.threshold
        labels = split_instances(ndi.binary_fill_holes(fg), min_distance=self.min_distance, h=self.h,
                                 min_size=self.min_size)
        boxes = boxes_from_labels(labels)
        return labels, boxes, np.ones(len(boxes)), "otsu", np.nan


ROUTINGS = ("combined", "sharp", "blurry", "blur")
#: ``denoise=`` by the names the CLI, the widget and the scripts offer
DENOISE_CHOICES = {"auto": "auto", "on": True, "off": False}


#: the registry model each learned detector runs per route unless told otherwise (``model=``,
#: ``sharp_model=``, ``blurry_model=``). YOLO's sharp and combined models are the recipe-4 ones
#: (textured chromatin) since rule Y (docs/detection.md, 2026-11-24); the earlier ones keep their
#: names, ``cytoqa-yolo-sharp`` and ``cytoqa-yolo-combined``, and stay in the registry.
DEFAULT_MODELS = {
    "unet": {"sharp": "cytoqa-unet-sharp", "blurry": "cytoqa-unet-blurry", "combined": "cytoqa-unet-combined"},
    "yolo": {"sharp": "cytoqa-yolo-sharp-r4", "blurry": "cytoqa-yolo-blurry", "combined": "cytoqa-yolo-combined-r4"},
}

#: ``tta="auto"``: whether each learned detector averages over mirror images by default (4× its
#: network time): the U-Net since rule TT, YOLO since rule TY2 (2026-11-24: held-out synthetic
#: series and real nuclei sets gained, none lost beyond its limit; rule TY, which kept only boxes
#: whose averaged score reached the threshold, had lost recall on DSB)
DEFAULT_TTA = {"unet": True, "yolo": True}

#: ``merge="auto"``: whether the U-Net joins touching instances that are pieces of one cell
#: (:func:`.instances.merge_fragments`): on since rule J2 (docs/detection.md, *Pieces of one cell*),
#: with its second test (a centre map that barely dips between them) since rule W
DEFAULT_MERGE = True


class _RoutedContext:
    """A learned detector (seed 003). ``routing``: ``"combined"`` (one model trained on every
    blur level; default), ``"sharp"`` / ``"blurry"`` (the models trained on in-focus /
    out-of-focus images only) or ``"blur"``: the learned focus model (``focus_model``, the
    quality network) judges every tile and routes it to the sharp model (blur level ≤ 5.5) or
    the blurry one. ``model`` overrides the registry name for the non-routed cases,
    ``sharp_model`` / ``blurry_model`` the two routed to (e.g. an opt-in model such as
    ``"cytoqa-yolo-sharp-recipe2"``, or your own fine-tuned one; through :func:`detect_cells`
    the default sharp model, ``None`` or ``"auto"``, is ``DEFAULT_MODELS[detector]["sharp"]`` or, for an
    image that looks over-exposed, ``cytoqa-<detector>-sharp-exposure``: see
    :func:`.exposure.exposure_model`);
    ``threshold`` overrides the model's own (foreground probability for U-Nets, confidence
    for YOLO). ``precision`` (``"fp32"``, ``"bf16"`` or ``"auto"``: bfloat16 on CPUs that
    compute it natively) applies to the detectors and the focus model alike; left unset, the
    detectors run in float32 and the focus model in its own default (``"auto"``) — bfloat16
    detectors are ~2× faster (U-Net) but not the default: on the real nuclei image two
    U-Net figures fell by 0.006 and 0.010 AP (docs/detection.md). ``focus_image``: the image the focus
    model's statistics come from where the detectors are given a rendering of it
    (``detect_cells(stain=...)``; each call then passes the tile as it is as ``raw``).
    ``denoise`` smooths tiles noisier than the training fields before a detector sees them
    (:func:`.sparse.match_training_noise`; the focus model sees them as they are): ``True``
    before every model, ``False`` never, ``"auto"`` (default) before the sharp U-Net only
    (``routing="sharp"``, or the in-focus tiles of ``"blur"``) — the one model that counted
    photon noise as nuclei in dim fields; the combined and blurry U-Nets, and YOLO on the real
    nuclei image, did worse with it (docs/detection.md, *Noisy fields*). ``tta``: run each
    tile and its three mirror images (test-time augmentation, 4× the network time) and average
    the U-Net's foreground and centre maps, or fuse YOLO's boxes (weighted box fusion);
    ``"auto"`` (default) is :data:`DEFAULT_TTA` — on for the U-Net since rule TT and for YOLO
    since rule TY2 (docs/detection.md, *Mirror-image averaging*); ``tta=False`` is 4× faster.
    YOLO's fused scores are averaged over the four views, so a box two views found can score
    below ``threshold``. ``merge`` (U-Net): join touching instances that share a border longer
    than the smaller is wide, through a high centre map: pieces of one cell cut along a
    nucleolus or between speckles (:func:`.instances.merge_fragments`); ``"auto"`` is
    :data:`DEFAULT_MERGE`."""

    kind = ""
    net_class = UNetRunner

    def __init__(self, arr, *, routing: str = "combined", model: str | None = None, device: str = "auto",
                 threshold: float | None = None, focus_model: str | None = None,
                 precision: str | None = None, sharp_model: str | None = None, blurry_model: str | None = None,
                 denoise: bool | str = "auto", tta: bool | str = "auto", merge: bool | str = "auto",
                 focus_image=None):
        from .unet_task import image_stats

        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {ROUTINGS}, got {routing!r}")
        if routing != "blur" and (sharp_model or blurry_model):
            raise ValueError("sharp_model / blurry_model apply to routing='blur'; use model= otherwise")
        plain, self.stats = image_stats(arr)
        if focus_image is not None:  # the detectors see a rendering of the image (stain=); focus judges the image
            plain = image_stats(focus_image)[0]
        if denoise not in DENOISE_CHOICES.values():
            raise ValueError(f'denoise must be True, False or "auto", got {denoise!r}')
        self.routing, self.denoise = routing, denoise
        if tta not in (True, False, "auto"):
            raise ValueError(f'tta must be True, False or "auto", got {tta!r}')
        tta = DEFAULT_TTA[self.kind] if tta == "auto" else tta
        if merge not in (True, False, "auto"):
            raise ValueError(f'merge must be True, False or "auto", got {merge!r}')
        merge = DEFAULT_MERGE if merge == "auto" else merge
        nets = {"device": device, "threshold": threshold, "precision": precision, "tta": tta, "merge": merge}
        if routing == "blur":
            if model is not None:
                raise ValueError("blur routing uses the sharp and blurry models: pass sharp_model= / "
                                 "blurry_model= instead of model=")
            from ..quality.learned import DEFAULT_MODEL, LearnedScorer

            defaults = DEFAULT_MODELS[self.kind]
            self.sharp = self.net_class(sharp_model or defaults["sharp"], **nets)
            self.blurry = self.net_class(blurry_model or defaults["blurry"], **nets)
            # the focus model judges tiles scaled as the quality checks scale them
            self.scorer = LearnedScorer(plain, model=focus_model or DEFAULT_MODEL,
                                        device=device, precision=precision or "auto")
        else:
            self.single = self.net_class(model or DEFAULT_MODELS[self.kind][routing], **nets)

    def __call__(self, tile, raw=None):
        from ..quality.calibration import SHARP_BLURRY_BOUNDARY
        from .sparse import match_training_noise

        if self.routing != "blur":
            net, focus = self.single, np.nan
        else:  # ``raw``: the tile as it is, where ``tile`` is a rendering of it (stain=)
            focus = float(self.scorer.score_batch([tile if raw is None else raw])[0]["blur_level"])
            net = self.sharp if focus <= SHARP_BLURRY_BOUNDARY else self.blurry
        sharp_unet = self.kind == "unet" and (self.routing == "sharp" or (self.routing == "blur" and net is self.sharp))
        if self.denoise is True or (self.denoise == "auto" and sharp_unet):
            tile = match_training_noise(tile, self.stats)
        return (*net(tile, self.stats), net.name, focus)


class UNetContext(_RoutedContext):
    """The U-Net detector: instances (core-seeded watershed of the foreground and centre maps)
    and their boxes; an instance's score is its mean foreground probability."""

    kind, net_class = "unet", UNetRunner


class YoloContext(_RoutedContext):
    """The YOLO detector (ultralytics, :mod:`.yolo`): boxes with confidences, no labels."""

    kind, net_class = "yolo", YoloRunner


DETECTORS = {"otsu": OtsuContext, "unet": UNetContext, "yolo": YoloContext}

#: ``keep_labels="auto"`` keeps the instance label image up to this many pixels of the analysed
#: level (100 Mpx: 400 MB of int32 labels, about as much again in per-tile pieces while merging)
MAX_LABEL_PIXELS = 100_000_000

#: cell size the shipped models were trained at: the median equivalent diameter of the synthetic
#: training objects (fluorescence nuclei 16.2-16.9 px, smear cells 14.0-14.4 px at 0.5 µm/px)
REFERENCE_DIAMETER_PX = 16.0
#: a told (or µm, or estimated) cell diameter ``D`` is analysed at the scale where the cells span
#: ``REFERENCE_DIAMETER_PX / DIAMETER_FACTOR`` px: 1.0, as the models were trained (1.3 failed rule SF,
#: docs/detection.md, *Real nuclei seen smaller*; kept so that scripts/evaluate_size_factor.py reruns it)
DIAMETER_FACTOR = 1.0


#: what ``diameter="auto"`` on stained tissue may be worth (docs/detection.md, *Joining on real H&E*)
AUTO_ON_TISSUE = ("diameter='auto' estimated {:.1f} px on stained tissue, where the size estimate has been "
                  "0.4-0.85x the nuclei's measured size on real H&E; pass diameter= in pixels when you know it")


def _keep_labels(keep, shape) -> bool:
    if isinstance(keep, str):
        if keep != "auto":
            raise ValueError(f'keep_labels must be True, False or "auto", got {keep!r}')
        keep = shape[0] * shape[1] <= MAX_LABEL_PIXELS
        if not keep:
            log.warning("image of %d x %d px: over %d Mpx, instance labels are not kept (boxes only); "
                        "pass keep_labels=True to keep them", shape[0], shape[1], MAX_LABEL_PIXELS // 1_000_000)
    return bool(keep)


def iter_detect_cells(image, *, detector: str = "unet", tile_size: int = 512, overlap: int | str = "auto",
                      level: int = 0, keep_labels: bool | str = "auto", diameter: float | str | None = None,
                      size_model: str = "cytoqa-unet-combined", stain: str = "none", min_score=None,
                      diameter_um: float | None = None, pixel_size="auto", region=None, **options):
    """Generator twin of :func:`detect_cells`: yields ``(done, total)`` tiles, returns Detections."""
    if min_score is not None and not (isinstance(min_score, (int, float, np.number)) and 0 <= min_score <= 1):
        raise ValueError(f"min_score must be a score between 0 and 1 or None, got {min_score!r}")
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; available: {sorted(DETECTORS)}")
    if stain not in STAIN_CHOICES:
        raise ValueError(f"stain must be one of {STAIN_CHOICES}, got {stain!r}")
    levels, arr = pick_level(image, level)
    check_image(arr)
    diameter = resolve_diameter(image, levels, level, diameter, diameter_um, pixel_size)
    (y0, x0, y1, x1), polygons = resolve_region((0, 0, *arr.shape[:2]) if region is None else region, arr.shape)
    if region is not None:  # only its bounding box is read and analysed (a lazy slice of a slide)
        arr = arr[y0:y1, x0:x1]
    auto = isinstance(diameter, str)
    keep_labels = _keep_labels(keep_labels, arr.shape)
    saturated = saturated_fraction(stats_level(levels, level))
    routing = options.get("routing")
    if detector in ("unet", "yolo") and routing == "blur" and options.get("sharp_model") in (None, "auto"):
        # by default the over-exposure-trained sharp model where the image is saturated (rule E)
        options = {**options, "sharp_model": exposure_model(saturated, detector)}
    elif options.get("sharp_model") == "auto":
        raise ValueError("sharp_model='auto' applies to routing='blur' with the U-Net or YOLO")
    warnings = [w for w in [exposure_warning(saturated, detector, routing=routing,
                                             sharp_model=options.get("sharp_model")),
                            None if diameter is not None else scale_hint(image, levels, level, pixel_size)] if w]
    name = getattr(image, "name", None)  # a Slide's
    for w in warnings:
        log.warning("%s%s", f"{name}: " if isinstance(name, str) else "", w)
    if auto:
        from .size import estimate_diameter

        diameter = estimate_diameter(arr, model=size_model, device=options.get("device", "auto"),
                                     precision=options.get("precision"), stain=stain)
    scale = 1.0 if diameter is None else REFERENCE_DIAMETER_PX / (DIAMETER_FACTOR * float(diameter))
    tile_size, overlap = tiling_for(diameter, tile_size, overlap)
    h, w = arr.shape[:2]
    ts = (min(tile_size, h), min(tile_size, w))
    ov = (min(overlap, ts[0] // 2), min(overlap, ts[1] // 2))
    grid = tile_grid((h, w), ts, stride=(ts[0] - ov[0], ts[1] - ov[1]), edge="shift")
    whole, render = stats_level(levels, level), None
    if stain != "none":  # stained tissue: the detectors see its hematoxylin channel
        sample = transparent_as_nan(np.asarray(strided_sample(whole, MAX_STAT_PIXELS)))
        native = REFERENCE_DIAMETER_PX if diameter is None else float(diameter)  # cell size, this level's pixels
        render = stain_input(stain, sample, arr.dtype, native)
    if render is not None:
        log.info("stained tissue: the detectors see its hematoxylin channel (stain=%r)", stain)
        if auto:
            warnings.append(AUTO_ON_TISSUE.format(diameter))
            log.warning("%s%s", f"{name}: " if isinstance(name, str) else "", warnings[-1])
        whole = render(sample, sigma=render.sigma * sample.shape[0] / arr.shape[0])  # in the sample's pixels
        if detector in ("unet", "yolo") and routing == "blur":
            options = {**options, "focus_image": sample}
    try:  # image-wide statistics (intensity range, polarity, Otsu) from a level of <= ~1 Mpx where there is one
        run = rescaled(DETECTORS[detector](whole, **options), scale)
    except TypeError as err:  # an option the detector does not take (e.g. routing= for "otsu")
        raise ValueError(f"detector {detector!r}: {err}") from err
    per_labels, per_boxes, per_scores, routes, focus, per_rings, per_own = [], [], [], [], [], [], []
    yield 0, len(grid)
    for i, box in enumerate(grid.boxes):
        by, bx = int(box[0]), int(box[1])
        tile = transparent_as_nan(read_tile(arr, box))
        labels, boxes, scores, route, tile_focus = run(tile) if render is None else run(render(tile), tile)
        per_labels.append(labels if keep_labels else None)
        placed = np.asarray(boxes, float).reshape(-1, 4) + [by, bx, by, bx]
        if labels is not None and not keep_labels:  # too large for a label image: the owned cells' outlines
            per_own.append(box_owners(placed, grid.boxes) == i)  # merge_boxes reuses it (whole slides: costly)
            per_rings.append(tile_outlines(labels, per_own[-1], origin=(by + y0, bx + x0)))
        per_scores.append(np.asarray(scores, float))
        per_boxes.append((placed, scores))
        routes.append(route)
        focus.append(tile_focus)
        yield i + 1, len(grid)
    outlines = areas = None
    if per_labels and all(lab is not None for lab in per_labels):
        labels, scores = merge_labels(per_labels, grid.boxes, (h, w), scores=per_scores)
        boxes = boxes_from_labels(labels)
    else:
        labels = None
        owned = per_own if len(per_own) == len(grid) else None  # known where every tile's outlines were kept
        boxes, scores, tiles, local = merge_boxes(per_boxes, grid.boxes, index=True, owned=owned)
        if owned is not None:  # each kept cell's outline and size, from its tile
            outlines = Rings.from_list([per_rings[t][0][j] for t, j in zip(tiles, local)])
            areas = np.array([per_rings[t][1][j] for t, j in zip(tiles, local)], np.int64)
    owner = box_owners(boxes, grid.boxes)
    shift = [y0, x0, y0, x0]
    det = Detections(boxes=boxes + shift, scores=np.asarray(scores, float), labels=labels, origin=(y0, x0),
                     route=np.asarray(routes, dtype=object)[owner], focus=np.asarray(focus, float)[owner],
                     detector=detector, tile_boxes=np.asarray(grid.boxes).reshape(-1, 4) + shift,
                     tile_counts=np.bincount(owner, minlength=len(grid)), tile_focus=np.asarray(focus, float),
                     tile_routes=np.asarray(routes, dtype=object),
                     diameter=None if diameter is None else float(diameter), saturated=saturated,
                     warnings=warnings, stain="none" if render is None else "hematoxylin",
                     area=region_area((y0, x0, y1, x1), polygons), outlines=outlines, instance_areas=areas)
    det = det if polygons is None else det.subset(inside_polygons(det.boxes, polygons))
    return det if min_score is None else det.above(min_score)


def detect_cells(image, *, detector: str = "unet", tile_size: int = 512, overlap: int | str = "auto",
                 level: int = 0,
                 keep_labels: bool | str = "auto", diameter: float | str | None = None,
                 size_model: str = "cytoqa-unet-combined", stain: str = "none", diameter_um: float | None = None,
                 pixel_size="auto", region=None, progress=None, cancel=None, **options) -> Detections:
    """Detect cells in a gray or RGB image of any size, dtype and polarity.

    ``detector="unet"`` runs registry U-Nets and returns instance ``labels`` and their boxes;
    ``detector="yolo"`` runs registry YOLO models (ultralytics) and returns boxes only
    (``labels`` is None). Both take ``routing="combined"|"sharp"|"blurry"|"blur"`` (see
    :class:`_RoutedContext`), ``model=``, ``threshold=``, ``device=``, ``precision=``
    (default float32; ``"bf16"`` or ``"auto"``, bfloat16 where the CPU has it natively, is
    faster and opt-in), ``denoise=`` (smooth tiles noisier than the training data: ``True``,
    ``False`` or ``"auto"``, see :class:`_RoutedContext`) and ``tta=`` (mirror-image
    averaging: on by default for both learned detectors; ``tta=False`` is 4× faster).
    ``detector="otsu"`` is the classical baseline (Otsu threshold fitted on the whole image,
    distance-transform watershed). Tiles of ``tile_size`` px overlap by ``overlap`` px, which must
    exceed the largest cell for cut cells to be recovered whole: ``"auto"`` (default) is 64 px, or
    1.5 cell diameters where ``diameter`` is larger than 64 / 1.5 px, with the tile grown to three
    overlaps where it is smaller (:func:`.merge.tiling_for`).
    ``keep_labels=False`` drops the instance label image (boxes and scores
    only, merged like YOLO's): a whole slide's full-size int32 labels would not fit in memory;
    ``"auto"`` (default) keeps it for images of up to ``MAX_LABEL_PIXELS`` (100 Mpx) and drops
    it beyond, with a warning in the log.
    ``diameter`` (pixels of the analysed level) is the typical cell diameter in the image:
    tiles are resampled by ``REFERENCE_DIAMETER_PX / diameter`` so cells reach the size the
    models were trained at (16 px); results are in the image's own pixels. Leave it None for
    0.5 µm/px images of cells like the training data; ``"auto"`` measures it first with
    :func:`~.size.estimate_diameter` (the combined U-Net on a sample window, a few seconds;
    the value used is ``Detections.diameter``); ``size_model`` names the U-Net that measures
    (e.g. the opt-in ``"cytoqa-unet-combined-r4"``, docs/detection.md *Textured chromatin*).
    ``diameter_um`` gives that size in µm instead (e.g. 8 for nuclei like the training data's),
    converted with ``pixel_size`` (µm per level-0 pixel; ``"auto"``, the default: the
    :class:`~napari_cytoqa.io.Slide`'s own, from the file) to the analysed level's pixels.
    An image with over 2 % of its pixels at its maximum value looks over-exposed: the result
    carries a warning in ``Detections.warnings`` (and the log), and with ``routing="blur"`` its
    in-focus tiles go to the sharp model trained with over-exposure unless ``sharp_model=``
    names another (rule E, docs/detection.md).
    ``stain`` (opt-in; rule H failed, docs/detection.md): ``"auto"`` gives the detectors the
    hematoxylin channel of an RGB image that looks like a stained tissue section (stain colours
    over most of the field, not cells on glass), ``"hematoxylin"`` always does (RGB only),
    ``"none"`` (default) never (:mod:`.stain_input`); ``Detections.stain`` says which ran. The
    focus model routes on the tiles as they are. ``min_score`` (0-1, default None: all): keep
    only objects scoring at least that (:meth:`Detections.above`; for counts, see
    docs/detection.md, *Counting confident objects*). ``region``: detect only in a box
    ``(y0, x0, y1, x1)`` or polygons of ``(y, x)`` vertices (pixels of the analysed level; objects
    centred outside every polygon dropped; :mod:`.region`): boxes stay in the image's pixels,
    the labels cover the region's bounding box from ``Detections.origin``.
    """
    gen = iter_detect_cells(image, detector=detector, tile_size=tile_size, overlap=overlap, level=level,
                            keep_labels=keep_labels, diameter=diameter, size_model=size_model, stain=stain,
                            diameter_um=diameter_um, pixel_size=pixel_size, region=region, **options)
    return run_tiles(gen, progress=progress, cancel=cancel, what="detection")
