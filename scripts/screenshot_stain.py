"""Screenshot of the Stain Transfer widget on the bundled sample smear (for docs/).

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot_stain.py docs/images
"""
import sys
from pathlib import Path

import napari
from _screenshots import run_and_wait

from napari_cytoqa._widgets.stain_widget import StainTransferWidget
from napari_cytoqa.synthetic import make_smear


def main(out="docs/images"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(show=False)
    viewer.window._qt_window.resize(1400, 850)
    source = viewer.add_image(make_smear((768, 768), stain="he", seed=10001).image, name="lab A (H&E-like)")
    widget = StainTransferWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Stain Transfer")
    widget.image.value = source
    run_and_wait(widget)
    viewer.grid.enabled = True
    viewer.reset_view()
    viewer.screenshot(str(out / "stain_window.png"), canvas_only=False)
    viewer.screenshot(str(out / "stain_canvas.png"), canvas_only=True)
    print("layers:", [layer.name for layer in viewer.layers], widget.status.value)
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
