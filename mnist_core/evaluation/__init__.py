"""Evaluation of a run on its test set: statistics, confusion matrix, mistakes, label
errors (``statistics``), the whole evaluation of a run (``run_evaluation``), the report."""

from mnist_core.evaluation.statistics import (
    NORMALIZATIONS,
    classification_stats,
    confusion_matrix,
    likely_label_errors,
    mistakes,
    normalize,
    run_predictions,
)

__all__ = [
    "NORMALIZATIONS", "classification_stats", "confusion_matrix", "likely_label_errors",
    "mistakes", "normalize", "run_predictions",
]  # fmt: skip
