"""The whole evaluation of one run, computed once: :func:`evaluate_run` reads the run
through its :class:`~mnist_core.runs.RunRecord` and returns a :class:`RunEvaluation`.

Computation apart from drawing, as scikit-learn keeps ``confusion_matrix`` apart from
``ConfusionMatrixDisplay``: the Evaluation page, the HTML report and
``python -m mnist_core evaluate`` all draw or print the same object, so they show the same
numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mnist_core.evaluation.statistics import (
    ClassificationStats,
    classification_stats,
    likely_label_errors,
    mistakes,
)

if TYPE_CHECKING:
    from mnist_core.data import Dataset
    from mnist_core.runs import RunRecord

__all__ = ["CURVE_EVENTS", "RunEvaluation", "evaluate_run", "weights_note"]

# The events a run's training curves are drawn from.
CURVE_EVENTS = ("train_begin", "batch", "epoch")


@dataclass(frozen=True, eq=False)
class RunEvaluation:
    """How a run does on its dataset's test split.

    Attributes:
        run: the run, as its folder described it when evaluated.
        dataset: the dataset the run was trained on (its test split is what was predicted).
        class_names: names by label.
        probabilities: float ndarray of shape (n_test, n_classes), the run's predictions.
        y_true: int ndarray of shape (n_test,), the given labels.
        y_pred: int ndarray of shape (n_test,), the most probable class of each.
        stats: caret's statistics, overall and per class, and the confusion matrix.
        mistakes: every misclassified test image, most confident first (see
            :func:`~mnist_core.evaluation.mistakes`).
        label_errors: the likeliest label errors (see
            :func:`~mnist_core.evaluation.likely_label_errors`).
        curves: the run's training events (``train_begin``, ``batch``, ``epoch``) in order;
            empty for a model without epochs.
    """

    run: RunRecord
    dataset: Dataset
    class_names: tuple[str, ...]
    probabilities: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    stats: ClassificationStats
    mistakes: pd.DataFrame
    label_errors: pd.DataFrame
    curves: tuple[dict, ...]

    @property
    def overall(self) -> dict[str, float | int]:
        return self.stats.overall

    @property
    def per_class(self) -> pd.DataFrame:
        return self.stats.per_class

    @property
    def confusion(self) -> np.ndarray:
        return self.stats.confusion

    @property
    def weights(self) -> str:
        """Which model was evaluated, for people (see :func:`weights_note`)."""
        return weights_note(self.run)

    def to_json(self) -> dict:
        """The numbers, as ``python -m mnist_core evaluate`` prints them: the run, the overall
        statistics (NaN as null), and the statistics of each class."""
        return {
            "run_id": self.run.run_id,
            "name": self.run.name,
            "dataset": self.run.dataset_name,
            "state": self.run.state,
            "weights": self.weights,
            **{key: _json_number(value) for key, value in self.overall.items()},
            "per_class": {
                str(name): {key: _json_number(value) for key, value in row.items()}
                for name, row in self.per_class.iterrows()
            },
        }


def _json_number(value: object) -> float | int | None:
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return None if math.isnan(value) else value


def weights_note(run: RunRecord) -> str:
    """Which weights a run's test results come from, in a few words ("weights of epoch 3
    (kept when the worker died)")."""
    summary = run.summary
    if run.kind == "baseline":
        trees = (summary.trees if summary and summary.trees else None) or (
            run.baseline.trees if run.baseline else None)  # fmt: skip
        return f"random forest of {trees:,} trees" if trees else "random forest"
    if summary is None:
        return "no weights"
    epoch = summary.model_epoch or summary.restored_best_epoch or summary.epochs_run
    of_epoch = f"weights of epoch {epoch}" if epoch else "the weights it had"
    if summary.from_checkpoint:
        return f"{of_epoch} (kept when the worker died)"
    if summary.stopped_by_user or run.state == "stopped":
        return f"{of_epoch} (stopped before its last epoch)"
    if summary.restored_best_epoch:
        return f"{of_epoch} (the best on validation, restored by early stopping)"
    return f"{of_epoch} (the last)"


def evaluate_run(run: RunRecord, *, dataset: Dataset | None = None,
                 label_errors: int = 60) -> RunEvaluation:  # fmt: skip
    """Evaluate ``run`` on the test split of the dataset it was trained on.

    Args:
        run: a run with test results (``run.evaluated``): finished, stopped, or crashed and
            evaluated from the weights it kept.
        dataset: that dataset, when the caller holds it already (a page's shared cache);
            default: loaded from the run's source, never downloaded.
        label_errors: how many likely label errors to keep.

    Raises:
        RunError: (one sentence) when the run has no test results, its dataset cannot be
            loaded or changed since training, or its predictions do not fit that dataset.
    """
    from mnist_core.runs import RunError

    if not run.evaluated:
        raise RunError(
            f"Run {run.run_id} has no test results to evaluate (it is {run.state}); "
            "evaluate a finished or stopped run."
        )
    probabilities = run.test_probabilities()
    if dataset is None:
        from mnist_core.data import DatasetError, load_dataset

        try:
            dataset = load_dataset(run.dataset, download=False)
        except DatasetError as exc:
            raise RunError(f"Run {run.run_id}: {exc}") from None
    if run.fingerprint and run.fingerprint != dataset.fingerprint:
        raise RunError(
            f"Run {run.run_id}: its dataset {run.dataset_name} changed since it was trained."
        )
    y_true = np.asarray(dataset.y_test).astype(np.int64)
    if probabilities.shape != (len(y_true), dataset.n_classes):
        raise RunError(
            f"Run {run.run_id}: predictions of shape {probabilities.shape} do not fit "
            f"{len(y_true):,} test images of {dataset.n_classes} classes."
        )
    y_pred = probabilities.argmax(axis=1)
    names = tuple(str(c) for c in dataset.class_names)
    return RunEvaluation(
        run=run,
        dataset=dataset,
        class_names=names,
        probabilities=probabilities,
        y_true=y_true,
        y_pred=y_pred,
        stats=classification_stats(y_true, y_pred, class_names=names),
        mistakes=mistakes(y_true, probabilities),
        label_errors=likely_label_errors(y_true, probabilities, top=label_errors),
        curves=tuple(e for e in run.events() if e.get("type") in CURVE_EVENTS),
    )
