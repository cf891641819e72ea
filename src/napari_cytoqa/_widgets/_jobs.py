"""Running core generators off the GUI thread with a napari progress bar and a Stop button."""
from __future__ import annotations

from napari.utils import progress as napari_progress
from napari.utils.notifications import notification_manager, show_error, show_info
from superqt.utils import create_worker  # napari's worker minus its automatic error relay

from .._layers import displayed_plane, layer_levels


def _drive(gen_factory):
    return (yield from gen_factory())


def start_job(gen_factory, *, description: str, on_done, on_error=None, on_abort=None,
              buttons=(), stop_button=None, on_finish=None):
    """Run ``gen_factory()`` (a generator yielding ``(done, total)`` and returning a result)
    in a worker thread. ``on_done(result)``, ``on_error(exc)`` and ``on_abort()`` run on
    the GUI thread (connected before the thread starts). Run buttons are disabled while
    the job runs; ``stop_button`` quits it between steps. ``on_finish()`` runs last, however the
    job ended, after the buttons are enabled again (e.g. to disable those with nothing to act on)."""
    worker = create_worker(_drive, gen_factory, _start_thread=False, _ignore_errors=True)
    bar = napari_progress(total=0, desc=description)

    def on_yield(value):
        done, total = value
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def report_error(err):
        if on_error is not None:
            on_error(err)
        if isinstance(err, (ValueError, OSError)):  # bad input: a clear message is enough
            show_error(f"{description} failed: {err}")
        else:  # a bug: napari's notification with the traceback
            notification_manager.receive_error(type(err), err, err.__traceback__)

    def finish():
        bar.close()
        for b in buttons:
            b.enabled = True
        if stop_button is not None:
            stop_button.enabled = False
            stop_button.changed.disconnect(worker.quit)
        if on_finish is not None:
            on_finish()

    worker.yielded.connect(on_yield)
    worker.returned.connect(on_done)
    worker.errored.connect(report_error)
    worker.aborted.connect(lambda: show_info(f"{description} stopped"))
    if on_abort is not None:
        worker.aborted.connect(on_abort)
    worker.finished.connect(finish)
    for b in buttons:
        b.enabled = False
    if stop_button is not None:
        stop_button.enabled = True
        stop_button.changed.connect(worker.quit)
    worker.start()
    return worker


def start_layer_job(widget, layer, job, options: dict, *, what: str, status, on_done, running: str = "running…",
                    buttons=None, on_finish=None):
    """The widgets' common Run step: ``job(levels, **options)`` (a core generator twin) on the
    plane of ``layer`` the viewer shows, ``options["level"]`` clamped to its pyramid, in a worker
    (``widget.worker``) wired to ``widget.run_button`` / ``widget.stop_button``; ``status`` (a
    label) reads ``running`` / failed / stopped. ``on_done(result, plane, level)`` runs on the
    GUI thread; ``buttons`` (default: the run button) are disabled meanwhile, then ``on_finish()`` runs
    (see :func:`start_job`). Returns the options used."""
    plane = displayed_plane(layer, widget._viewer)  # of a stack: the plane on screen
    levels = layer_levels(layer, plane)
    options = {**options, "level": min(options.get("level", 0), len(levels) - 1)}
    status.value = running
    widget.worker = start_job(lambda: job(levels, **options), description=f"{what} {layer.name}",
                              on_done=lambda result: on_done(result, plane, options["level"]),
                              on_error=lambda err: setattr(status, "value", "failed"),
                              on_abort=lambda: setattr(status, "value", "stopped"),
                              buttons=buttons or (widget.run_button,), stop_button=widget.stop_button,
                              on_finish=on_finish)
    return options
