"""Cell detection: metrics, instance separation, tile merging and ``detect_cells`` (GUI-free)."""
from .detect import DETECTORS, Detections, detect_cells, iter_detect_cells
from .errors import ErrorKinds, error_kinds
from .instances import boxes_from_labels, otsu_watershed, polarity_of, split_instances
from .merge import merge_boxes, merge_labels, nms, owner_of
from .metrics import DetectionScores, average_precision, box_iou, count_ape, evaluate_detections, match, pixel_scores
from .planes import PlaneDetections, detect_planes, iter_detect_planes
from .size import estimate_diameter

__all__ = ["DETECTORS", "DetectionScores", "Detections", "PlaneDetections", "average_precision", "box_iou",
           "ErrorKinds", "boxes_from_labels", "count_ape", "detect_cells", "detect_planes", "error_kinds",
           "estimate_diameter",
           "evaluate_detections", "iter_detect_cells", "iter_detect_planes", "match",
           "merge_boxes", "merge_labels", "nms", "otsu_watershed", "owner_of", "pixel_scores", "polarity_of",
           "split_instances"]
