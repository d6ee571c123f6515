"""The statistics as people read them, for the page, the report and anyone else: caret's
names ("Pos Pred Value"), numbers as text (integers with thousands separators, ratios with
four decimals, p-values too small to print as "< 1e-16"), and "NA" where caret prints NA.

R prints such p-values as "< 2.2e-16" (below its machine epsilon); we print "< 1e-16", a
round bound that reads the same way. Both tables are plain strings, so whatever shows them
(a Streamlit dataframe, an HTML table) shows the same text.
"""

from __future__ import annotations

import math

import pandas as pd

from mnist_core.evaluation.statistics import ClassificationStats

__all__ = [
    "NA", "OVERALL_NAMES", "PER_CLASS_NAMES", "P_VALUE_FLOOR", "format_count",
    "format_p_value", "format_ratio", "mistake_caption", "overall_table", "per_class_table",
]  # fmt: skip

NA = "NA"
P_VALUE_FLOOR = 1e-16

# caret's print.confusionMatrix labels, in its order.
OVERALL_NAMES = {
    "accuracy": "Accuracy",
    "accuracy_ci": "95% CI",
    "no_information_rate": "No Information Rate",
    "p_value_acc_gt_nir": "P-Value [Acc > NIR]",
    "kappa": "Kappa",
    "mcnemar_p_value": "Mcnemar's Test P-Value",
    "n": "Test images",
    "mismatches": "Mismatches",
}
PER_CLASS_NAMES = {
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "pos_pred_value": "Pos Pred Value",
    "neg_pred_value": "Neg Pred Value",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "prevalence": "Prevalence",
    "detection_rate": "Detection Rate",
    "detection_prevalence": "Detection Prevalence",
    "balanced_accuracy": "Balanced Accuracy",
}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_ratio(value: float | None) -> str:
    """``0.9751``; NA for a missing value."""
    return NA if _missing(value) else f"{float(value):.4f}"


def format_count(value: int | None) -> str:
    """``10,000``; NA for a missing value."""
    return NA if _missing(value) else f"{int(value):,}"


def format_p_value(value: float | None) -> str:
    """Four significant digits (``0.001612``, ``3.2e-05``); ``< 1e-16`` below that; NA."""
    if _missing(value):
        return NA
    return f"< {P_VALUE_FLOOR:g}" if value < P_VALUE_FLOOR else f"{float(value):.4g}"


def mistake_caption(class_names, true: int, predicted: int, confidence: float) -> str:
    """``"7→1 97.6%"``: true→predicted and the probability of the prediction, to one decimal
    as the top-3 chart writes it (the page and the report caption mistakes alike)."""
    return f"{class_names[true]}→{class_names[predicted]} {confidence:.1%}"


def overall_table(stats: ClassificationStats) -> pd.DataFrame:
    """caret's "Overall Statistics" as text: one column ``Value``, indexed by caret's names."""
    o = stats.overall
    values = {
        "accuracy": format_ratio(o["accuracy"]),
        "accuracy_ci": f"({format_ratio(o['accuracy_ci_low'])}, {format_ratio(o['accuracy_ci_high'])})",
        "no_information_rate": format_ratio(o["no_information_rate"]),
        "p_value_acc_gt_nir": format_p_value(o["p_value_acc_gt_nir"]),
        "kappa": format_ratio(o["kappa"]),
        "mcnemar_p_value": format_p_value(o["mcnemar_p_value"]),
        "n": format_count(o["n"]),
        "mismatches": format_count(o["mismatches"]),
    }
    return pd.DataFrame({"Value": list(values.values())},
                        index=pd.Index([OVERALL_NAMES[k] for k in values], name="statistic"))  # fmt: skip


def per_class_table(stats: ClassificationStats) -> pd.DataFrame:
    """caret's "Statistics by Class" as text: a row per statistic (caret's names), a column
    per class, NA where a ratio is 0/0."""
    table = stats.per_class[list(PER_CLASS_NAMES)].T
    table = table.map(format_ratio)
    table.index = pd.Index(list(PER_CLASS_NAMES.values()), name="statistic")
    table.columns = pd.Index([str(c) for c in stats.per_class.index], name="class")
    return table
