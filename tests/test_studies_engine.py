"""Studies end to end: the real driver worker, real Optuna, real training runs of tiny
models on the 8×8 digits (each run ~5–8 s, mostly TensorFlow's import)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from mnist_core import runs, studies
from mnist_core.data import load_dataset
from mnist_core.models import PRESETS, LayerSpec, ModelSpec, TrainSpec, with_train
from tests.conftest import ROOT

LOGISTIC = with_train(PRESETS["logistic"].spec, epochs=2)


def _plan(base: ModelSpec, vary: list[str], **options) -> studies.StudyPlan:
    dataset = load_dataset("digits")
    return studies.plan_study(base, vary, dataset="digits", fingerprint=dataset.fingerprint,
                              input_shape=dataset.image_shape, n_classes=dataset.n_classes,
                              **options)  # fmt: skip


def _members(record: studies.StudyRecord) -> list[runs.RunRecord]:
    return [r for r in runs.list_runs() if r.group == record.study_id]


def _best_epoch_accuracy(run: runs.RunRecord) -> float:
    return max(e["val_accuracy"] for e in run.events() if e["type"] == "epoch")


def test_a_grid_study_runs_every_point_as_an_ordinary_run():
    plan = _plan(LOGISTIC, ["batch_size=16,64", "learning_rate=0.001,0.01"], search="grid")
    record = studies.create_study(plan)
    began = time.perf_counter()
    studies.start(record)
    status = studies.wait(record, timeout=400)
    print(f"4-trial grid study on digits: {time.perf_counter() - began:.1f} s")
    assert status.state == "done", status.error
    record = record.refresh()
    assert record.counts() == {"complete": 4}
    frame = record.trials_frame()
    assert sorted(zip(frame["batch_size"], frame["learning_rate"])) == [
        (16, 0.001), (16, 0.01), (64, 0.001), (64, 0.01)]
    members = _members(record)
    assert sorted(r.run_id for r in members) == sorted(frame["run_id"])
    for run in members:  # ordinary runs: trained, evaluated, their spec the trial's
        row = frame[frame["run_id"] == run.run_id].iloc[0]
        assert (run.kind, run.state, run.summary.epochs_run) == ("train", "done", 2)
        assert run.summary.test_accuracy > 0.1 and run.paths.model.exists()
        assert (run.spec.train.batch_size, run.spec.train.learning_rate) == (
            row["batch_size"], row["learning_rate"])
        assert run.spec.layers == LOGISTIC.layers
    best_by_run = {run.run_id: _best_epoch_accuracy(run) for run in members}
    assert dict(zip(frame["run_id"], frame["objective"])) == pytest.approx(best_by_run)
    best = record.best
    assert best.run_ids == [max(best_by_run, key=best_by_run.get)]
    assert best.val_accuracy == pytest.approx(max(best_by_run.values()))
    # The journal is Optuna's own: plain Optuna (as optuna-dashboard does) reads it.
    storage = JournalStorage(JournalFileBackend(str(record.path("journal"))))
    study = optuna.load_study(study_name=record.study_id, storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert study.best_value == pytest.approx(best.value)
    importances = record.importances
    assert set(importances) == {"batch_size", "learning_rate"}
    assert sum(importances.values()) == pytest.approx(1.0)


def test_pruning_stops_runs_that_fall_behind():
    # Two good learning rates and four hopeless ones; a batch of 4 makes an epoch last long
    # enough (~0.5 s) for the driver to stop a run well before its last epoch.
    base = ModelSpec((LayerSpec("Flatten"),), TrainSpec(batch_size=4, epochs=6), "logistic")
    plan = _plan(base, ["learning_rate=0.02,0.01,1e-5,2e-5,3e-5,4e-5"], search="grid",
                 prune=True, prune_startup=2)  # fmt: skip
    record = studies.create_study(plan)
    studies.start(record)
    assert studies.wait(record, timeout=600).state == "done"
    record = record.refresh()
    counts = record.counts()
    assert counts.get("pruned", 0) >= 1 and sum(counts.values()) == 6, counts
    runs_by_id = {r.run_id: r for r in _members(record)}
    for row in record.trials:
        (run,) = (runs_by_id[i] for i in row.run_ids)
        if row.state == "pruned":
            assert run.state == "stopped" and run.summary.stopped_by_user
            assert run.summary.epochs_run < 6 and row.pruned_at >= 1
            assert row.params["learning_rate"] < 1e-4
        else:
            assert (row.state, run.state, run.summary.epochs_run) == ("complete", "done", 6)
    study = optuna.load_study(study_name=record.study_id,
                              storage=JournalStorage(JournalFileBackend(str(record.path("journal")))))  # fmt: skip
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert len(pruned) == counts["pruned"]
    assert all(t.last_step == t.user_attrs["pruned_at"] for t in pruned)


@pytest.fixture
def occupied_queue(cache_dir):
    """The training queue's only slot held by the test: runs wait in the queue."""
    slots = cache_dir / "runs" / ".slots"
    slots.mkdir(parents=True)
    handle = open(slots / "slot-0.lock", "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    yield handle
    handle.close()


def _cli(*args: str, cache_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "MNIST_CACHE_DIR": str(cache_dir)})  # fmt: skip


def test_stop_cancels_queued_trials_and_resume_finishes_the_grid(occupied_queue, cache_dir):
    plan = _plan(with_train(LOGISTIC, epochs=1), ["batch_size=32,64"], search="grid")
    record = studies.create_study(plan)
    studies.start(record)
    deadline = time.monotonic() + 60
    while not any(r.state == "queued" for r in _members(record)):
        assert time.monotonic() < deadline, "the study's first run never queued"
        time.sleep(0.2)
    time.sleep(1.0)  # the driver launches no second trial while the first one waits
    assert len(_members(record)) == 1
    stopped = _cli("study-stop", record.study_id, cache_dir=cache_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == {"study_id": record.study_id, "message": (
        f"Study {record.study_id} stops: 1 queued run cancelled, 0 running runs stopping "
        "within a few batches.")}
    assert studies.wait(record, timeout=60).state == "stopped"
    record = record.refresh()
    assert record.counts() == {"cancelled": 1}
    (cancelled,) = _members(record)
    assert cancelled.state == "cancelled" and cancelled.summary is None
    assert studies.stop(record) == f"Study {record.study_id} is already stopped."

    occupied_queue.close()  # the queue frees up; the same Optuna study goes on
    studies.resume(record)
    assert studies.wait(record, timeout=300).state == "done"
    record = record.refresh()
    assert record.counts() == {"complete": 2, "cancelled": 1}
    complete = [row for row in record.trials if row.state == "complete"]
    assert sorted(row.params["batch_size"] for row in complete) == [32, 64]
    redone = next(row for row in complete if row.params == record.trials[0].params)
    assert redone.number > 0 and redone.run_ids != record.trials[0].run_ids


def test_cli_study_with_repeats_prints_the_best_as_mean_of_its_seeds(cache_dir):
    result = _cli("study", "--preset", "logistic", "--epochs", "2", "--vary", "batch_size=32,64",
                  "--search", "grid", "--repeats", "2", "--dataset", "digits",
                  cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out) == {"study_id", "state", "trials", "best", "seconds"}
    assert (out["state"], out["trials"]) == ("done", {"complete": 2})
    assert "grid over batch_size, 2 trials × 2 on digits" in result.stderr
    record = studies.open_study(out["study_id"])
    members = {r.run_id: r for r in _members(record)}
    assert len(members) == 4
    per_trial = {}
    for row in record.trials:
        assert [members[i].spec.train.seed for i in row.run_ids] == [0, 1]
        assert {members[i].spec.train.batch_size for i in row.run_ids} == {row.params["batch_size"]}
        per_trial[row.number] = [_best_epoch_accuracy(members[i]) for i in row.run_ids]
    mean = {n: sum(v) / 2 for n, v in per_trial.items()}
    best_trial = max(mean, key=mean.get)
    best = out["best"]
    assert best["trial"] == best_trial and best["run_ids"] == record.trials[best_trial].run_ids
    assert best["run_id"] == best["run_ids"][0]
    assert best["val_accuracy"] == pytest.approx(mean[best_trial])
    assert best["sd"] == pytest.approx(abs(per_trial[best_trial][0] - per_trial[best_trial][1]) / 2**0.5)
    assert best["params"] == {"batch_size": record.trials[best_trial].params["batch_size"]}
    assert 0 < out["seconds"] < 600


def test_a_driver_killed_mid_study_is_resumed_and_adopts_its_trial():
    import signal

    plan = _plan(with_train(LOGISTIC, epochs=3), ["batch_size=32,64"], search="grid")
    record = studies.create_study(plan)
    studies.start(record)
    deadline = time.monotonic() + 120
    while not any(r.state == "running" for r in _members(record)):
        assert time.monotonic() < deadline, "the study's first run never started"
        time.sleep(0.2)
    os.kill(runs.read_status(record.directory).pid, signal.SIGKILL)  # as a crash would
    dead = studies.wait(record, timeout=30)
    assert dead.state == "failed" and "stopped unexpectedly" in dead.error
    (first,) = _members(record)
    assert first.state in ("running", "done")  # detached: the run goes on without its driver

    studies.resume(record)
    assert studies.wait(record, timeout=300).state == "done"
    record = record.refresh()
    assert record.counts() == {"complete": 2}
    assert record.trials[0].run_ids == [first.run_id]  # adopted, not run again
    assert len(_members(record)) == 2


def test_no_trial_starts_after_the_time_budget():
    plan = _plan(with_train(LOGISTIC, epochs=1), ["batch_size=16,32,64"], search="grid",
                 time_budget=1.0)  # fmt: skip
    record = studies.create_study(plan)
    studies.start(record)
    assert studies.wait(record, timeout=120).state == "done"
    record = record.refresh()
    assert record.counts() == {"complete": 1} and len(_members(record)) == 1


def test_a_diverged_run_makes_its_trial_failed_and_the_study_goes_on():
    base = with_train(LOGISTIC, optimizer="sgd", epochs=1)
    plan = _plan(base, ["learning_rate=1e6,0.05"], search="grid")
    record = studies.create_study(plan)
    studies.start(record)
    assert studies.wait(record, timeout=300).state == "done"
    record = record.refresh()
    assert record.counts() == {"complete": 1, "failed": 1}
    failed = next(row for row in record.trials if row.state == "failed")
    assert failed.params == {"learning_rate": 1e6}
    assert failed.error.startswith("The loss exploded (NaN, or over 1,000 times that of guessing)")
    assert [r.state for r in failed.results] == ["diverged"]
    assert record.best.params == {"learning_rate": 0.05}
    frame = record.trials_frame()
    assert frame.loc[frame["state"] == "failed", "error"].item() == failed.error
