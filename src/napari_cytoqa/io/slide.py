"""Slides as lazy pyramids: :class:`Slide` and :func:`read_slide`."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._metadata import channel_names, pixel_size_um

log = logging.getLogger(__name__)

TIFF_SUFFIXES = (".tif", ".tiff", ".svs", ".ndpi")
PLAIN_SUFFIXES = (".png", ".jpg", ".jpeg")
SUFFIXES = TIFF_SUFFIXES + PLAIN_SUFFIXES


class SlideReadError(ValueError):
    """A file exists but cannot be read as a slide (corrupt, truncated, unsupported)."""


@dataclass
class Slide:
    """A slide: pyramid ``levels`` from full resolution down, as lazy arrays.

    Each level is ``(Y, X)`` or ``(Y, X, C)`` (``axes`` says which).
    ``pixel_size_um`` is ``(y, x)`` at level 0 when the file records it.
    """

    levels: list
    name: str
    pixel_size_um: tuple[float, float] | None = None
    axes: str = "YX"
    path: Path | None = None
    metadata: dict = field(default_factory=dict, repr=False)
    _handles: list = field(default_factory=list, repr=False)

    @property
    def shape(self) -> tuple:
        return tuple(self.levels[0].shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.levels[0].dtype)

    @property
    def rgb(self) -> bool:
        return self.axes.endswith("S") and self.shape[-1] in (3, 4)

    @property
    def multiscale(self) -> bool:
        return len(self.levels) > 1

    @property
    def downsamples(self) -> list[tuple[float, float]]:
        """``(dy, dx)`` of each level relative to level 0."""
        h, w = self.shape[:2]
        return [(h / lvl.shape[0], w / lvl.shape[1]) for lvl in self.levels]

    def scale(self, level: int = 0) -> tuple[float, float]:
        """Physical size of one pixel of ``level`` in µm (pixels when unknown)."""
        base = self.pixel_size_um or (1.0, 1.0)
        dy, dx = self.downsamples[level]
        return (base[0] * dy, base[1] * dx)

    @property
    def planes(self) -> tuple[int, ...]:
        """The sizes of the axes beside the image plane: leading ones (Z, T, C, …) and a trailing
        one of samples that are not RGB(A) (e.g. two channels); ``()`` for a gray or RGB image."""
        lead = tuple(self.shape[:len(self.axes) - 2 - self.axes.endswith("S")])
        return lead + ((self.shape[-1],) if self.axes.endswith("S") and not self.rgb else ())

    @property
    def plane_axes(self) -> str:
        """One letter per entry of :attr:`planes`: the leading axes (``Z``, ``T``, ``C`` …) and ``S``
        for trailing samples that are not RGB."""
        lead = self.axes[:len(self.axes) - 2 - self.axes.endswith("S")]
        return lead + ("S" if self.axes.endswith("S") and not self.rgb else "")

    @property
    def channel_plane(self) -> int | None:
        """The position in :attr:`planes` of the channel axis (``C``, else samples that are not
        RGB), which viewers show as one layer per channel; None when there is none."""
        axes = self.plane_axes
        return axes.index("C") if "C" in axes else axes.index("S") if "S" in axes else None

    def plane(self, index) -> "Slide":
        """The 2-D plane (gray or RGB) at ``index`` — an int, or one int per entry of
        :attr:`planes` — as a Slide of its own (lazy slices of every level, same pixel size;
        named ``<name>_plane<i>``). A gray or RGB image has no planes: ``index`` must then be
        ``()``. Raises ``ValueError`` naming the valid range."""
        from dataclasses import replace

        idx = (index,) if isinstance(index, (int, np.integer)) else tuple(index)
        if len(idx) != len(self.planes) or not all(isinstance(i, (int, np.integer)) for i in idx):
            raise ValueError(f"the planes have shape {self.planes} (axes {self.axes}): give one index per axis, "
                             f"got {index!r}")
        for i, n in zip(idx, self.planes):
            if not 0 <= i < n:
                raise ValueError(f"plane index {i} is outside 0-{n - 1} (axes {self.axes})")
        if not idx:
            return self
        trailing = self.axes.endswith("S") and not self.rgb
        lead = idx[:-1] if trailing else idx
        levels = [lv[lead + (Ellipsis,) + ((idx[-1],) if trailing else ())] for lv in self.levels]
        axes = self.axes[len(lead):-1] if trailing else self.axes[len(lead):]
        return replace(self, levels=levels, axes=axes, name=f"{self.name}_plane{'-'.join(map(str, idx))}",
                       _handles=self._handles)

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_slide(path) -> Slide:
    """Open a slide lazily: TIFF / OME-TIFF / SVS / NDPI pyramids, PNG and JPEG.

    Nothing of a tiled TIFF level is read until it is sliced, so a
    40,000 × 40,000 pyramid opens in well under a second.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    SlideReadError
        If the file is corrupt, truncated, empty or of an unsupported type.

    Examples
    --------
    >>> slide = read_slide("sample_data/slide_pyramid.ome.tif")  # doctest: +SKIP
    >>> [lvl.shape for lvl in slide.levels], slide.pixel_size_um  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise SlideReadError(f"{path} is a directory, not a slide file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SlideReadError(f"{path.name}: unsupported file type {suffix!r}; "
                             f"supported: {', '.join(SUFFIXES)}")
    if path.stat().st_size == 0:
        raise SlideReadError(f"{path.name} is empty (0 bytes)")
    if suffix in TIFF_SUFFIXES:
        if _is_tiff(path):
            return _read_tiff(path)
        try:  # a PNG or JPEG saved under a TIFF name
            return _read_plain(path)
        except SlideReadError as err:
            raise SlideReadError(f"{path.name}: not a TIFF file, nor a PNG or JPEG saved under a TIFF name") from err
    return _read_plain(path)


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _pillow_mode(path: Path) -> str | None:
    """The mode to decode a Pillow-readable file in, where its own would not be gray or RGB(A):
    CMYK (print JPEGs) and other colour spaces as RGB, gray/palette + alpha as RGBA."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            mode, info = im.mode, im.info
    except Exception:  # not a Pillow format: imageio picks its plugin
        return None
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return "RGB"
    if mode in ("LA", "La", "PA") or (mode == "P" and "transparency" in info):
        return "RGBA"
    return None


def _read_plain(path: Path) -> Slide:
    import imageio.v3 as iio

    mode = _pillow_mode(path)
    try:
        data = np.asarray(iio.imread(path, **({"plugin": "pillow", "mode": mode} if mode else {})))
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]  # not imageio's plugin advice
        raise SlideReadError(f"{path.name}: cannot decode image ({first})") from err
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        axes = "YXS"
    elif data.ndim == 2:
        axes = "YX"
    else:
        raise SlideReadError(f"{path.name}: unexpected image shape {data.shape}")
    return Slide([data], _name(path), None, axes, path,
                 {"format": path.suffix.lower().lstrip("."), "shapes": [data.shape]})


def _name(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _check_complete(tif, path: Path) -> None:
    size = path.stat().st_size
    for page in tif.pages:
        offsets, counts = page.dataoffsets, page.databytecounts
        if len(offsets) and max(o + c for o, c in zip(offsets, counts)) > size:
            raise SlideReadError(f"{path.name} is truncated: image data ends beyond the file's "
                                 f"{size} bytes")


def _normalise_axes(series) -> tuple[str, tuple]:
    """Squeeze singleton axes; return the kept axes and the indexer that drops the rest."""
    axes = series.axes
    keep = []
    index = []
    for ax, n in zip(axes, series.shape):
        if n == 1 and ax not in "YX":
            index.append(0)
        else:
            keep.append(ax)
            index.append(slice(None))
    return "".join(keep), tuple(index)


def _is_cmyk(series, axes: str) -> bool:
    """Photometric "separated" with the CMYK inkset (print TIFFs): four ink samples, maybe more."""
    import tifffile

    page = series.keyframe
    return (axes.endswith("S") and page.photometric == tifffile.PHOTOMETRIC.SEPARATED
            and page.samplesperpixel >= 4 and getattr(page, "inkset", 1) == 1)


def _cmyk_to_rgb(block: np.ndarray) -> np.ndarray:
    """Ink coverage to light, the naive (profile-free) way Pillow converts CMYK: R = (1 - C)(1 - K)…;
    extra samples (an alpha) are dropped."""
    top = float(np.iinfo(block.dtype).max) if block.dtype.kind in "ui" else 1.0
    ink = block[..., :4].astype(np.float32) / top
    rgb = (1.0 - ink[..., :3]) * (1.0 - ink[..., 3:4]) * top
    return (np.round(rgb) if block.dtype.kind in "ui" else rgb).astype(block.dtype)


def _read_tiff(path: Path) -> Slide:
    import dask.array as da
    import tifffile
    import zarr

    try:
        tif = tifffile.TiffFile(path)
    except Exception as err:
        raise SlideReadError(f"{path.name}: cannot open as TIFF ({err})") from err
    try:
        if not tif.series:
            raise SlideReadError(f"{path.name}: the TIFF holds no image")
        _check_complete(tif, path)
        series = tif.series[0]
        axes, index = _normalise_axes(series)
        levels = []
        for i in range(len(series.levels)):
            store = series.aszarr(level=i)
            arr = da.from_zarr(zarr.open(store, mode="r"))
            levels.append(arr[index] if any(not isinstance(ix, slice) for ix in index) else arr)
        if "S" in axes and not axes.endswith("S") and series.keyframe.photometric in (
                tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.SEPARATED):
            # planar colour (PlanarConfiguration 2): samples to the last axis, as contiguous files have them
            levels = [da.moveaxis(lv, axes.index("S"), -1) for lv in levels]
            axes = axes.replace("S", "") + "S"
        if _is_cmyk(series, axes):
            levels = [lv.map_blocks(_cmyk_to_rgb, chunks=lv.chunks[:-1] + ((3,),), dtype=lv.dtype)
                      for lv in (lv.rechunk({lv.ndim - 1: -1}) for lv in levels)]
        fmt = ("svs" if tif.is_svs else "ndpi" if tif.is_ndpi else
               "ome-tiff" if tif.is_ome else "tiff")
        meta = {"format": fmt, "axes": axes, "shapes": [tuple(lv.shape) for lv in levels],
                "description": (tif.pages[0].description or "")[:2000]}
        px = pixel_size_um(tif, series)
        names = channel_names(tif)
        if names:
            meta["channel_names"] = names
    except SlideReadError:
        tif.close()
        raise
    except Exception as err:
        tif.close()
        raise SlideReadError(f"{path.name}: unreadable TIFF structure ({err})") from err
    if axes not in ("YX", "YXS"):
        log.info("%s has axes %s; only YX and YXS images can be quality-checked", path.name, axes)
    return Slide(levels, _name(path), px, axes, path, meta, [tif])
