"""Training engine (no Qt): group-aware splits, metrics, early-stopped seeded fitting."""
from .engine import FitConfig, FitResult, TrainingCancelled, fit, iter_fit, seed_everything
from .metrics import binary_metrics, confusion_matrix, multiclass_metrics, roc_auc
from .splits import group_kfold, group_split

__all__ = ["FitConfig", "FitResult", "TrainingCancelled", "binary_metrics", "confusion_matrix",
           "fit", "group_kfold", "group_split", "iter_fit", "multiclass_metrics", "roc_auc",
           "seed_everything"]
