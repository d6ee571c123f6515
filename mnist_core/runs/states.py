"""The one state machine of every job folder (training runs, baselines, embeddings).

A job is in exactly one of :data:`STATES`. ``status.json`` in its folder records the state,
and only the party that changes the state writes it, through :func:`transition`: the
submitter (``queued``), the worker (``running`` and its final state), the executor for a
worker it saw end without saying so (Ray's owner of the job writes ``cancelled`` for a job
stopped before its task started, ``failed`` for a task that died), or a person's Stop on a
job whose worker is gone (``cancelled``/``failed``). Reading never writes: :func:`read_status`
derives ``failed`` for a job whose worker died without saying so, from the liveness its
executor reports, and the run store derives ``damaged`` for a run whose files are broken.

    queued ──▶ running ──▶ done | stopped | diverged | failed
      │
      └──▶ cancelled | failed              failed ──▶ queued   (a retry)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from mnist_core.diskcache import write_json_atomic

QUEUED, RUNNING, DONE, STOPPED, CANCELLED, DIVERGED, FAILED, DAMAGED = (
    "queued", "running", "done", "stopped", "cancelled", "diverged", "failed", "damaged",
)  # fmt: skip
STATES = (QUEUED, RUNNING, DONE, STOPPED, CANCELLED, DIVERGED, FAILED, DAMAGED)
ACTIVE = (QUEUED, RUNNING)
FINAL = (DONE, STOPPED, CANCELLED, DIVERGED, FAILED)
# States whose run has test-set results (a failed run may too, from its last checkpoint).
EVALUATED = (DONE, STOPPED)

TRANSITIONS: dict[str | None, tuple[str, ...]] = {
    None: (QUEUED,),
    QUEUED: (RUNNING, CANCELLED, FAILED),
    RUNNING: (DONE, STOPPED, DIVERGED, FAILED),
    FAILED: (QUEUED,),
    CANCELLED: (),
    DONE: (),
    STOPPED: (),
    DIVERGED: (),
}
# A final state that may be written again over itself (a retry of a failed embedding, say).
_RESTARTABLE = (FAILED,)

STATUS_FILE = "status.json"


class TransitionError(ValueError):
    """A state change the machine does not allow; one sentence."""


@dataclass(frozen=True)
class Status:
    """What ``status.json`` says, plus what reading it derived.

    ``state`` is one of :data:`STATES`, or None when the folder has no status (never
    submitted). ``position`` is filled in by the queue for queued runs.
    """

    state: str | None
    stage: str = ""
    error: str | None = None
    submitted: float | None = None
    started: float | None = None
    finished: float | None = None
    updated: float | None = None
    pid: int | None = None
    executor: str = "local"  # where the worker runs: "local" or "ray" (see runs.executor)
    task: str | None = None  # the executor's handle of the job (Ray: its actor's name)
    address: str | None = None  # the executor's address (Ray: the cluster's HOST:PORT)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Status:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if known.get("state") not in (*STATES, None):
            known["state"] = FAILED
            known["error"] = f"The status file names an unknown state {data.get('state')!r}."
        return cls(**known)


def read_status(
    directory: Path, *, alive: Callable[[Path, Status], bool | str] | None = None
) -> Status:
    """The job's status, never writing anything.

    Args:
        directory: the job folder.
        alive: the executor's liveness check: True while the worker of a queued or running
            job is there; False (or the sentence saying why) when it is gone, and the status
            is then reported ``failed`` with that sentence (the file is left as it is: the
            job did not change, only our knowledge of it).
    """
    try:
        text = (directory / STATUS_FILE).read_text()
    except FileNotFoundError:
        return Status(None)
    except OSError as exc:
        return Status(FAILED, error=f"The job's status file cannot be read ({exc.strerror}).")
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return Status(FAILED, error="The job's status file is damaged.")
    status = Status.from_json(data)
    if status.active and alive is not None:
        verdict = alive(directory, status)
        if verdict is True:
            return status
        # Read once more: the worker may have finished between the two looks.
        again = read_status(directory)
        if again.active:
            why = verdict if isinstance(verdict, str) else _dead_worker_sentence(directory, again)
            return replace(again, state=FAILED, error=why)
        return again
    return status


def transition(directory: Path, to: str, **fields: Any) -> Status:
    """Move the job to state ``to`` (checked against :data:`TRANSITIONS`), with ``fields``
    (stage, error, pid, ...) merged in; written atomically. Returns the new status."""
    current = read_status(directory)
    allowed = TRANSITIONS.get(current.state, ())
    if to not in allowed and not (to == current.state and to in _RESTARTABLE):
        raise TransitionError(
            f"A job that is {current.state or 'new'} cannot become {to} "
            f"(it can become {', '.join(allowed) or 'nothing else'})."
        )
    now = time.time()
    stamps = {"queued": {"submitted": now, "started": None, "finished": None, "error": None},
              "running": {"started": now}}.get(to, {"finished": now} if to in FINAL else {})  # fmt: skip
    return _write(directory, current, state=to, **{**stamps, **fields})


def update(directory: Path, **fields: Any) -> Status:
    """Change fields other than the state (stage, pid, task) of the job's status."""
    if "state" in fields:
        raise TransitionError("Change a job's state with transition(), not update().")
    return _write(directory, read_status(directory), **fields)


def _write(directory: Path, current: Status, **fields: Any) -> Status:
    new = replace(current, **fields, updated=time.time())
    try:
        write_json_atomic(directory / STATUS_FILE, new.to_json())
    except OSError:
        # A full disk has no room for a temporary file; a status fits in the block the old
        # one already holds, so overwrite it in place rather than lose the state.
        _write_in_place(directory / STATUS_FILE, new.to_json())
    return new


def _write_in_place(path: Path, data: dict) -> None:
    text = json.dumps(data, separators=(",", ":")).encode()
    with open(path, "r+b" if path.exists() else "wb") as f:
        f.write(text)
        f.truncate()


def _dead_worker_sentence(directory: Path, status: Status) -> str:
    from mnist_core.diskcache import disk_is_full

    what = "never started" if status.pid is None and status.state == QUEUED else "stopped unexpectedly"
    sentence = f"The worker process{f' (pid {status.pid})' if status.pid else ''} {what}"
    if disk_is_full(directory):
        return sentence + f": the disk holding {directory.parent} is full."
    tail = log_tail(directory / "worker.log")
    return sentence + (f"; its last words: {tail}" if tail else "; see worker.log in the job folder.")


def log_tail(path: Path, lines: int = 3) -> str:
    """The last few lines of a worker's log, joined into one line ("" if none)."""
    import os

    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)
