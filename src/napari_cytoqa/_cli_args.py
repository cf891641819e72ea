"""The ``cytoqa`` command line's arguments (:func:`build_parser`); the commands themselves are in
:mod:`napari_cytoqa.cli`."""
from __future__ import annotations

import argparse

from ._cli_parts import _overlap_arg, _pixel_size, diameter_arg, distance_arg, plane_arg, region_arg


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """The ``cytoqa`` argument parser; ``commands`` maps each sub-command (qc, stain, detect, models,
    sample-data) to the function that runs it (``args.func``)."""
    from .detection.detect import DENOISE_CHOICES, DETECTORS, ROUTINGS
    from .detection.stain_input import STAIN_CHOICES
    from .models.precision import FLOAT_PRECISIONS
    from .quality import METHODS
    from .quality.int8 import PRECISIONS
    from .tiling import WEIGHTINGS

    parser = argparse.ArgumentParser(prog="cytoqa", description="Quality control for cytology slides.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    qc = sub.add_parser("qc", help="tile-level quality check; writes CSV, JSON and an overlay PNG per image")
    qc.add_argument("images", nargs="+", help="TIFF/OME-TIFF/SVS/NDPI/PNG/JPEG files")
    qc.add_argument("--out", required=True, help="output directory")
    qc.add_argument("--tile-size", type=int, default=512)
    qc.add_argument("--level", type=int, default=0, help="pyramid level to analyse")
    qc.add_argument("--method", default="learned", choices=list(METHODS))
    qc.add_argument("--model", default=None, help="quality model name or alias (see `cytoqa models`)")
    qc.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, …")
    qc.add_argument("--weighting", default="rgb_var", choices=WEIGHTINGS)
    qc.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="of the quality network; auto: bfloat16 on CPUs with native bf16 (AMX / "
                         "AVX512-BF16), else float32; int8: quantized on the CPU, slightly less accurate")
    qc.add_argument("--pixel-size", type=_pixel_size, default=None, metavar="auto|UM",
                    help="judge finely sampled slides at the 0.5 um/px the checks were made for (tiles binned "
                         "2x at 0.25 um/px): 'auto' uses each file's recorded pixel size, a number (um per "
                         "pixel) applies to every image; default: analyse every image at its own pixels")
    qc.add_argument("--assume-cells", action="store_true",
                    help="these are cell images: skip the validity gate so every tile gets focus and grade "
                         "verdicts (p_valid is still reported); for real IHC (or H&E) sections the model misjudges")
    qc.add_argument("--no-stain-check", dest="stain_check", action="store_false",
                    help="judge 'cell image or not' by the network alone; by default an H&E section by its colour "
                         "(purple and pink stain) counts as a cell image where the network is unsure")
    qc.add_argument("--compose", action="store_true",
                    help="with --plane all: also write <name>_sharpest.tif for each single-axis stack (a focus "
                         "series), each tile taken from its sharpest plane, blended in a narrow band at the tile "
                         "borders")
    qc.add_argument("--truth", default=None, metavar="auto|FOLDER|FILE",
                    help="score the tiles' sharp/blurry verdicts against areas marked on the image (GeoJSON in "
                         "level-0 pixels, e.g. out-of-focus areas outlined in QuPath or napari: tiles inside are "
                         "blurry, the rest sharp; or areas classified sharp/blurry; or a mask image, .tif or .png, "
                         "not 0 where blurry): auto = <name>_blurry.geojson (or .png, .tif) beside the image, a "
                         "folder of <image>.geojson or such files, or one file; adds truth_tiles, focus_accuracy, "
                         "blurry_recall and sharp_recall to summary.csv")
    qc.add_argument("--quiet", action="store_true")
    qc.set_defaults(func=commands["qc"])
    st = sub.add_parser("stain", help="stain transfer (CycleGAN, Macenko, Reinhard); writes one image per input")
    st.add_argument("images", nargs="+")
    st.add_argument("--out", required=True, help="output directory")
    st.add_argument("--method", default="cyclegan", choices=["cyclegan", "macenko", "reinhard"])
    st.add_argument("--model", default=None, help="CycleGAN model (see `cytoqa models --task stain`)")
    st.add_argument("--checkpoint", default=None, help="one of the model's epoch checkpoints")
    st.add_argument("--reference", default=None, help="reference image whose stain is the target (classical)")
    st.add_argument("--target", default=None, help="stored target statistics (JSON) instead of --reference")
    st.add_argument("--level", type=int, default=0)
    st.add_argument("--device", default="auto")
    st.add_argument("--precision", default="fp32", choices=FLOAT_PRECISIONS,
                    help="of the CycleGAN: bf16 is ~3x faster on CPUs with native bf16, within a few grey levels")
    st.add_argument("--format", default="auto", choices=["auto", "png", "tif"],
                    help="auto: PNG for 8-bit images up to 8192², else pyramidal OME-TIFF")
    st.add_argument("--quiet", action="store_true")
    st.set_defaults(func=commands["stain"])
    dt = sub.add_parser("detect", help="cell detection; writes boxes as CSV and GeoJSON per image")
    dt.add_argument("images", nargs="+")
    dt.add_argument("--out", required=True, help="output directory")
    dt.add_argument("--detector", default="unet", choices=list(DETECTORS))
    dt.add_argument("--routing", default="combined", choices=list(ROUTINGS))
    dt.add_argument("--model", default=None, help="registry model name (default: by detector and routing)")
    dt.add_argument("--sharp-model", default=None,
                    help="with --routing blur: the model for in-focus tiles (default or auto: the shipped sharp "
                         "model, or the over-exposure-trained one for images that look over-exposed)")
    dt.add_argument("--blurry-model", default=None, help="with --routing blur: the model for blurry tiles")
    dt.add_argument("--threshold", type=float, default=None,
                    help="foreground probability (U-Net) or confidence (YOLO); default: the model's own")
    dt.add_argument("--diameter", type=diameter_arg, default=None,
                    help='typical cell diameter in pixels, in µm with a unit (e.g. 8um: converted with the '
                         'pixel size the file records, or --pixel-size), or "auto" to measure it per image '
                         "(default: as trained, 16 px at 0.5 µm/px)")
    dt.add_argument("--pixel-size", type=_pixel_size, default="auto", metavar="auto|UM",
                    help="µm per pixel of level 0, for a --diameter in µm and the area in mm² in summary.csv "
                         "(default auto: the file's own)")
    dt.add_argument("--size-model", default="cytoqa-unet-combined",
                    help='with --diameter auto: the U-Net that measures the cell size (default %(default)s; '
                         'cytoqa-unet-combined-r4 was closer on held-out synthetic scenes, docs/detection.md)')
    dt.add_argument("--stain", default="none", choices=list(STAIN_CHOICES),
                    help="auto: stained tissue sections (H&E) are read through their hematoxylin channel, the "
                         "nuclei; hematoxylin: always (RGB only); none (default): the image as it is "
                         "(docs/detection.md, rule H)")
    dt.add_argument("--region", type=region_arg, default=None, metavar="Y0,X0,Y1,X1|FILE.geojson",
                    help="detect only in this box (level-0 pixels) or in the rectangles and polygons of a GeoJSON "
                         "file (e.g. regions drawn in QuPath; on a stack those on the --plane and those with none); "
                         "CSV and GeoJSON stay in the image's coordinates, --labels writes the label image of the "
                         "whole level, zero outside the region")
    dt.add_argument("--truth", default=None, metavar="auto|FOLDER|FILE",
                    help="score each image against its annotated cells (GeoJSON in level-0 pixels, e.g. a QuPath "
                         "export; boxes around its rectangles and polygons, or, in a file of points only, a point in "
                         "a box; or a label image / mask, .tif or .png, the boxes of its instances): auto = the "
                         "GeoJSON beside the image (slide.svs.geojson or slide.geojson), else <name>_labels.tif or "
                         "<name>_mask.png …; a folder of such files, or of masks named like the images; or one "
                         "file; adds truth_cells, truth_kind, ap50, precision, recall, f1, tp, fp, fn, count_ape "
                         "and the mistakes by kind (split_cells, merged_boxes, extra_boxes, missed_cells, "
                         "loose_cells) to summary.csv")
    dt.add_argument("--tile-size", type=int, default=512)
    dt.add_argument("--overlap", type=_overlap_arg, default="auto",
                    help="of neighbouring tiles, in pixels; auto (default): 64, or 1.5 cell diameters for cells "
                         "larger than ~43 px, the tile grown to hold three overlaps")
    dt.add_argument("--level", type=int, default=0)
    dt.add_argument("--device", default="auto")
    dt.add_argument("--precision", default=None, choices=FLOAT_PRECISIONS,
                    help="of the networks (default: detectors float32, focus model auto); bf16 is ~2x "
                         "faster for the U-Net, a little less accurate; auto: bf16 where the CPU has it natively")
    dt.add_argument("--denoise", default=None, choices=list(DENOISE_CHOICES),
                    help="smooth tiles noisier than the training images first: on (every model), off, or auto "
                         "(the sharp U-Net only); default: detect_cells' default (see docs/detection.md)")
    dt.add_argument("--tta", default=None, choices=["on", "off"],
                    help="run each tile and its 3 mirror images (4x the network time) and average: the U-Net's "
                         "maps, YOLO's boxes (weighted box fusion); default: detect_cells' default (see "
                         "docs/detection.md, mirror-image averaging)")
    dt.add_argument("--merge", default=None, choices=["on", "off"],
                    help="U-Net: join touching instances that are pieces of one cell (a shared border 1.3x as long "
                         "as the smaller is wide, through a high centre map, or a centre map that barely dips "
                         "between them); default: detect_cells' default, on (docs/detection.md, rules J2 and W)")
    dt.add_argument("--min-score", type=float, default=None,
                    help="keep only objects scoring at least this (0-1; default: all): fewer specks and dust in "
                         "the count, a few true cells lost (docs/detection.md, counting confident objects)")
    dt.add_argument("--labels", action="store_true",
                    help="also write the instance label image (<name>_labels.tif, U-Net and Otsu; up to 100 Mpx "
                         "of the analysed level). The CSV gives each cell's area and equivalent diameter either "
                         "way (in µm too where the file gives the pixel size), the GeoJSON its outline")
    dt.add_argument("--qupath-cells", type=distance_arg, default=None, metavar="DIST|DISTum",
                    help="write the cells GeoJSON as QuPath cell objects: each nucleus (U-Net, Otsu) grown by this "
                         "distance into the background, without crossing a neighbour's (e.g. 5um, QuPath's cell "
                         "expansion; or level-0 pixels), the nucleus outline inside it")
    dt.add_argument("--quiet", action="store_true")
    dt.set_defaults(func=commands["detect"])
    for sp in (qc, st, dt):
        sp.add_argument("--plane", type=plane_arg, default=None, metavar="K[,K...]|all",
                        help="of a stack (Z, time, channels): the 2-D plane to analyse, one index per axis, or "
                             "all: every plane, one summary row each (gray and RGB images ignore it)")
    md = sub.add_parser("models", help="list the models in the registry")
    md.add_argument("--task", default=None)
    md.set_defaults(func=commands["models"])
    sd = sub.add_parser("sample-data", help="write the synthetic sample images")
    sd.add_argument("--out", default="sample_data")
    sd.set_defaults(func=commands["sample-data"])
    return parser
