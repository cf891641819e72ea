"""Writing files whole: a failed, interrupted or cancelled write leaves the old file (or none),
never a partial one. Every writer of models, tables, GeoJSON and images goes through here."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (same folder, so the rename is atomic),
    then rename it to ``path``; the temporary file is removed if ``write`` raises. Creates the folder.
    Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
