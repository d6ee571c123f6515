"""A random-forest baseline (scikit-learn) that lives in the run store like any model.

Fitted on a seeded subsample of the training digits (default 3,000), it writes what a
training run writes (status, summary, test probabilities) plus its feature importances, so
the Runs and Evaluation pages and the report treat it like the others.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mnist_core.runs import jobs
from mnist_core import runs
from mnist_core.diskcache import save_array_atomic, write_json_atomic

DEFAULT_SAMPLE = 3000
DEFAULT_TREES = 200


def fit_random_forest(images: np.ndarray, labels: np.ndarray, *, sample: int = DEFAULT_SAMPLE,
                      trees: int = DEFAULT_TREES, seed: int = 0):
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


def create_baseline_run(*, dataset: str, fingerprint: str, input_shape: tuple[int, int],
                        n_classes: int, sample: int = DEFAULT_SAMPLE, seed: int = 0) -> Path:
    """A new run directory for the baseline, queued for a worker like a training run."""
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-rf" + f"{seed % 100:02d}"
    directory = runs.runs_dir() / run_id
    while directory.exists():
        directory = directory.with_name(directory.name + "x")
    directory.mkdir(parents=True)
    write_json_atomic(directory / "run.json", {
        "run_id": directory.name, "kind": "baseline",
        "name": f"random forest ({sample:,} digits)", "dataset": dataset,
        "fingerprint": fingerprint, "input_shape": list(input_shape), "n_classes": n_classes,
        "params": None, "created": time.time(), "sample": sample, "seed": seed,
        "trees": DEFAULT_TREES,
    })  # fmt: skip
    jobs.submit(directory, kind="baseline", spec={})
    return directory


def run_baseline(directory: Path, progress) -> str:
    """The worker's ``baseline`` job: fit, evaluate on the test set, write the results."""
    from mnist_core.data.datasets import load_dataset

    info = runs.read_json(directory / "run.json") or {}
    with runs.training_slot(directory, on_wait=lambda ahead: progress.stage(
            f"waiting in the queue: {ahead} run{'s' if ahead != 1 else ''} ahead")) as got_slot:  # fmt: skip
        if not got_slot:
            return "stopped"
        progress.running()
        progress.stage("loading the dataset")
        dataset = load_dataset(info["dataset"], download=False)
        progress.stage(f"fitting a random forest on {info['sample']:,} training digits")
        model, seconds, _ = fit_random_forest(dataset.x_train, dataset.y_train,
                                              sample=info["sample"], seed=info["seed"])  # fmt: skip
        progress.stage("evaluating on the test set")
        # predict_proba has one column per class seen in the sample: spread onto all classes.
        partial = model.predict_proba(dataset.x_test.reshape(len(dataset.x_test), -1) / 255.0)
        probabilities = np.zeros((len(dataset.x_test), dataset.n_classes), np.float32)
        probabilities[:, model.classes_] = partial
        save_array_atomic(directory / "test_probabilities.npy", probabilities)
        save_array_atomic(directory / "feature_importances.npy",
                model.feature_importances_.reshape(dataset.image_shape).astype(np.float32))
        picked = probabilities[np.arange(len(dataset.y_test)), dataset.y_test]
        write_json_atomic(directory / "summary.json", {
            "params": None, "epochs_run": None, "wall_seconds": round(seconds, 3),
            "seconds_per_epoch": None, "restored_best_epoch": None, "best": None, "last": None,
            "test_accuracy": float(np.mean(probabilities.argmax(1) == dataset.y_test)),
            "test_loss": float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))),
            "test_size": int(len(dataset.y_test)), "trees": len(model.estimators_),
            "stopped_by_user": False,
        })  # fmt: skip
    return "done"
