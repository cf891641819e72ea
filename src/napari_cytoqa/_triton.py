"""Keeping triton out of a process that runs napari's OpenGL canvas (no Qt import here)."""
from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def avoid_triton_in_gui() -> None:
    """Keep torch from importing triton inside a running Qt application.

    torch's optimizers import ``torch._dynamo`` on first use, and so do torchvision's ``ops`` and
    ``models`` and ultralytics on import; dynamo imports triton, and triton's
    bundled LLVM crashes (segfault) when Mesa's llvmpipe — loaded by napari's OpenGL canvas —
    is already in the process (seen with torch 2.14 + triton 3.8 under Xvfb). We never use
    torch.compile, so inside a GUI triton is marked unavailable before dynamo is imported.
    """
    if "triton" in sys.modules or "torch._dynamo" in sys.modules:
        return
    qt = sys.modules.get("PyQt6.QtWidgets") or sys.modules.get("PyQt5.QtWidgets") \
        or sys.modules.get("PySide6.QtWidgets")
    if qt is not None and qt.QApplication.instance() is not None:
        sys.modules["triton"] = None  # makes `import triton` raise ImportError
        log.info("running inside a Qt application: triton disabled for this process")
