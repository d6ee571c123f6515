"""The Ray executor against a real Ray head on 127.0.0.1 (tests/ray_cluster.py): runs and
studies train through it with the same worker code and folders, liveness is Ray's, a killed
Ray worker fails its trial with a sentence, Stop and Cancel work, and a cluster that cannot
be reached is one sentence with nothing queued. Skip them with ``-m "not ray"``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mnist_core import runs, studies
from mnist_core.data import load_dataset
from mnist_core.models import PRESETS, with_train
from mnist_core.runs import jobs, states
from mnist_core.runs.executor import ExecutorUnavailable
from tests.conftest import ROOT
from tests.ray_cluster import ray_head  # noqa: F401 (the session's Ray head)

pytestmark = pytest.mark.ray

NOWHERE = "127.0.0.1:1"
UNREACHABLE = (f"Cannot reach the Ray cluster at {NOWHERE}: connection refused; start one with "
               "`ray start --head` or check MNIST_RAY_ADDRESS.")  # fmt: skip


def _cli(*args: str, cache_dir, env: dict | None = None, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "MNIST_CACHE_DIR": str(cache_dir), **(env or {})})


def _digits():
    return load_dataset("digits")


def _run(spec, **start) -> runs.RunRecord:
    data = _digits()
    record = runs.create_run(spec, dataset="digits", fingerprint=data.fingerprint,
                             input_shape=data.image_shape, n_classes=data.n_classes)  # fmt: skip
    runs.start(record, **start)
    return record


def _until(predicate, what: str, timeout: float = 240, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(poll)
    return value


def _training(record: runs.RunRecord) -> bool:
    """Running, with at least one epoch done."""
    fresh = record.refresh()
    return fresh.state == "running" and any(e["type"] == "epoch" for e in fresh.events())


# ------------------------------------------------------------------ no cluster needed


def test_an_unreachable_cluster_is_one_sentence_and_nothing_is_queued(cache_dir):
    commands = (["train", "--preset", "ff64", "--dataset", "digits", "--epochs", "1"],
                ["study", "--preset", "ff64", "--dataset", "digits", "--epochs", "1",
                 "--vary", "batch_size=16,32", "--search", "grid"],
                ["embed", "digits", "--method", "pca"])  # fmt: skip
    for command in commands:
        result = _cli(*command, "--backend", "ray", "--address", NOWHERE, cache_dir=cache_dir)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", UNREACHABLE + "\n")
    # The environment says the same as the options.
    result = _cli(*commands[0], cache_dir=cache_dir,
                  env={"MNIST_EXECUTOR": "ray", "MNIST_RAY_ADDRESS": NOWHERE})  # fmt: skip
    assert (result.returncode, result.stderr) == (2, UNREACHABLE + "\n")
    result = _cli(*commands[0], "--backend", "ray", "--address", "head-without-port",
                  cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 2 and result.stderr == (
        "The Ray address 'head-without-port' is not HOST:PORT (the head's port, 6379 unless "
        "`ray start --head --port` said otherwise).\n")
    # The engine, as the pages call it: the sentence, and the new run or study removed.
    spec = with_train(PRESETS["ff64"].spec, epochs=1)
    with pytest.raises(ExecutorUnavailable, match=r"^Cannot reach the Ray cluster at 127\.0\.0"):
        _run(spec, executor="ray", address=NOWHERE)
    data = _digits()
    plan = studies.plan_study(spec, ["batch_size=16,32"], dataset="digits", search="grid",
                              fingerprint=data.fingerprint, input_shape=data.image_shape,
                              n_classes=data.n_classes, backend="ray", address=NOWHERE)  # fmt: skip
    record = studies.create_study(plan)
    with pytest.raises(ExecutorUnavailable, match="Cannot reach the Ray cluster"):
        studies.start(record)
    assert not record.directory.exists()
    left = [p for p in cache_dir.rglob("*") if p.parent.name in ("runs", "studies")]
    assert left == []


def test_a_ray_job_whose_cluster_is_gone_reads_failed_without_a_write(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    states.transition(job, "queued", executor="ray", address=NOWHERE, task="job-x", pid=None)
    before = (job / "status.json").read_bytes()
    status = jobs.read_status(job)
    assert status.state == "failed"
    assert status.error == UNREACHABLE + " Until it answers, where this job is cannot be known."
    assert (job / "status.json").read_bytes() == before


def test_reading_local_jobs_never_imports_ray(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    states.transition(job, "queued", pid=None)
    states.update(job, submitted=time.time() - 3600)  # a worker that never started
    code = ("import sys; from pathlib import Path; from mnist_core.runs import jobs; "
            f"s = jobs.read_status(Path({str(job)!r})); print(s.state, 'ray' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)  # fmt: skip
    assert result.stdout.split() == ["failed", "False"], result.stderr


# ------------------------------------------------------------------ on the test's head


def test_a_training_run_through_ray_finishes(ray_head, cache_dir):  # noqa: F811
    env = {"MNIST_EXECUTOR": "ray", "MNIST_RAY_ADDRESS": ray_head}
    result = _cli("train", "--preset", "ff64", "--dataset", "digits", "--epochs", "1",
                  cache_dir=cache_dir, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert (out["status"], out["epochs_run"]) == ("done", 1) and out["test_accuracy"] > 0.1
    record = runs.open_run(out["run_id"])
    status = record.status
    assert (status.executor, status.address) == ("ray", ray_head)
    assert status.task.startswith(f"job-{record.run_id}-") and status.pid > 0
    assert f"on the Ray cluster at {ray_head}" in result.stderr
    log = record.paths.log.read_text()  # the worker's own lines, written on the cluster
    assert "training: epoch 1 done" in log
    # As many threads as the CPUs it asked Ray for (one, by default).
    assert [e["threads"] for e in record.events() if e["type"] == "threads"] == [1]
    ray = pytest.importorskip("ray")
    from mnist_core.runs.ray_executor import NAMESPACE, connect

    connect(ray_head)  # the job's actor exits with its job
    _until(lambda: _actor_gone(ray, status.task, NAMESPACE), "the job's actor to exit", 60)


def _actor_gone(ray, name: str, namespace: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
    except ValueError:
        return True
    return False


def test_a_four_trial_study_runs_through_ray(ray_head, cache_dir):  # noqa: F811
    result = _cli("study", "--preset", "ff64", "--dataset", "digits", "--epochs", "1",
                  "--vary", "batch_size=16,64", "--vary", "learning_rate=0.001,0.01",
                  "--search", "grid", "--backend", "ray", "--address", ray_head,
                  cache_dir=cache_dir, timeout=400)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["trials"] == {"complete": 4}
    assert f"on the Ray cluster at {ray_head}" in result.stderr
    members = [r for r in runs.list_runs() if r.group == out["study_id"]]
    assert len(members) == 4
    assert {(r.state, r.status.executor, r.status.address) for r in members} == {
        ("done", "ray", ray_head)}
    # First in, first out: the runs began training in the order they were submitted.
    by_submission = sorted(members, key=lambda r: r.status.submitted)
    started = [r.status.started for r in by_submission]
    assert started == sorted(started)
    plan = studies.open_study(out["study_id"]).plan
    assert (plan.backend, plan.address) == ("ray", ray_head)


def test_a_killed_ray_worker_fails_its_trial_and_the_study_goes_on(ray_head, cache_dir):  # noqa: F811
    data = _digits()
    base = with_train(PRESETS["ff64"].spec, batch_size=8)
    plan = studies.plan_study(base, ["epochs=40,1,2"], dataset="digits", search="grid",
                              fingerprint=data.fingerprint, input_shape=data.image_shape,
                              n_classes=data.n_classes, backend="ray", address=ray_head)
    record = studies.create_study(plan)
    studies.start(record)

    def long_run():
        return next((r for r in runs.list_runs()
                     if r.group == record.study_id and r.spec.train.epochs == 40), None)

    victim = _until(long_run, "the 40-epoch trial's run")
    _until(lambda: _training(victim), "the 40-epoch run to train")
    pid = victim.refresh().status.pid
    os.kill(pid, signal.SIGKILL)  # the Ray worker process that trains it
    status = studies.wait(record, timeout=300)
    assert status.state == "done", status.error
    record = record.refresh()
    assert record.counts() == {"complete": 2, "failed": 1}
    (failed,) = [row for row in record.trials if row.state == "failed"]
    assert failed.params == {"epochs": 40}
    sentence = f"The Ray worker (pid {pid}) was killed or crashed; its last words: "
    assert failed.error.startswith(sentence)
    assert victim.refresh().status.error == failed.error


def test_a_job_that_does_not_stop_is_cancelled_after_the_grace_period(ray_head, cache_dir):  # noqa: F811
    # A UMAP job has no Stop of its own: after the grace period, the job's owner cancels
    # its Ray task. Through the CLI's `embed --backend ray`, which fails with the sentence.
    from mnist_core.runs.store import RunPaths

    command = [sys.executable, "-m", "mnist_core", "embed", "digits", "--method", "umap",
               "--backend", "ray", "--address", ray_head]  # fmt: skip
    env = {**os.environ, "MNIST_CACHE_DIR": str(cache_dir), "MNIST_STOP_GRACE_SECONDS": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, env=env) as cli:  # fmt: skip

        def running_job():
            found = list((cache_dir / "embeddings").glob("*/status.json"))
            return found and jobs.read_status(found[0].parent).state == "running" and found[0]

        job = _until(running_job, "the embedding job to run").parent
        RunPaths(job).stop.touch()
        out, err = cli.communicate(timeout=120)
    sentence = "It did not stop within 1 s of the Stop request, so its Ray task was cancelled."
    assert (cli.returncode, out) == (2, "")
    assert err.strip().splitlines()[-1] == sentence
    status = jobs.read_status(job)
    assert (status.state, status.error, status.executor) == ("failed", sentence, "ray")


def test_stop_and_cancel_on_ray(ray_head, cache_dir, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MNIST_RAY_CPUS", "2")  # one job fills the head: the others queue
    spec = with_train(PRESETS["ff64"].spec, batch_size=8, epochs=200)
    first = _run(spec, executor="ray", address=ray_head)
    second = _run(spec, executor="ray", address=ray_head)
    third = _run(spec, executor="ray", address=ray_head)
    _until(lambda: _training(first), "the first run to train")
    # The second waits for Ray's CPUs, the third behind it in the queue (first in, first out).
    _until(lambda: second.refresh().status.stage == "waiting for 2 CPUs on the Ray cluster",
           "the second run to wait for CPUs")  # fmt: skip
    place = "waiting in the Ray queue: 1 job ahead, 1 training now (1 may train at once)"
    _until(lambda: third.refresh().status.stage == place, "the third run to wait its turn")
    assert runs.stop(second) == f"Run {second.run_id} is cancelled before it trains."
    assert runs.stop(third) == f"Run {third.run_id} is cancelled before it trains."
    for record in (second, third):
        status = runs.wait(record.directory, timeout=60)
        assert (status.state, status.started, status.pid) == ("cancelled", None, None)
    assert runs.stop(first) == f"Run {first.run_id} stops within a few batches."
    status = runs.wait(first.directory, timeout=120)
    assert status.state == "stopped", status.error
    summary = first.refresh().summary
    assert summary.stopped_by_user and summary.epochs_run < 200
