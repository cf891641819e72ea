"""Quality checks: per-tile focus, content, validity and grade, aggregated per slide (no Qt)."""
from .assess import METHODS, Cancelled, assess_quality, check_image, iter_assess_quality
from .calibration import GRADES
from .report import VERDICTS, QualityReport

__all__ = ["GRADES", "METHODS", "VERDICTS", "Cancelled", "QualityReport", "assess_quality",
           "check_image", "iter_assess_quality"]
