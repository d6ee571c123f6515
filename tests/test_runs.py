"""Training runs with the real worker on the bundled digits: done, stopped, diverged,
failed, queued; events, summary and files; the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mnist_core.runs import jobs
from mnist_core import runs
from mnist_core.data.datasets import load_dataset
from mnist_core.models.spec import PRESETS, EarlyStoppingSpec, LayerSpec, ModelSpec, SpecError, with_train
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _run(digits, preset="logistic", dataset="digits", **train):
    spec = with_train(PRESETS[preset].spec, **train)
    return runs.create_run(spec, dataset=dataset, fingerprint=digits.fingerprint,
                           input_shape=digits.image_shape, n_classes=digits.n_classes)  # fmt: skip


def _wait_for(directory, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, jobs.read_status(directory)
        time.sleep(0.05)


def test_a_run_trains_and_leaves_a_self_describing_directory(digits, cache_dir):
    directory = _run(digits, epochs=3, batch_size=64)
    assert runs.start(directory)["state"] == "queued"
    status = jobs.wait(directory, timeout=180)
    assert status["state"] == "done", status
    assert {p.name for p in directory.iterdir()} >= {
        "run.json", "spec.json", "status.json", "events.jsonl", "model.keras",
        "test_probabilities.npy", "summary.json", "tb", "worker.log",
    }  # fmt: skip
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["params"] == 650 and summary["epochs_run"] == 3
    probabilities = np.load(directory / "test_probabilities.npy")
    assert probabilities.shape == (359, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-4)
    accuracy = float(np.mean(probabilities.argmax(1) == digits.y_test))
    assert summary["test_accuracy"] == pytest.approx(accuracy)
    events = runs.read_events(directory)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "train_begin" and kinds[-1] == "test" and kinds.count("epoch") == 3
    epoch = next(e for e in events if e["type"] == "epoch")
    assert set(epoch) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds"}
    assert epoch["lr"] == pytest.approx(0.001)
    assert any(p.name.startswith("events.out.tfevents") for p in (directory / "tb").rglob("*"))


def test_stop_keeps_history_and_still_evaluates(digits, cache_dir):
    directory = _run(digits, preset="ff64", epochs=500, batch_size=16,
                     early_stopping=EarlyStoppingSpec(patience=1000, restore_best_weights=True))
    runs.start(directory)
    _wait_for(directory, lambda: sum(e["type"] == "epoch" for e in runs.read_events(directory)) >= 2)
    runs.request_stop(directory)
    status = jobs.wait(directory, timeout=120)
    assert status["state"] == "stopped"
    summary = json.loads((directory / "summary.json").read_text())
    assert 2 <= summary["epochs_run"] < 500 and summary["stopped_by_user"]
    assert summary["restored_best_epoch"] == summary["best"]["epoch"]  # best weights restored
    assert summary["test_accuracy"] > 0.5
    assert (directory / "model.keras").stat().st_size > 0


def test_huge_learning_rate_diverges_with_a_hint(digits, cache_dir):
    directory = _run(digits, preset="ff64", optimizer="sgd", learning_rate=1e3, epochs=5)
    runs.start(directory)
    status = jobs.wait(directory, timeout=180)
    assert status["state"] == "diverged"
    assert status["error"].startswith("The loss exploded (NaN, or over 1,000 times that of guessing)")
    assert status["error"].endswith(
        "the learning rate (1000) is probably too high; try one 10 times lower."
    )
    assert not (directory / "model.keras").exists()


def test_an_exception_fails_the_run_with_its_message(digits, cache_dir, tmp_path):
    directory = _run(digits, dataset=str(tmp_path / "gone.npz"))
    runs.start(directory)
    status = jobs.wait(directory, timeout=180)
    assert status["state"] == "failed"
    assert status["error"].startswith("gone.npz: no such file or folder")


def test_runs_queue_one_at_a_time_and_say_so(digits, cache_dir):
    first = _run(digits, preset="ff64", epochs=500, batch_size=16)
    second = _run(digits, epochs=1)
    runs.start(first)
    _wait_for(first, lambda: jobs.read_status(first)["state"] == "running")
    runs.start(second)
    _wait_for(second, lambda: "waiting in the queue" in str(jobs.read_status(second).get("stage")))
    status = jobs.read_status(second)
    assert status["state"] == "queued"
    assert status["stage"] == "waiting in the queue: 0 runs ahead, 1 may train at once"
    runs.request_stop(first)
    assert jobs.wait(second, timeout=180)["state"] == "done"
    assert jobs.read_status(first)["state"] == "stopped"
    assert jobs.read_status(second)["started"] > jobs.read_status(first)["finished"] - 1


def test_killed_worker_leaves_the_run_failed(digits, cache_dir):
    directory = _run(digits, preset="ff64", epochs=500, batch_size=16)
    pid = runs.start(directory)["pid"]
    _wait_for(directory, lambda: any(e["type"] == "epoch" for e in runs.read_events(directory)))
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    status = jobs.read_status(directory)
    assert status["state"] == "failed" and "stopped unexpectedly" in status["error"]
    listed = {r.run_id: r.state for r in runs.list_runs()}
    assert listed[directory.name] == "failed"


def test_a_truncated_event_line_is_skipped(cache_dir, tmp_path):
    (tmp_path / "events.jsonl").write_text('{"type": "epoch", "epoch": 1}\n{"type": "ba')
    assert runs.read_events(tmp_path) == [{"type": "epoch", "epoch": 1}]


def test_run_ids_cannot_leave_the_runs_folder(cache_dir):
    for bad in ("../etc", "/etc/passwd", ".slots", ""):
        with pytest.raises(runs.RunError):
            runs.run_path(bad)


def test_an_impossible_spec_never_creates_a_run(digits, cache_dir):
    spec = ModelSpec((LayerSpec("Conv2D", {"kernel_size": 9}),))
    with pytest.raises(SpecError, match="kernel is larger than its 8×8 input"):
        runs.create_run(spec, dataset="digits", fingerprint=digits.fingerprint,
                        input_shape=(8, 8), n_classes=10)  # fmt: skip
    assert not (cache_dir / "runs").exists() or not any((cache_dir / "runs").iterdir())


def test_cli_presets_and_train(cache_dir):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)  # fmt: skip

    presets = json.loads(cli("presets").stdout)
    assert {p["name"]: p["params"] for p in presets}["keras_cnn"] == 1_199_882
    assert len(presets) == 9
    result = cli("train", "--preset", "logistic", "--dataset", "digits", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["status"] == "done" and last["epochs_run"] == 2 and last["params"] == 650
    assert 0 < last["test_accuracy"] <= 1 and last["test_loss"] > 0
    assert "epoch 2, loss" in result.stderr
    bad = cli("train", "--preset", "nope", "--dataset", "digits")
    assert bad.returncode == 2 and bad.stderr.startswith("Unknown preset 'nope'; use one of logistic")


def test_the_saved_model_reloads_safely_and_reproduces_the_predictions(finished_run, digits):
    from mnist_core.runs.training import load_run_model

    model = load_run_model(finished_run)
    reloaded = model.predict(digits.x_test[..., None] / 255.0, verbose=0)
    np.testing.assert_allclose(reloaded, np.load(finished_run / "test_probabilities.npy"),
                               atol=1e-5)  # fmt: skip
    data = (finished_run / "model.keras").read_bytes()
    (finished_run / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(runs.RunError, match="model.keras cannot be loaded"):
        load_run_model(finished_run)
