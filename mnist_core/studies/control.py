"""What a person does to a study: start its driver, stop it, resume it, wait for it.
Each action says what it did in one sentence.

The driver always runs on this machine (it only asks Optuna and follows files); its trials
train where the plan's backend says. Starting a study whose Ray cluster cannot be reached
is one sentence (ExecutorUnavailable), and a study never started is then removed."""

from __future__ import annotations

import shutil
import time

from mnist_core import runs
from mnist_core.diskcache import storage_error
from mnist_core.runs import jobs
from mnist_core.runs.executor import ExecutorUnavailable, get_executor
from mnist_core.runs.states import QUEUED, RUNNING, Status
from mnist_core.studies.parameters import StudyError
from mnist_core.studies.store import StudyRecord

__all__ = ["follow", "resume", "start", "stop", "summary", "wait"]

JOB_KIND = "study"


def start(record: StudyRecord) -> Status:
    """Queue the study's driver (a background worker on this machine, detached from the
    caller), once its trials' executor answers."""
    try:
        _check_backend(record)
    except ExecutorUnavailable:
        if runs.read_status(record.directory).state is None:  # never started: leave nothing
            shutil.rmtree(record.directory, ignore_errors=True)
        raise
    return jobs.submit(record.directory, kind=JOB_KIND, spec={}, executor="local")


def _check_backend(record: StudyRecord) -> None:
    plan = record.plan
    if plan is not None and plan.backend != "local":
        get_executor(plan.backend, plan.address).check()


def stop(record: StudyRecord) -> str:
    """Stop the study: its queued trials are cancelled, its running ones stop within a few
    batches, and the driver ends ``stopped`` (resumable). Works when the driver is
    gone too. Returns what happened."""
    status = runs.read_status(record.directory)
    try:
        record.request_stop()
    except OSError as exc:
        raise storage_error(exc, record.path("stop")) from None
    members = [r for r in runs.list_runs() if r.group == record.study_id]
    queued = [r for r in members if r.state == QUEUED]
    running = [r for r in members if r.state == RUNNING]
    runs.stop_many(queued + running)
    if not status.active and not queued and not running:
        return f"Study {record.study_id} is already {status.state or 'stopped'}."
    return (f"Study {record.study_id} stops: {_count(len(queued), 'queued run')} cancelled, "
            f"{_count(len(running), 'running run')} stopping within a few batches.")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def resume(record: StudyRecord) -> Status:
    """Start the driver again on the same Optuna study: trials left in flight are adopted,
    trials a stop cancelled are run again (grid), the budget goes on where it was."""
    status = runs.read_status(record.directory)
    if status.active:
        raise StudyError(f"Study {record.study_id} is still {status.state}; stop it before "
                         "resuming it.")  # fmt: skip
    _check_backend(record)
    record.clear_stop()
    return jobs.submit(record.directory, kind=JOB_KIND, spec={}, restart=True, executor="local")


def wait(record: StudyRecord, *, timeout: float = 3600, poll: float = 0.5) -> Status:
    """Block until the driver is no longer queued or running (or ``timeout`` seconds pass)."""
    return jobs.wait(record.directory, timeout=timeout, poll=poll)


def follow(record: StudyRecord, *, on_stage, poll: float = 0.5, timeout: float = 24 * 3600) -> Status:
    """Wait for the driver like :func:`wait`, calling ``on_stage(text)`` whenever its stage
    (trial counts and the best so far) changes; the final status."""
    deadline = time.monotonic() + timeout
    stage = None
    while True:
        status = runs.read_status(record.directory)
        if status.stage and status.stage != stage:
            on_stage(status.stage)
            stage = status.stage
        if not status.active or time.monotonic() > deadline:
            return status
        time.sleep(poll)


def summary(record: StudyRecord, *, seconds: float | None = None) -> dict:
    """The study as one JSON object: id, driver state, trials per state, the best trial
    (parameters, mean validation accuracy and loss at the runs' best epochs, run ids)."""
    record = record.refresh()
    best = record.best
    return {
        "study_id": record.study_id,
        "state": record.state,
        "trials": record.counts(),
        "best": None if best is None else {
            "trial": best.number, "params": best.params, "objective": best.value,
            "sd": best.sd, "val_accuracy": best.val_accuracy, "val_loss": best.val_loss,
            "run_id": best.run_ids[0] if best.run_ids else None, "run_ids": best.run_ids,
        },
        **({"seconds": round(seconds, 3)} if seconds is not None else {}),
        **({"error": record.status.error} if record.status.error else {}),
    }  # fmt: skip
