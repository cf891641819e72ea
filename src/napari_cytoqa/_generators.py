"""Driving the generator twins (``iter_*``) of the core's long jobs to their result."""
from __future__ import annotations


def run_generator(gen, *, on_yield=None, cancel=None, cancelled=None):
    """Exhaust ``gen`` and return its return value (``StopIteration.value``).

    ``on_yield(item)`` runs after each yielded item; ``cancel()`` is polled after each — when it
    returns True the generator is closed (stopping its work) and ``cancelled(item)``, an
    exception, is raised.
    """
    try:
        while True:
            item = next(gen)
            if on_yield is not None:
                on_yield(item)
            if cancel is not None and cancel():
                gen.close()
                raise cancelled(item)
    except StopIteration as stop:
        return stop.value


def run_tiles(gen, *, progress=None, cancel=None, what: str = "job"):
    """:func:`run_generator` for jobs yielding ``(done, total)`` tiles: ``progress(done, total)``,
    and :class:`~napari_cytoqa.quality.assess.Cancelled` naming ``what`` on cancellation."""
    from .quality.assess import Cancelled

    return run_generator(gen, on_yield=None if progress is None else (lambda item: progress(*item)), cancel=cancel,
                         cancelled=lambda item: Cancelled(f"{what} cancelled after {item[0]} of {item[1]} tiles"))
