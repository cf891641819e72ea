import pytest


@pytest.fixture
def docked(make_napari_viewer):
    """``docked(WidgetClass) -> (viewer, widget)``: a viewer with the widget in its dock."""
    def make(widget_class):
        viewer = make_napari_viewer()
        widget = widget_class(viewer)
        viewer.window.add_dock_widget(widget)
        return viewer, widget

    return make


@pytest.fixture
def run_job(qtbot):
    """``run_job(widget, timeout_ms)``: click the widget's run action and wait until its run button is
    enabled again — the worker has finished and its results are drawn."""
    def run(widget, timeout):
        widget.run()
        qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=timeout)

    return run


@pytest.fixture
def export(qtbot):
    """Click the widget's export button and wait until the worker that writes the files has finished."""
    def click(widget):
        widget.export_button.changed.emit(True)
        qtbot.waitUntil(lambda: widget.export_button.enabled, timeout=60000)

    return click
