"""The random-forest baseline as a run; comparing runs: histories, smoothing, delete, grid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_core.runs import baseline
from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.models import analyze, capacity_grid


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_random_forest_on_a_tiny_sample(digits):
    model, seconds, used = baseline.fit_random_forest(digits.x_train, digits.y_train, sample=300,
                                                      seed=1)  # fmt: skip
    assert len(used) == 300 and len(set(used.tolist())) == 300 and seconds > 0
    accuracy = model.score(digits.x_test.reshape(len(digits.x_test), -1) / 255, digits.y_test)
    assert accuracy > 0.8
    with pytest.raises(ValueError, match="at least 2 images; got 1"):
        baseline.fit_random_forest(digits.x_train, digits.y_train, sample=1)


def test_baseline_is_a_run_like_the_others(digits, cache_dir):
    record = runs.create_run(runs.BaselineSpec(sample=500), dataset="digits",
                             fingerprint=digits.fingerprint, input_shape=(8, 8), n_classes=10)  # fmt: skip
    runs.start(record)
    assert runs.wait(record.directory, timeout=180).state == "done"
    record = record.refresh()
    assert record.kind == "baseline" and record.name == "random forest (500 digits)"
    assert record.evaluated and record.problems == ()
    probabilities = record.test_probabilities()
    assert probabilities.shape == (359, 10)
    summary = record.summary
    assert summary.test_accuracy == pytest.approx(np.mean(probabilities.argmax(1) == digits.y_test))
    assert summary.test_accuracy > 0.85 and summary.wall_seconds > 0 and summary.trees == 200
    importances = record.feature_importances()
    assert importances.shape == (8, 8) and importances.sum() == pytest.approx(1, rel=1e-4)


def test_history_frame_is_long_and_tidy(finished_run):
    record = runs.open_run(finished_run.name)
    frame = runs.history_frame([record], labels={record.run_id: "ff64 · digits"})
    assert list(frame.columns) == ["run", "label", "epoch", "metric", "split", "value"]
    assert len(frame) == 3 * 4  # 3 epochs × (loss, accuracy) × (train, validation)
    assert set(frame["split"]) == {"train", "validation"} and set(frame["metric"]) == {"loss", "accuracy"}
    assert set(frame["label"]) == {"ff64 · digits"}
    events = [e for e in record.events() if e["type"] == "epoch"]
    row = frame[(frame.epoch == 2) & (frame.metric == "accuracy") & (frame.split == "validation")]
    assert row["value"].item() == events[1]["val_accuracy"]


def test_smoothing_is_a_debiased_moving_average():
    assert runs.smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])
    assert runs.smooth([0.0, 10.0], 0.0) == [0.0, 10.0]
    # weight 0.5: ema 0, 5 → debiased 0/(0.5), 5/(0.75)
    assert runs.smooth([0.0, 10.0], 0.5) == pytest.approx([0.0, 5 / 0.75])
    with pytest.raises(ValueError, match=r"weight must be in \[0, 1\); got 1.0"):
        runs.smooth([1.0], 1.0)


def test_delete_refuses_active_runs_and_removes_finished_ones(finished_run, cache_dir):
    from mnist_core.runs.executor import hold_worker_lock

    record = runs.open_run(finished_run.name)
    lock = hold_worker_lock(record.directory)  # as a live worker holds it
    (record.directory / "status.json").write_text(json.dumps({"state": "running", "pid": 1}))
    with pytest.raises(runs.RunError, match="is still running; stop it first, then delete it"):
        runs.delete(record)
    assert runs.delete_many([record]) == (0, [f"Run {record.run_id} is still running; stop it "
                                              "first, then delete it."])  # fmt: skip
    lock.close()  # the worker is gone: the run reads failed, and can go
    assert runs.read_status(record.directory).state == "failed"
    runs.delete(record)
    assert not finished_run.exists()


def test_capacity_grid_is_twelve_dense_networks():
    specs = capacity_grid(epochs=3)
    assert [s.name for s in specs][:5] == ["grid 128x1", "grid 256x1", "grid 512x1", "grid 1024x1",
                                            "grid 128x2"]  # fmt: skip
    assert len(specs) == 12 and all(s.train.epochs == 3 for s in specs)
    counts = {s.name: analyze(s, input_shape=(28, 28), n_classes=10).total_params for s in specs}
    assert counts["grid 512x1"] == 407_050  # the dense 512 tutorial
    assert counts["grid 128x2"] == 784 * 128 + 128 + 128 * 128 + 128 + 1290
