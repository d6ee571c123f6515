"""Evaluation of a classifier's test-set predictions: caret-style statistics, confusion
matrices, mistakes and likely label errors. Arrays in, numbers out: nothing here reads a
file (:mod:`mnist_core.evaluation.run_evaluation` reads a run). NumPy, pandas, SciPy only.

:func:`classification_stats` follows R caret's ``confusionMatrix(mode = "everything")``:
overall accuracy with its exact (Clopper–Pearson) 95 % interval, the no-information rate
and the one-sided binomial p-value of accuracy > NIR, Cohen's kappa, McNemar's test; and
per class, one-vs-all, sensitivity, specificity, predictive values, precision, recall, F1,
prevalence, detection rate and prevalence, balanced accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "NORMALIZATIONS",
    "OVERALL_STATISTICS",
    "PER_CLASS_STATISTICS",
    "ClassificationStats",
    "classification_stats",
    "confusion_matrix",
    "likely_label_errors",
    "mcnemar_p_value",
    "mistakes",
    "normalize",
]

NORMALIZATIONS = ("true", "pred", "all", "none")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int) -> np.ndarray:
    """Counts of shape (n_classes, n_classes): rows are true classes, columns predictions."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred differ in length: {len(y_true)} labels, {len(y_pred)} predictions."
        )
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def normalize(matrix: np.ndarray, how: str) -> np.ndarray:
    """Shares of a confusion matrix: by true class (rows sum to 1), by predicted class
    (columns sum to 1), of all, or ``"none"`` (the counts as floats). Empty rows/columns
    give 0."""
    if how not in NORMALIZATIONS:
        raise ValueError(f"Unknown normalization {how!r}; pass one of {', '.join(NORMALIZATIONS)}.")
    m = matrix.astype(np.float64)
    if how == "none":
        return m
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "true":
            out = m / m.sum(axis=1, keepdims=True)
        elif how == "pred":
            out = m / m.sum(axis=0, keepdims=True)
        else:
            out = m / m.sum()
    return np.nan_to_num(out)


@dataclass(frozen=True, eq=False)
class ClassificationStats:
    """What :func:`classification_stats` computes.

    Attributes:
        overall: ``accuracy``, ``accuracy_ci_low``, ``accuracy_ci_high`` (exact 95 %
            interval), ``no_information_rate``, ``p_value_acc_gt_nir``, ``kappa``,
            ``mcnemar_p_value`` (NaN where R gives NA), ``n`` and ``mismatches`` (ints).
        per_class: DataFrame indexed by class name, one column per statistic of
            :data:`PER_CLASS_STATISTICS`; NaN where a ratio is 0/0 (caret's NA).
        confusion: int ndarray of shape (k, k), rows true classes, columns predictions.
    """

    overall: dict[str, float | int]
    per_class: pd.DataFrame
    confusion: np.ndarray


OVERALL_STATISTICS = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "no_information_rate",
                      "p_value_acc_gt_nir", "kappa", "mcnemar_p_value", "n", "mismatches")  # fmt: skip
PER_CLASS_STATISTICS = ("sensitivity", "specificity", "pos_pred_value", "neg_pred_value",
                        "precision", "recall", "f1", "prevalence", "detection_rate",
                        "detection_prevalence", "balanced_accuracy")  # fmt: skip


def classification_stats(
    y_true: np.ndarray, y_pred: np.ndarray, *, class_names: tuple[str, ...] | None = None
) -> ClassificationStats:
    """caret's ``confusionMatrix(data = y_pred, reference = y_true, mode = "everything")``.

    Args:
        y_true: int ndarray of shape (n,), the given labels.
        y_pred: int ndarray of shape (n,), the predicted labels.
        class_names: names by label (default: the labels as text); there are at least as
            many classes as names.
    """
    from scipy import stats

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n_classes = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    if class_names is not None:
        n_classes = max(n_classes, len(class_names))
    names = [str(c) for c in class_names] if class_names is not None else []
    names += [str(i) for i in range(len(names), n_classes)]
    cm = confusion_matrix(y_true, y_pred, n_classes=n_classes)
    n = int(cm.sum())
    correct = int(np.trace(cm))
    accuracy = correct / n if n else float("nan")
    # Exact (Clopper-Pearson) interval, as R's binom.test gives it.
    alpha = 0.05
    low = stats.beta.ppf(alpha / 2, correct, n - correct + 1) if correct > 0 else 0.0
    high = stats.beta.ppf(1 - alpha / 2, correct + 1, n - correct) if correct < n else 1.0
    reference_counts = cm.sum(axis=1)  # true-class counts: caret's column sums
    predicted_counts = cm.sum(axis=0)
    nir = reference_counts.max() / n if n else float("nan")
    # One-sided binomial test of accuracy > NIR: P(X >= correct), X ~ Bin(n, NIR).
    p_value = float(stats.binom.sf(correct - 1, n, nir)) if n else float("nan")
    expected = float(np.dot(reference_counts, predicted_counts)) / n**2 if n else float("nan")
    kappa = (accuracy - expected) / (1 - expected) if expected != 1 else float("nan")
    overall = {
        "accuracy": accuracy,
        "accuracy_ci_low": float(low),
        "accuracy_ci_high": float(high),
        "no_information_rate": float(nir),
        "p_value_acc_gt_nir": p_value,
        "kappa": float(kappa),
        "mcnemar_p_value": mcnemar_p_value(cm),
        "n": n,
        "mismatches": n - correct,
    }

    tp = np.diag(cm).astype(np.float64)
    fn = reference_counts - tp
    fp = predicted_counts - tp
    tn = n - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = tp / (tp + fn)
        specificity = tn / (tn + fp)
        ppv = tp / (tp + fp)
        npv = tn / (tn + fn)
        f1 = 2 * ppv * sensitivity / (ppv + sensitivity)
    per_class = pd.DataFrame(
        {
            "sensitivity": sensitivity,
            "specificity": specificity,
            "pos_pred_value": ppv,
            "neg_pred_value": npv,
            "precision": ppv,
            "recall": sensitivity,
            "f1": f1,
            "prevalence": (tp + fn) / n,
            "detection_rate": tp / n,
            "detection_prevalence": (tp + fp) / n,
            "balanced_accuracy": (sensitivity + specificity) / 2,
        },
        index=pd.Index(names, name="class"),
    )
    return ClassificationStats(overall=overall, per_class=per_class, confusion=cm)


def mcnemar_p_value(matrix: np.ndarray) -> float:
    """R's ``mcnemar.test(matrix)$p.value`` (Bowker's symmetry test beyond two classes, with
    the continuity correction for two), as caret reports it. NaN, R's NA, when a pair of
    classes is never confused either way (0/0) or there is only one class."""
    from scipy import stats

    k = len(matrix)
    if k < 2:
        return float("nan")
    m = np.asarray(matrix, dtype=np.float64)
    diff = m - m.T
    if k == 2 and np.any(diff != 0):
        diff = np.abs(diff) - 1
    upper = np.triu_indices(k, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = float(np.sum(diff[upper] ** 2 / (m + m.T)[upper]))
    if not np.isfinite(statistic):
        return float("nan")
    return float(stats.chi2.sf(statistic, k * (k - 1) / 2))


def mistakes(y_true: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """Every misclassified example, most confident mistakes first.

    Returns a DataFrame with columns ``index`` (position in the test set), ``true``,
    ``predicted`` and ``confidence`` (the probability of the predicted class).
    """
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    frame = pd.DataFrame({
        "index": wrong, "true": y_true[wrong], "predicted": predicted[wrong],
        "confidence": probabilities[wrong, predicted[wrong]],
    })  # fmt: skip
    return frame.sort_values(["confidence", "index"], ascending=[False, True], ignore_index=True)


def likely_label_errors(y_true: np.ndarray, probabilities: np.ndarray, *, top: int = 50) -> pd.DataFrame:
    """The examples whose given label the model finds least likely (self-confidence
    ranking, as cleanlab's ``rank_by_self_confidence``), among those it disagrees with.

    Returns columns ``index``, ``given``, ``model_says``, ``p_given`` (the probability of the
    given label) and ``p_model`` (of the model's label), lowest ``p_given`` first.
    """
    self_confidence = probabilities[np.arange(len(y_true)), y_true]
    predicted = probabilities.argmax(axis=1)
    candidates = np.flatnonzero(predicted != y_true)
    order = candidates[np.lexsort((candidates, self_confidence[candidates]))][:top]
    return pd.DataFrame({
        "index": order, "given": y_true[order], "model_says": predicted[order],
        "p_given": self_confidence[order], "p_model": probabilities[order, predicted[order]],
    })  # fmt: skip
