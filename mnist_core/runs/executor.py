"""Where a job's work runs: the one seam between a job folder and a worker.

An executor starts ``python -m mnist_core.worker DIR`` for a job folder and says whether
that worker is alive. Pages and the CLI never know which executor ran a job: they read the
folder. ``local`` (the default) starts a detached process on this machine.

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

from mnist_core.paths import PROJECT_ROOT
from mnist_core.runs.states import QUEUED, Status

LOCK_FILE = "worker.lock"
LOG_FILE = "worker.log"
# A queued job whose worker has not taken its lock after this long never started.
STARTUP_GRACE_SECONDS = 60.0
EXECUTOR_ENV = "MNIST_EXECUTOR"

# Worker processes this process started; polled so that finished ones are reaped.
_children: list[subprocess.Popen] = []


class LocalExecutor:
    """Worker processes on this machine, detached from the caller (a server restart leaves
    them running)."""

    name = "local"

    def launch(self, directory: Path) -> int:
        """Start the worker for ``directory``; its pid."""
        _reap()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        with open(directory / LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mnist_core.worker", str(directory)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=PROJECT_ROOT, env=env, start_new_session=True,
            )  # fmt: skip
        _children.append(process)
        return process.pid

    def alive(self, directory: Path, status: Status) -> bool:
        """Whether the worker of an active job is still there."""
        _reap()
        if worker_holds_lock(directory):
            return True
        # Not (or no longer) holding its lock: alive only while it may still be starting
        # (before its pid is recorded, the submitter is still launching it).
        since = status.submitted or status.updated or 0.0
        if status.state == QUEUED and time.time() - since < STARTUP_GRACE_SECONDS:
            return status.pid is None or _pid_running(status.pid)
        return False


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


def _pid_running(pid: int) -> bool:
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


EXECUTORS = {"local": LocalExecutor}


def get_executor(name: str | None = None) -> LocalExecutor:
    """The executor named ``name`` (default: ``$MNIST_EXECUTOR`` or ``local``)."""
    name = name or os.environ.get(EXECUTOR_ENV) or "local"
    try:
        return EXECUTORS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown executor {name!r} (from {EXECUTOR_ENV}); use one of {', '.join(EXECUTORS)}."
        ) from None
