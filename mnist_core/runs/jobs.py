"""Background jobs: a directory, a worker process, and files that anyone can poll.

A job directory holds ``job.json`` (what to do: a kind and a spec), ``status.json``
(replaced atomically: ``state`` queued | running | done | failed, ``stage``, times,
``error``, ``pid``) and ``worker.log`` (the worker's output). The worker is
``python -m mnist_core.worker DIR``; it takes the directory and nothing else, so
:func:`launch` is the one seam to replace to run jobs elsewhere (a cluster, a scheduler).

:func:`submit` is idempotent across processes: while a job for a directory is queued or
running, a second submit joins it instead of starting another.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mnist_core.diskcache import write_json_atomic
from mnist_core.paths import PROJECT_ROOT

STATES = ("queued", "running", "done", "failed")
ACTIVE = ("queued", "running")

# Worker processes this process started; polled so that finished ones are reaped.
_children: list[subprocess.Popen] = []


def read_status(directory: Path) -> dict[str, Any]:
    """The job's status; ``{"state": "missing"}`` when there is none.

    A job whose status says queued or running but whose worker process is gone is marked
    failed here, so no job stays "running" forever.
    """
    _reap()
    try:
        status = json.loads((directory / "status.json").read_text())
    except FileNotFoundError:
        return {"state": "missing"}
    except (OSError, ValueError):
        return {"state": "failed", "error": "The job's status file is damaged."}
    if status.get("state") in ACTIVE and not _worker_alive(status.get("pid")):
        # Read again: the worker may have finished between the two reads.
        status = json.loads((directory / "status.json").read_text())
        if status.get("state") in ACTIVE and not _worker_alive(status.get("pid")):
            tail = _log_tail(directory / "worker.log")
            status = update_status(
                directory,
                state="failed",
                error=f"The worker process (pid {status.get('pid')}) stopped unexpectedly"
                + (f"; its last words: {tail}" if tail else "; see worker.log in the job folder."),
                finished=time.time(),
            )
    return status


def _log_tail(path: Path, lines: int = 3) -> str:
    """The last few lines of a worker's log, joined into one line ("" if none)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


def update_status(directory: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into ``status.json`` (atomically) and return the new status."""
    try:
        status = json.loads((directory / "status.json").read_text())
    except (OSError, ValueError):
        status = {}
    status.update(fields, updated=time.time())
    write_json_atomic(directory / "status.json", status)
    return status


def submit(directory: Path, *, kind: str, spec: dict) -> dict[str, Any]:
    """Start the job in ``directory`` unless it is already queued, running or done; return
    its status. A failed job is started again."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / ".submit.lock"):
        status = read_status(directory)
        if status["state"] in (*ACTIVE, "done"):
            return status
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "job.json", {"kind": kind, "spec": spec})
        now = time.time()
        write_json_atomic(
            directory / "status.json",
            {"state": "queued", "stage": "starting the worker", "submitted": now,
             "updated": now, "error": None, "pid": None},
        )  # fmt: skip
        pid = launch(directory)
        return update_status(directory, pid=pid)


def launch(directory: Path) -> int:
    """Start ``python -m mnist_core.worker DIR`` detached from this process; its pid."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with open(directory / "worker.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mnist_core.worker", str(directory)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
        )  # fmt: skip
    _children.append(process)
    return process.pid


def wait(directory: Path, *, timeout: float = 600, poll: float = 0.2) -> dict[str, Any]:
    """Block until the job is done or failed (or ``timeout`` seconds pass); its status."""
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(directory)
        if status["state"] not in ACTIVE or time.monotonic() > deadline:
            return status
        time.sleep(poll)


def _worker_alive(pid: int | None) -> bool:
    if not pid:
        return True  # queued, not launched yet: the submitter holds the lock
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a worker that died but was not reaped yet is a zombie ("Z")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _reap() -> None:
    for process in list(_children):
        if process.poll() is not None:
            _children.remove(process)


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
