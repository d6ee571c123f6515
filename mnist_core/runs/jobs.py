"""Background jobs: a folder, a worker, and files anyone can poll.

A job folder holds ``job.json`` (what to do: a kind and a spec), ``status.json`` (see
:mod:`mnist_core.runs.states`) and ``worker.log``. :func:`submit` queues the job and starts
its worker through an executor (:mod:`mnist_core.runs.executor`: this machine, or a Ray
cluster); :func:`read_status` is the one way to read where a job is, whichever executor
runs it.

:func:`submit` is idempotent across processes: while a job for a folder is queued or
running (or done), a second submit joins it instead of starting another. An executor that
cannot be reached is one sentence (ExecutorUnavailable) before anything is written.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path

from mnist_core.diskcache import storage_error, write_json_atomic
from mnist_core.runs import executor as executors
from mnist_core.runs import states
from mnist_core.runs.states import ACTIVE, DONE, FAILED, QUEUED, Status

__all__ = ["ACTIVE", "JOB_FILE", "Status", "read_status", "submit", "wait"]

JOB_FILE = "job.json"


def read_status(directory: Path) -> Status:
    """Where the job in ``directory`` is; ``state`` None when it was never submitted.

    A queued or running job whose worker is gone reads as ``failed``, with a sentence. The
    worker's liveness is asked of the executor the job's status names (see
    :func:`mnist_core.runs.executor.alive`)."""
    return states.read_status(directory, alive=executors.alive)


def submit(directory: Path, *, kind: str, spec: dict, restart: bool = False,
           executor: str | None = None, address: str | None = None) -> Status:  # fmt: skip
    """Start the job in ``directory`` unless it is already queued, running or done; its status.

    A failed job is started again; with ``restart``, a done one too (its result was lost).
    ``executor`` (default ``$MNIST_EXECUTOR``, else local) and ``address`` (a Ray cluster's
    HOST:PORT, default ``$MNIST_RAY_ADDRESS``) say where its worker runs. Raises
    StorageError (one sentence) when the folder cannot be written, and ExecutorUnavailable
    (one sentence, nothing written) when the executor cannot be reached.
    """
    runner = executors.get_executor(executor, address)
    status = read_status(directory)
    if not (status.active or (status.state == DONE and not restart)):
        runner.check()  # an unreachable cluster: one sentence, before anything is written
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory.parent / ".submit.lock"):
            status = read_status(directory)
            if status.active or (status.state == DONE and not restart):
                return status
            write_json_atomic(directory / JOB_FILE, {"kind": kind, "spec": spec})
            if status.state is not None and status.state != FAILED:
                # A job marked done (or left in a state it cannot leave) whose result is gone.
                (directory / states.STATUS_FILE).unlink(missing_ok=True)
            elif status.state == FAILED and states.read_status(directory).state != FAILED:
                # Its file still says queued/running (a dead worker): record the failure first.
                states.transition(directory, FAILED, error=status.error)
            states.transition(directory, QUEUED, stage="starting the worker", pid=None,
                              executor=runner.name, address=runner.address,
                              **{"task": None, **runner.handle(directory)})  # fmt: skip
            try:
                found = runner.launch(directory)
            except executors.ExecutorUnavailable as exc:
                # Queued for nobody: say so, rather than leave a queued job no one runs.
                states.transition(directory, FAILED, stage=FAILED, error=str(exc))
                raise
            return states.update(directory, **found)
    except OSError as exc:
        raise storage_error(exc, directory / states.STATUS_FILE) from None


def wait(directory: Path, *, timeout: float = 600, poll: float = 0.2) -> Status:
    """Block until the job is no longer queued or running (or ``timeout`` seconds pass)."""
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(directory)
        if not status.active or time.monotonic() > deadline:
            return status
        time.sleep(poll)


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
