"""Quality checks: per-tile focus, content, validity and grade, aggregated per slide (no Qt)."""
from .assess import METHODS, Cancelled, assess_quality, check_image, iter_assess_quality
from .calibration import GRADES
from .compose import compose_sharpest, iter_compose_sharpest
from .planes import PlaneSeries, assess_planes, iter_assess_planes
from .report import VERDICTS, QualityReport

__all__ = ["GRADES", "METHODS", "VERDICTS", "Cancelled", "PlaneSeries", "QualityReport", "assess_planes",
           "assess_quality", "check_image", "compose_sharpest", "iter_assess_planes", "iter_assess_quality",
           "iter_compose_sharpest"]
