"""The widgets' "compare with" box: an optional layer of marks (annotated cells, areas marked blurry)."""
from __future__ import annotations

from typing import Optional

import napari
from magicgui.widgets import create_widget


def compare_box(kinds: tuple, tooltip: str, *, skip: tuple = ()):
    """A "compare with" box offering the viewer's layers of the types ``kinds``, except those whose
    metadata has a key of ``skip`` (our own results), or none."""
    from napari.utils._magicgui import find_viewer_ancestor

    def choices(gui) -> list:
        viewer = find_viewer_ancestor(gui.native)
        return [x for x in viewer.layers if isinstance(x, kinds) and not any(k in x.metadata for k in skip)] \
            if viewer else []

    return create_widget(annotation=Optional[napari.layers.Layer], label="compare with",  # noqa: UP045
                         options={"choices": choices, "tooltip": tooltip})
