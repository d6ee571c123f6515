"""Training runs with the real worker on the bundled digits: done, stopped, cancelled,
diverged, failed, queued in order, killed (and what it kept); the run record; the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.models import (
    PRESETS,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    SpecError,
    with_train,
)
from mnist_core.runs import states
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _run(digits, preset="logistic", dataset="digits", group=None, **train):
    spec = with_train(PRESETS[preset].spec, **train)
    return runs.create_run(spec, dataset=dataset, fingerprint=digits.fingerprint,
                           input_shape=digits.image_shape, n_classes=digits.n_classes,
                           group=group)  # fmt: skip


def _long(digits, **kwargs):
    """A run that trains until it is stopped (ff64, 500 epochs of batch 16)."""
    return _run(digits, preset="ff64", epochs=500, batch_size=16, **kwargs)


def _wait_for(record, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, runs.read_status(record.directory)
        time.sleep(0.05)


def _epochs(record) -> int:
    return sum(e["type"] == "epoch" for e in record.events())


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env=env)  # fmt: skip


def test_a_run_trains_and_leaves_a_self_describing_folder(digits, cache_dir):
    record = _run(digits, epochs=3, batch_size=64)
    assert record.state == "damaged" and record.problems == ("status.json is missing",)
    assert runs.start(record).state == "queued"
    status = runs.wait(record.directory, timeout=180)
    assert status.state == "done", status
    record = record.refresh()
    assert record.state == "done" and record.evaluated and record.problems == ()
    p = record.paths
    for path in (p.run, p.spec, p.status, p.events, p.model, p.probabilities, p.summary, p.log,
                 p.checkpoint_last, p.checkpoint_info):  # fmt: skip
        assert path.is_file(), path.name
    assert not p.model_partial.exists() and not p.checkpoint_partial.exists()
    summary = record.summary
    assert summary.params == 650 and summary.epochs_run == 3 and summary.model_epoch == 3
    assert record.checkpoint() == (p.checkpoint_last, 3)
    probabilities = record.test_probabilities()
    assert probabilities.shape == (359, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-4)
    assert summary.test_accuracy == pytest.approx(float(np.mean(probabilities.argmax(1) == digits.y_test)))
    events = record.events()
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["threads", "train_begin"] and kinds[-1] == "test" and kinds.count("epoch") == 3
    epoch = next(e for e in events if e["type"] == "epoch")
    assert set(epoch) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds"}
    assert epoch["lr"] == pytest.approx(0.001)
    assert any(f.name.startswith("events.out.tfevents") for f in p.tensorboard.rglob("*"))


def test_stop_keeps_history_and_the_best_weights(digits, cache_dir):
    record = _long(digits, early_stopping=EarlyStoppingSpec(patience=1000, restore_best_weights=True))
    runs.start(record)
    _wait_for(record, lambda: _epochs(record) >= 3)
    assert runs.stop(record) == f"Run {record.run_id} stops within a few batches."
    assert runs.wait(record.directory, timeout=120).state == "stopped"
    record = record.refresh()
    summary = record.summary
    assert 3 <= summary.epochs_run < 500 and summary.stopped_by_user
    assert summary.restored_best_epoch == summary.best["epoch"] == summary.model_epoch
    assert summary.test_accuracy > 0.5
    # The best checkpoint follows the best validation loss, epoch by epoch.
    assert record.checkpoint()[1] == summary.best["epoch"]
    assert runs.stop(record) == f"Run {record.run_id} is already stopped."


def test_huge_learning_rate_diverges_with_a_hint(digits, cache_dir):
    record = _run(digits, preset="ff64", optimizer="sgd", learning_rate=1e3, epochs=5)
    runs.start(record)
    status = runs.wait(record.directory, timeout=180)
    assert status.state == "diverged"
    assert status.error.startswith("The loss exploded (NaN, or over 1,000 times that of guessing)")
    assert status.error.endswith("the learning rate (1000) is probably too high; try one 10 times lower.")
    record = record.refresh()
    assert not record.paths.model.exists() and not record.evaluated
    assert record.summary.error == status.error


def test_an_exception_fails_the_run_with_its_sentence(digits, cache_dir, tmp_path):
    record = _run(digits, dataset=str(tmp_path / "gone.npz"))
    runs.start(record)
    status = runs.wait(record.directory, timeout=180)
    assert status.state == "failed"
    assert status.error.startswith("gone.npz: no such file or folder")


def test_runs_start_first_in_first_out_and_say_their_true_place(digits, cache_dir):
    first = _long(digits)
    runs.start(first)
    _wait_for(first, lambda: runs.read_status(first.directory).state == "running")
    queued = []
    for _ in range(4):  # submitted quickly, one after another
        record = _run(digits, epochs=1)
        runs.start(record)
        queued.append(record)
    expected = {r.run_id: f"waiting in the queue: {i} run{'' if i == 1 else 's'} ahead, "
                          "1 training now (1 may train at once)" for i, r in enumerate(queued)}  # fmt: skip
    for record in queued:
        _wait_for(record, lambda: runs.read_status(record.directory).stage == expected[record.run_id])
    assert [runs.queue_place(r.directory).ahead for r in queued] == [0, 1, 2, 3]
    runs.stop(first)
    finals = [runs.wait(r.directory, timeout=300) for r in queued]
    assert [s.state for s in finals] == ["done"] * 4
    starts = [s.started for s in finals]
    assert starts == sorted(starts)  # in the order they were submitted
    assert starts[0] >= runs.read_status(first.directory).finished - 1


def test_cancelling_a_queued_run_and_a_whole_group(digits, cache_dir):
    first = _long(digits, group="grid-test")
    runs.start(first)
    _wait_for(first, lambda: runs.read_status(first.directory).state == "running")
    single = _run(digits, epochs=1)
    grid = [_run(digits, epochs=1, group="grid-test") for _ in range(2)]
    for record in (single, *grid):
        runs.start(record)
    _wait_for(single, lambda: "waiting in the queue" in runs.read_status(single.directory).stage)
    assert runs.stop(single) == f"Run {single.run_id} is cancelled before it trains."
    assert runs.wait(single.directory, timeout=60).state == "cancelled"
    single = single.refresh()
    assert single.state == "cancelled" and single.problems == ()  # not "damaged"
    runs.delete(single)
    assert not single.directory.exists()
    assert len(runs.stop_group("grid-test")) == 3
    assert {runs.wait(r.directory, timeout=120).state for r in grid} == {"cancelled"}
    assert runs.wait(first.directory, timeout=120).state == "stopped"
    assert runs.delete_many([r.refresh() for r in grid]) == (2, [])


def test_a_status_naming_an_unrelated_live_pid_is_not_stuck(digits, cache_dir):
    for state, submitted_ago in (("running", 0), ("queued", 3600)):
        record = _run(digits, epochs=1)
        # As if a worker had died and its pid were now another process's (this test's).
        states.transition(record.directory, "queued")
        if state == "running":
            states.transition(record.directory, "running")
        states.update(record.directory, pid=os.getpid(),
                      submitted=time.time() - submitted_ago)  # fmt: skip
        on_disk = (record.directory / states.STATUS_FILE).read_bytes()
        status = runs.read_status(record.directory)
        assert status.state == "failed", state
        # Reading a dead worker's run as failed writes nothing: the status file is as it was.
        assert (record.directory / states.STATUS_FILE).read_bytes() == on_disk
        assert runs.read_status(record.directory).state == "failed"
        assert status.error.startswith(f"The worker process (pid {os.getpid()}) ")
        assert runs.queue_place(_run(digits).directory).ahead == 0  # not counted in the queue
        runs.delete(record.refresh())  # deletable, as a failed run is
    # Queued with no pid at all (the submitter died before launching): failed too.
    record = _run(digits)
    states.transition(record.directory, "queued")
    states.update(record.directory, submitted=time.time() - 3600)
    assert runs.read_status(record.directory).error.startswith("The worker process never started")


def test_a_killed_worker_keeps_its_last_epoch_and_can_be_evaluated(digits, cache_dir):
    record = _long(digits)
    pid = runs.start(record).pid
    _wait_for(record, lambda: _epochs(record) >= 2)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    record = record.refresh()
    assert record.state == "failed" and "stopped unexpectedly" in record.status.error
    assert {r.run_id: r.state for r in runs.list_runs()}[record.run_id] == "failed"
    path, epoch = record.checkpoint()
    assert path == record.paths.checkpoint_last and epoch >= 2
    assert not record.evaluated
    assert runs.evaluate_checkpoint(record).state == "queued"
    assert runs.wait(record.paths.checkpoint_job, timeout=180).state == "done"
    record = record.refresh()
    assert record.state == "failed"  # it crashed; its kept model is evaluated all the same
    assert record.evaluated and record.summary.from_checkpoint
    assert record.summary.model_epoch == epoch and record.summary.test_accuracy > 0.5


def test_a_crashed_run_offers_its_best_epoch_when_early_stopping_restores_it(digits, cache_dir):
    restoring = _run(digits, preset="ff64", early_stopping=EarlyStoppingSpec(
        patience=3, restore_best_weights=True))  # fmt: skip
    plain_run = _run(digits, preset="ff64")
    for record in (restoring, plain_run):
        assert record.checkpoint() is None  # nothing kept yet
        record.paths.checkpoint_last.write_bytes(b"last")
        record.note_checkpoint("last", 5)
        record.paths.checkpoint_best.write_bytes(b"best")
        record.note_checkpoint("best", 3)
    assert restoring.checkpoint() == (restoring.paths.checkpoint_best, 3)
    assert plain_run.checkpoint() == (plain_run.paths.checkpoint_last, 5)
    restoring.paths.checkpoint_best.unlink()  # best file lost: the last epoch is still there
    assert restoring.checkpoint() == (restoring.paths.checkpoint_last, 5)


def test_a_full_disk_fails_the_run_with_one_sentence_and_no_partial_files(
    digits, small_disk, monkeypatch
):
    from tests.conftest import fill_disk

    monkeypatch.setenv("MNIST_CACHE_DIR", str(small_disk))
    record = _long(digits)
    runs.start(record)
    _wait_for(record, lambda: _epochs(record) >= 1)
    fill_disk(small_disk)
    status = runs.wait(record.directory, timeout=120)
    assert status.state == "failed"
    assert status.error.startswith(f"The disk holding {record.directory}")
    assert " is full" in status.error
    leftovers = [p.name for p in record.directory.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    # The CLI on the full disk: one sentence, exit 2, no traceback.
    result = cli("train", "--preset", "logistic", "--dataset", "digits", "--epochs", "1",
                 env={**os.environ, "MNIST_CACHE_DIR": str(small_disk)})  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().startswith("The disk holding ") and "Traceback" not in result.stderr


def test_a_truncated_event_line_is_skipped(digits, cache_dir):
    record = _run(digits)
    record.paths.events.write_text('{"type": "epoch", "epoch": 1}\n{"type": "ba')
    assert record.events() == [{"type": "epoch", "epoch": 1}]


@pytest.mark.parametrize("bad", ["../etc", "/etc/passwd", ".slots", "", "a/b", ".."])
def test_run_ids_cannot_leave_the_runs_folder(cache_dir, bad):
    with pytest.raises(runs.RunError, match="is not a run id"):
        runs.open_run(bad)


def test_an_impossible_spec_never_creates_a_run(digits, cache_dir):
    spec = ModelSpec((LayerSpec("Conv2D", {"kernel_size": 9}),))
    with pytest.raises(SpecError, match="kernel is larger than its 8×8 input"):
        runs.create_run(spec, dataset="digits", fingerprint=digits.fingerprint,
                        input_shape=(8, 8), n_classes=10)  # fmt: skip
    assert not (cache_dir / "runs").exists() or not any((cache_dir / "runs").iterdir())


def test_labels_name_what_differs_between_runs(digits, cache_dir):
    a = _run(digits, preset="small_cnn", learning_rate=0.01, dataset="digits")
    b = _run(digits, preset="small_cnn", learning_rate=0.001, batch_size=64)
    c = _run(digits, preset="logistic")
    labels = runs.distinguishing_labels([a, b, c])
    assert labels == {a.run_id: "small_cnn · lr 0.01 · batch 32",
                      b.run_id: "small_cnn · lr 0.001 · batch 64", c.run_id: "logistic"}  # fmt: skip
    twin = _run(digits, preset="logistic")
    labels = runs.distinguishing_labels([c, twin])
    assert labels[c.run_id] == f"logistic · {c.run_id[-6:]}"


def test_cli_presets_and_train(cache_dir, tmp_path):
    presets = json.loads(cli("presets").stdout)
    assert {p["name"]: p["params"] for p in presets}["keras_cnn"] == 1_199_882
    result = cli("train", "--preset", "logistic", "--dataset", "digits", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["status"] == "done" and last["epochs_run"] == 2 and last["params"] == 650
    assert 0 < last["test_accuracy"] <= 1 and last["test_loss"] > 0
    assert "epoch 2, loss" in result.stderr
    bad = cli("train", "--preset", "nope", "--dataset", "digits")
    assert bad.returncode == 2 and bad.stderr.startswith("Unknown preset 'nope'; use one of logistic")
    # A run that diverges: exit 2, its sentence last on stderr, its JSON on stdout.
    spec = with_train(PRESETS["ff64"].spec, optimizer="sgd", learning_rate=1e3, epochs=2)
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_json()))
    diverged = cli("train", "--spec", str(tmp_path / "spec.json"), "--dataset", "digits")
    assert diverged.returncode == 2
    assert json.loads(diverged.stdout.strip().splitlines()[-1])["status"] == "diverged"
    assert diverged.stderr.strip().splitlines()[-1].startswith("The loss exploded")


def test_the_saved_model_reloads_safely_and_reproduces_the_predictions(finished_run, digits):
    from mnist_core.runs.training import load_run_model

    record = runs.open_run(finished_run.name)
    model = load_run_model(record)
    reloaded = model.predict(digits.x_test[..., None] / 255.0, verbose=0)
    np.testing.assert_allclose(reloaded, record.test_probabilities(), atol=1e-5)
    data = record.paths.model.read_bytes()
    record.paths.model.write_bytes(data[: len(data) // 2])
    with pytest.raises(runs.RunError, match="model.keras cannot be loaded"):
        load_run_model(record)


def test_tensorflows_own_full_disk_error_is_the_same_one_sentence(tmp_path):
    """TensorBoard's event writer reports a full disk as ``ResourceExhaustedError`` with the
    path, not as an ``OSError``; the run still fails with the full-disk sentence."""
    import tensorflow as tf

    from mnist_core.worker import one_sentence

    events = tmp_path / "runs" / "r1" / "tb" / "train" / "events.out.tfevents.1"
    error = tf.errors.ResourceExhaustedError(None, None, f"{events}; No space left on device")
    sentence = one_sentence(error, tmp_path / "runs" / "r1")
    assert sentence == (f"The disk holding {events.parent} is full: {events.name} could not be "
                        "written (No space left on device).")  # fmt: skip
    # Any other error keeps its type and message.
    assert one_sentence(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating"),
                        tmp_path) == "ResourceExhaustedError: OOM when allocating"  # fmt: skip
