"""Where a job's work runs: the one seam between a job folder and a worker.

An executor starts the worker of a job folder (``mnist_core.worker``'s ``main`` on that
folder) and says whether that worker is alive. Pages and the CLI never know which executor
ran a job: they read the folder. ``local`` (the default) starts a detached process on this
machine; ``ray`` (:mod:`mnist_core.runs.ray_executor`, imported only when a job says ray)
runs it on a Ray cluster. ``$MNIST_EXECUTOR`` picks the executor of new jobs (and
``$MNIST_RAY_ADDRESS`` the cluster); the status of each job records the executor that
runs it (and its handle there), so :func:`alive` asks the right one, whatever the
environment of the process that reads it.

Liveness of a local worker is a lock, not a pid: the worker holds an exclusive ``flock`` on
``worker.lock`` in its folder for its whole life, and the kernel releases it the moment the
process ends, however it ends. A pid can be reused by an unrelated process after a reboot or
a long uptime; a released lock cannot be mistaken for a live worker.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from mnist_core.diskcache import StorageError
from mnist_core.paths import PROJECT_ROOT
from mnist_core.runs.states import QUEUED, Status

LOCK_FILE = "worker.lock"
LOG_FILE = "worker.log"
# A queued job whose worker has not taken its lock after this long never started.
STARTUP_GRACE_SECONDS = 60.0
EXECUTOR_ENV = "MNIST_EXECUTOR"
RAY_ADDRESS_ENV = "MNIST_RAY_ADDRESS"


class ExecutorUnavailable(StorageError):
    """The place where work runs cannot be used now (a Ray cluster that cannot be reached,
    Ray not installed); ``str()`` is one sentence. It is an OSError like a full disk, so
    every page and command that shows a storage problem in one sentence shows this one."""

    def __init__(self, sentence: str):
        super().__init__(0, sentence)

# Worker processes this process started; polled so that finished ones are reaped.
_children: list[subprocess.Popen] = []


class LocalExecutor:
    """Worker processes on this machine, detached from the caller (a server restart leaves
    them running)."""

    name = "local"
    address = None

    def check(self) -> None:
        """Nothing to reach: workers start on this machine."""

    def slots(self) -> int:
        """How many runs may train at once here (``$MNIST_MAX_TRAINING``)."""
        from mnist_core.runs.queue import max_training

        return max_training()

    def handle(self, directory: Path) -> dict:
        """Status fields to record before the worker starts (none: its pid comes after)."""
        return {}

    def launch(self, directory: Path) -> dict:
        """Start the worker for ``directory``; the status fields that find it (its pid).
        An embedding job goes to the warm embedding worker (a fork of a process that has
        its imports done, :mod:`mnist_core.embeddings.warm`) when one can be reached."""
        _reap()
        if _kind(directory) == "embedding":
            from mnist_core.embeddings import warm

            pid = warm.launch(directory)
            if pid is not None:
                return {"pid": pid}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        with open(directory / LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mnist_core.worker", str(directory)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=PROJECT_ROOT, env=env, start_new_session=True,
            )  # fmt: skip
        _children.append(process)
        return {"pid": process.pid}

    def alive(self, directory: Path, status: Status) -> bool:
        """Whether the worker of an active job is still there."""
        _reap()
        if worker_holds_lock(directory):
            return True
        # Not (or no longer) holding its lock: alive only while it may still be starting
        # (before its pid is recorded, the submitter is still launching it).
        since = status.submitted or status.updated or 0.0
        if status.state == QUEUED and time.time() - since < STARTUP_GRACE_SECONDS:
            return status.pid is None or pid_running(status.pid)
        return False


def _kind(directory: Path) -> str | None:
    import json

    try:
        return json.loads((directory / "job.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def worker_holds_lock(directory: Path) -> bool:
    """Whether some process holds the worker lock of ``directory``."""
    try:
        handle = open(directory / LOCK_FILE, "rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def hold_worker_lock(directory: Path):
    """Called by the worker first thing: take the lock and keep it until the process ends.
    Returns the open handle (keep a reference to it)."""
    handle = open(directory / LOCK_FILE, "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` runs: it exists and is not a zombie (dead, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a worker that died but was not reaped yet is a zombie ("Z")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _reap() -> None:
    for process in list(_children):
        if process.poll() is not None:
            _children.remove(process)


def _ray_executor(address: str | None = None):
    """The Ray executor, imported only now: a process that never meets a Ray job never
    imports Ray."""
    from mnist_core.runs.ray_executor import RayExecutor

    return RayExecutor(address)


EXECUTORS = {"local": lambda address=None: LocalExecutor(), "ray": _ray_executor}


def get_executor(name: str | None = None, address: str | None = None):
    """The executor named ``name`` (default: ``$MNIST_EXECUTOR`` or ``local``); for ``ray``,
    on the cluster at ``address`` (default ``$MNIST_RAY_ADDRESS``). Nothing is connected yet:
    :meth:`check` (or the first launch) does that."""
    name = name or os.environ.get(EXECUTOR_ENV) or "local"
    try:
        factory = EXECUTORS[name]
    except KeyError:
        raise ValueError(
            f"Unknown executor {name!r} (from {EXECUTOR_ENV}); use one of {', '.join(EXECUTORS)}."
        ) from None
    return factory(address)


def alive(directory: Path, status: Status) -> bool | str:
    """Whether the worker of the active job in ``directory`` is there, asked of the executor
    its status records (a local job: its lock; a Ray job: its actor), not of this process's
    default: True, or False or a sentence when it is gone (see ``states.read_status``)."""
    if status.executor == "local":
        return LocalExecutor().alive(directory, status)
    if status.executor not in EXECUTORS:
        return f"The job names an unknown executor {status.executor!r}."
    return EXECUTORS[status.executor](status.address).alive(directory, status)
