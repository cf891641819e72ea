"""``report.html``: one page over a batch of quality checks — each image's verdict, grade, blur level
and tile counts beside its overlay picture, the problems first (no Qt, no network: plain HTML)."""
from __future__ import annotations

import math
from html import escape
from pathlib import Path

from .._files import atomic_write
from .render import VERDICT_COLORS

#: Order of the rows: what needs a look first.
_ORDER = {"error": 0, "invalid": 1, "blurry": 2, "empty": 3, "sharp": 4}
_COLUMNS = (("verdict", "verdict"), ("grade", "grade"), ("blur_level", "blur level"), ("p_blurry", "p blurry"),
            ("p_valid", "p valid"), ("tiles_sharp", "sharp"), ("tiles_blurry", "blurry"), ("tiles_empty", "empty"),
            ("tiles_invalid", "invalid"))


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else escape(str(value))


def _blurry_share(row) -> float:
    """The share of an image's tiles called blurry (0 where unknown): within a verdict, most first."""
    n = sum(float(row.get(f"tiles_{k}") or 0) for k in ("sharp", "blurry", "empty", "invalid"))
    return float(row.get("tiles_blurry") or 0) / n if n else 0.0


def _notes(row) -> str:
    """Under the image's name: its comparison with marked areas (``cytoqa qc --truth``) and its
    warnings (e.g. judged at its own pixels where binning was due)."""
    notes = []
    if row.get("truth_tiles"):
        notes.append(f"vs {int(row['truth_tiles'])} marked tiles: accuracy {_cell(row.get('focus_accuracy'))}")
    notes += [w for w in str(row.get("warnings") or "").split(" | ") if w]
    return "".join(f"<br><small>{escape(n)}</small>" for n in notes)


def write_html(path, rows, pictures=None, *, title: str = "CytoQA quality check") -> Path:
    """Write the page: ``rows`` are the summary rows of ``cytoqa qc`` (``image``, the slide summary's
    fields, ``tiles_*`` and ``error``); ``pictures`` maps an image to its overlay file (linked by its
    path relative to the page). Rows with an error, then invalid, blurry, empty and sharp images;
    within each, the larger share of blurry tiles first."""
    path = Path(path)
    pictures = pictures or {}
    counts = {}
    for row in rows:
        key = "error" if row.get("error") else row.get("verdict", "error")
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(rows, key=lambda r: (_ORDER.get("error" if r.get("error") else r.get("verdict"), 0),
                                          -_blurry_share(r)))
    colours = {k: "#%02x%02x%02x" % v[:3] for k, v in VERDICT_COLORS.items()} | {"error": "#7f8c8d"}
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{escape(title)}</title>",
           "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
           "img{width:240px;height:auto}.v{color:#fff;padding:2px 6px;border-radius:3px}</style></head><body>",
           f"<h1>{escape(title)}</h1>",
           "<p>" + " · ".join(f"<span class='v' style='background:{colours.get(k, '#555')}'>{escape(k)}</span> {n}"
                              for k, n in sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 0))) + "</p>",
           "<table><tr><th>overlay</th><th>image</th>" + "".join(f"<th>{h}</th>" for _, h in _COLUMNS) + "</tr>"]
    for row in ordered:
        image = str(row.get("image", ""))
        picture = pictures.get(image)
        img = (f"<a href='{escape(picture)}'><img src='{escape(picture)}' loading='lazy' alt=''></a>"
               if picture else "")
        if row.get("error"):
            cells = f"<td colspan='{len(_COLUMNS)}'><span class='v' style='background:{colours['error']}'>error</span> " \
                    f"{escape(str(row['error']))}</td>"
        else:
            verdict = str(row.get("verdict", ""))
            cells = f"<td><span class='v' style='background:{colours.get(verdict, '#555')}'>{escape(verdict)}</span></td>"
            cells += "".join(f"<td>{_cell(row.get(k))}</td>" for k, _ in _COLUMNS[1:])
        out.append(f"<tr><td>{img}</td><td>{escape(image)}{_notes(row)}</td>{cells}</tr>")
    out.append("</table></body></html>")
    return atomic_write(path, lambda tmp: Path(tmp).write_text("\n".join(out), encoding="utf-8"))
