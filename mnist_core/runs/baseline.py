"""A random-forest baseline (scikit-learn) that lives in the run store like any model.

Fitted on a seeded subsample of the training digits (default 3,000), it writes what a
training run writes (status, summary, test probabilities) plus its feature importances, so
the Runs and Evaluation pages and the report treat it like the others. Create one with
``runs.create_run(BaselineSpec(sample=...), ...)``.
"""

from __future__ import annotations

import time

import numpy as np

from mnist_core.runs.store import RunRecord, RunSummary, test_results


def fit_random_forest(images: np.ndarray, labels: np.ndarray, *, sample: int = 3000,
                      trees: int = 200, seed: int = 0):
    """A RandomForestClassifier fitted on ``sample`` seeded training images (pixels / 255);
    returns ``(model, seconds, indices used)``."""
    from sklearn.ensemble import RandomForestClassifier

    if sample < 2:
        raise ValueError(f"The sample must hold at least 2 images; got {sample}.")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(labels), size=min(sample, len(labels)), replace=False))
    model = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=-1)
    start = time.perf_counter()
    model.fit(images[chosen].reshape(len(chosen), -1) / 255.0, labels[chosen])
    return model, time.perf_counter() - start, chosen


def fit_and_evaluate(record: RunRecord, progress) -> str:
    """The worker's ``baseline`` job (in a training slot): fit, evaluate, write the results."""
    from mnist_core.data import load_dataset

    settings = record.baseline
    progress.stage("loading the dataset")
    dataset = load_dataset(record.dataset, download=False)
    progress.stage(f"fitting a random forest on {settings.sample:,} training digits")
    model, seconds, _ = fit_random_forest(dataset.x_train, dataset.y_train, sample=settings.sample,
                                          trees=settings.trees, seed=settings.seed)  # fmt: skip
    progress.stage("evaluating on the test set")
    # predict_proba has one column per class seen in the sample: spread onto all classes.
    partial = model.predict_proba(dataset.x_test.reshape(len(dataset.x_test), -1) / 255.0)
    probabilities = np.zeros((len(dataset.x_test), dataset.n_classes), np.float32)
    probabilities[:, model.classes_] = partial
    record.save_probabilities(probabilities)
    record.save_importances(model.feature_importances_.reshape(dataset.image_shape))
    record.write_summary(RunSummary(wall_seconds=round(seconds, 3), trees=len(model.estimators_),
                                    **test_results(probabilities, dataset.y_test)))  # fmt: skip
    return "done"
