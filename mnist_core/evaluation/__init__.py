"""Evaluation of a run on its test set.

- :mod:`.statistics`: pure statistics of predictions (caret's, confusion matrix, mistakes,
  likely label errors); arrays in, numbers out.
- :mod:`.run_evaluation`: :func:`evaluate_run`, the whole evaluation of one run as a
  :class:`RunEvaluation`, shared by the page, the report and the CLI.
- :mod:`.tables`: the statistics as people read them (caret's names, NA, "< 1e-16").
- :mod:`.report`: the one-file HTML report of a :class:`RunEvaluation`.
"""

from mnist_core.evaluation.run_evaluation import RunEvaluation, evaluate_run, weights_note
from mnist_core.evaluation.statistics import (
    NORMALIZATIONS,
    OVERALL_STATISTICS,
    PER_CLASS_STATISTICS,
    ClassificationStats,
    classification_stats,
    confusion_matrix,
    likely_label_errors,
    mcnemar_p_value,
    mistakes,
    normalize,
)
from mnist_core.evaluation.tables import overall_table, per_class_table

__all__ = [
    "NORMALIZATIONS", "OVERALL_STATISTICS", "PER_CLASS_STATISTICS", "ClassificationStats",
    "RunEvaluation", "classification_stats", "confusion_matrix", "evaluate_run",
    "likely_label_errors", "mcnemar_p_value", "mistakes", "normalize", "overall_table",
    "per_class_table", "weights_note",
]  # fmt: skip
