"""Shared by the screenshot scripts: run a dock widget's job and wait for it without a shown window."""
import time

from qtpy.QtWidgets import QApplication


def run_and_wait(widget, timeout=600, action=None):
    """Click the widget's run action (or call ``action``, another of its buttons' methods), process Qt
    events until its worker has finished, then let the results draw."""
    (action or widget.run)()
    done = []
    widget.worker.finished.connect(lambda: done.append(True))
    start = time.time()
    while not done and time.time() - start < timeout:
        QApplication.processEvents()
        time.sleep(0.02)
    for _ in range(20):
        QApplication.processEvents()
