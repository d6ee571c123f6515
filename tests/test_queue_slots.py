"""Training slots and threads per run: each run takes its share of the cores (cores //
slots, or ``MNIST_THREADS_PER_RUN``), set in the worker before TensorFlow starts and
recorded in the run's events; with two slots two runs really train side by side."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.models import PRESETS, with_train
from mnist_core.runs import queue
from tests.conftest import ROOT, skip_or_fail


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture
def two_cores(monkeypatch):
    """This process (and the workers it starts, which inherit it) sees exactly 2 cores."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        skip_or_fail("the slot tests need a machine with 2 CPU cores")
    os.sched_setaffinity(0, cpus[:2])
    try:
        if queue.available_cores() != 2:  # a cgroup quota below 2 CPUs
            skip_or_fail(f"this machine allows {queue.available_cores()} core(s), not 2")
        monkeypatch.delenv(queue.THREADS_ENV, raising=False)
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def _run(digits, **train):
    # On TensorFlow, whose thread pools these tests check (a dense stack would train on JAX).
    spec = with_train(PRESETS["ff64"].spec, keras_backend="tensorflow", **train)
    return runs.create_run(spec, dataset="digits", fingerprint=digits.fingerprint,
                           input_shape=digits.image_shape, n_classes=digits.n_classes)  # fmt: skip


def _threads_event(record) -> dict | None:
    return next((e for e in record.events() if e["type"] == "threads"), None)


def _wait_for(predicate, what, timeout=180):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_threads_per_run_divides_the_cores_among_the_slots(monkeypatch):
    monkeypatch.delenv(queue.THREADS_ENV, raising=False)
    assert queue.threads_per_run(slots=1, cores=2) == 2
    assert queue.threads_per_run(slots=2, cores=2) == 1
    assert queue.threads_per_run(slots=2, cores=3) == 1  # never more threads than cores
    assert queue.threads_per_run(slots=4, cores=2) == 1  # at least one
    assert queue.threads_per_run(slots=2, cores=16) == 8
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "2")  # the slots default to the queue's
    assert queue.threads_per_run(cores=8) == 4
    monkeypatch.setenv(queue.THREADS_ENV, "3")  # a person's choice wins
    assert queue.threads_per_run(slots=2, cores=2) == 3
    for bad in ("0", "-1", "two", ""):  # ignored: back to the cores' share
        monkeypatch.setenv(queue.THREADS_ENV, bad)
        assert queue.threads_per_run(slots=2, cores=8) == 4


def test_the_slot_count_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(queue.MAX_TRAINING_ENV, raising=False)
    assert queue.max_training() == queue.DEFAULT_MAX_TRAINING
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "3")
    assert queue.max_training() == 3
    for bad in ("0", "many"):
        monkeypatch.setenv(queue.MAX_TRAINING_ENV, bad)
        assert queue.max_training() == (1 if bad == "0" else queue.DEFAULT_MAX_TRAINING)


def test_available_cores_follow_the_affinity_mask_and_a_cgroup_quota(monkeypatch, tmp_path):
    one_cpu = min(os.sched_getaffinity(0))
    code = (f"import os; os.sched_setaffinity(0, {{{one_cpu}}}); "
            "from mnist_core.runs.queue import available_cores; print(available_cores())")  # fmt: skip
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           timeout=60, check=True)  # fmt: skip
    assert child.stdout.strip() == "1"
    affinity = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(queue, "CGROUP_CPU_MAX", quota)
    quota.write_text("max 100000\n")  # no quota
    assert queue.available_cores() == affinity
    quota.write_text("50000 100000\n")  # half a CPU still gets one thread
    assert queue.available_cores() == 1
    quota.write_text(f"{affinity * 400000} 100000\n")  # a quota above the mask changes nothing
    assert queue.available_cores() == affinity


def test_two_slots_on_two_cores_train_two_runs_at_once_with_one_thread_each(
        digits, two_cores, monkeypatch):  # fmt: skip
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "2")  # the workers inherit it
    long_runs = [_run(digits, epochs=500, batch_size=16) for _ in range(2)]
    for record in long_runs:
        runs.start(record)
    _wait_for(lambda: all(runs.read_status(r.directory).state == "running" for r in long_runs)
              and all(_threads_event(r) for r in long_runs), "both runs training")  # fmt: skip
    third = _run(digits, epochs=1)
    runs.start(third)
    waiting = "waiting in the queue: 0 runs ahead, 2 training now (2 may train at once)"
    _wait_for(lambda: runs.read_status(third.directory).stage == waiting, "the third run's place")
    cores = sorted(os.sched_getaffinity(0))
    events = [_threads_event(record) for record in long_runs]
    for record, event in zip(long_runs, events):
        assert {k: v for k, v in event.items() if k != "cpus"} == {
            "type": "threads", "threads": 1, "slots": 2, "cores": 2, "sharing": 2,
            "intra_op": 1, "inter_op": 1}  # fmt: skip
        assert "1 thread for this run (2 of 2 slots in use on 2 cores)" in record.paths.log.read_text()
    # One core each, not the same one, and the workers really keep to them.
    assert sorted(event["cpus"] for event in events) == [[cores[0]], [cores[1]]]
    for record, event in zip(long_runs, events):
        assert os.sched_getaffinity(runs.read_status(record.directory).pid) == set(event["cpus"])
    for record in long_runs:
        runs.stop(record)
    assert [runs.wait(r.directory, timeout=300).state for r in long_runs] == ["stopped"] * 2
    assert runs.wait(third.directory, timeout=300).state == "done"
    # It started as the others stopped: both cores if it was alone by then, else one.
    event = _threads_event(third.refresh())
    assert event["threads"] == 2 // event["sharing"]


def test_two_jax_runs_side_by_side_keep_to_one_core_each(digits, two_cores, monkeypatch):
    """XLA ignores thread-count flags; the slot's CPU affinity holds a JAX run to its share:
    each worker's CPU time grows at most as fast as the wall clock (one core), measured from
    /proc while both train."""
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "2")
    spec = with_train(PRESETS["dense512"].spec, keras_backend="jax", epochs=500, batch_size=16)
    long_runs = [runs.create_run(spec, dataset="digits", fingerprint=digits.fingerprint,
                                 input_shape=digits.image_shape, n_classes=digits.n_classes)
                 for _ in range(2)]  # fmt: skip
    for record in long_runs:
        runs.start(record)
    _wait_for(lambda: all(any(e["type"] == "epoch" for e in r.events()) for r in long_runs),
              "both JAX runs past their first epoch")  # fmt: skip
    pids = [runs.read_status(r.directory).pid for r in long_runs]
    assert [os.sched_getaffinity(pid) for pid in pids] in (
        [{c} for c in sorted(os.sched_getaffinity(0))], [{c} for c in sorted(os.sched_getaffinity(0))][::-1])
    before, start = [_cpu_seconds(pid) for pid in pids], time.monotonic()
    time.sleep(3)
    used = [_cpu_seconds(pid) - b for pid, b in zip(pids, before)]
    wall = time.monotonic() - start
    for record in long_runs:
        runs.stop(record)
    assert [runs.wait(r.directory, timeout=300).state for r in long_runs] == ["stopped"] * 2
    assert all(u <= 1.1 * wall for u in used), (used, wall)  # one core each at most
    for record in long_runs:
        assert _threads_event(record.refresh())["threads"] == 1


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_one_slot_on_two_cores_gives_the_run_both(digits, two_cores, monkeypatch):
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "1")
    record = _run(digits, epochs=1)
    runs.start(record)
    assert runs.wait(record.directory, timeout=300).state == "done"
    record = record.refresh()
    assert _threads_event(record) == {"type": "threads", "threads": 2, "slots": 1, "cores": 2,
                                      "sharing": 1, "intra_op": 2, "inter_op": 2}  # fmt: skip
    assert "2 threads for this run (1 of 1 slot in use on 2 cores)" in record.paths.log.read_text()
    assert record.summary.epochs_run == 1 and record.summary.test_accuracy > 0.5


def test_a_run_alone_takes_every_core_even_with_two_slots(digits, two_cores, monkeypatch):
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "2")
    record = _run(digits, epochs=1)
    runs.start(record)
    assert runs.wait(record.directory, timeout=300).state == "done"
    event = _threads_event(record.refresh())
    assert (event["threads"], event["sharing"], event["intra_op"]) == (2, 1, 2)


def test_threads_per_run_from_the_environment_reach_tensorflow(digits, two_cores, monkeypatch):
    monkeypatch.setenv(queue.MAX_TRAINING_ENV, "2")
    monkeypatch.setenv(queue.THREADS_ENV, "3")
    record = _run(digits, epochs=1)
    runs.start(record)
    assert runs.wait(record.directory, timeout=300).state == "done"
    event = _threads_event(record.refresh())
    assert (event["threads"], event["intra_op"], event["inter_op"]) == (3, 3, 3)
