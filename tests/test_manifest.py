from importlib.metadata import entry_points
from pathlib import Path

import npe2

import napari_cytoqa


def test_manifest_found_through_entry_point_and_valid():
    eps = [ep for ep in entry_points(group="napari.manifest") if ep.name == "napari-cytoqa"]
    assert eps, "napari.manifest entry point missing"
    manifest_path = Path(napari_cytoqa.__file__).parent / "napari.yaml"
    pm = npe2.PluginManifest.from_file(manifest_path)
    assert pm.name == "napari-cytoqa"
    assert {c.id for c in pm.contributions.commands} >= {"napari-cytoqa.get_reader",
                                                         "napari-cytoqa.qc_widget"}
    # every command resolves to an importable Python object
    for command in pm.contributions.commands:
        module, attr = command.python_name.split(":")
        mod = __import__(module, fromlist=[attr])
        assert callable(getattr(mod, attr)), command.python_name
