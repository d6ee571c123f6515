"""The ``ray`` executor's side on the cluster: one owner actor per job, and the task that
runs the job's worker. See :mod:`mnist_core.runs.ray_executor` for the design
(why a detached owner, how the FIFO queue, Stop and liveness work on Ray).
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from mnist_core.runs import states
from mnist_core.runs.executor import LOG_FILE
from mnist_core.runs.ray_executor import first_line, remote
from mnist_core.runs.states import CANCELLED, FAILED, QUEUED, Status

POLL_SECONDS = 0.5


def shipped():
    """The owner actor class and the worker task function, made here so that Ray ships their
    code: a worker Ray has already started (which does not know this checkout, nor the
    submitter's settings) can run them, so a job starts without a fresh Python process and
    runtime environment for each. They set the job's environment and import path, then call
    this module."""

    class JobOwner:
        def __init__(self, directory: str, options: dict):
            import os
            import sys

            os.environ.update(options["env"])
            sys.path.insert(0, options["root"])
            from mnist_core.runs.ray_owner import own

            own(directory, options)

    def run_job(directory: str, options: dict) -> int:
        import os
        import sys

        os.environ.update(options["env"])
        sys.path.insert(0, options["root"])
        from mnist_core.runs.ray_owner import run_worker

        return run_worker(directory)

    return JobOwner, run_job


def run_worker(directory: str) -> int:
    """The Ray task of a job: ``mnist_core.worker``'s main on its folder (a process of its
    own, ``max_calls=1``), its output appended to the folder's log as a local worker's is."""
    _log_to(Path(directory))
    from mnist_core import worker

    return worker.main([directory])


def _log_to(directory: Path) -> None:
    handle = os.open(directory / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)


def own(directory: str, options: dict) -> None:
    """The life of a job's owner actor (detached, 0 CPUs): its whole work happens while it
    is created, so Ray (not a submitter) owns it from the start; it exits at the end."""
    import ray

    folder = Path(directory)
    _log_to(folder)
    try:
        _own(ray, folder, options)
    except Exception as exc:  # noqa: BLE001 (said in the job's status, never lost)
        traceback.print_exc()
        if states.read_status(folder).active:
            why = f"The job's Ray owner failed: {first_line(exc)}."
            states.transition(folder, FAILED, stage=FAILED, error=why)
    finally:
        ray.actor.exit_actor()


def _own(ray, directory: Path, options: dict) -> None:
    from mnist_core.runs.store import RunPaths

    stop = RunPaths(directory).stop
    cpus, gpus = options["cpus"], options["gpus"]
    if not _wait_for_turn(ray, directory, stop, cpus):
        return
    need = f"{cpus:g} CPU{'' if cpus == 1 else 's'}" + (f" and {gpus:g} GPU" if gpus else "")
    states.update(directory, stage=f"waiting for {need} on the Ray cluster")
    ref = remote(ray, "task").options(num_cpus=cpus, num_gpus=gpus).remote(str(directory), options)
    cancelled = None  # "queued" or "grace": why this owner cancelled the task
    while not ray.wait([ref], timeout=POLL_SECONDS)[0]:
        if cancelled or not stop.exists():
            continue
        status = states.read_status(directory)
        if status.state == QUEUED and status.pid is None:
            cancelled = "queued"  # Ray has not started it: nothing to save
        elif time.time() - stop.stat().st_mtime > options["grace"]:
            cancelled = "grace"
        if cancelled:
            ray.cancel(ref, force=True)
    error = None
    try:
        ray.get(ref)
    except Exception as exc:  # noqa: BLE001 (the task died or was cancelled)
        error = exc
    status = states.read_status(directory)
    if not status.active:  # the worker said how it ended
        return
    if status.state == QUEUED and cancelled:
        states.transition(directory, CANCELLED, stage="cancelled while queued")
    elif cancelled:
        states.transition(directory, FAILED, stage=FAILED, error=(
            f"It did not stop within {options['grace']:g} s of the Stop request, so its Ray "
            "task was cancelled."))  # fmt: skip
    else:
        states.transition(directory, FAILED, stage=FAILED, error=_died(directory, status, error))


def _wait_for_turn(ray, directory: Path, stop: Path, cpus: float) -> bool:
    """Wait until no live queued Ray job of the folder was submitted before this one, saying
    where it stands as a local run does; False when it was cancelled (or ended) meanwhile."""
    shown = None
    while True:
        status = states.read_status(directory)
        if status.state != QUEUED:
            return False
        if stop.exists():
            states.transition(directory, CANCELLED, stage="cancelled while queued")
            return False
        ahead, training = _place(directory, status)
        if ahead == 0:
            return True
        if (ahead, training) != shown:
            slots = max(1, int(ray.cluster_resources().get("CPU", 0) // cpus))
            jobs = "job" if ahead == 1 else "jobs"
            states.update(directory, stage=f"waiting in the Ray queue: {ahead} {jobs} ahead, "
                          f"{training} training now ({slots} may train at once)")  # fmt: skip
            shown = (ahead, training)
        time.sleep(POLL_SECONDS)


def _place(directory: Path, status: Status) -> tuple[int, int]:
    """Live queued Ray jobs of the same folder submitted before this one, and live running
    ones."""
    from mnist_core.runs import jobs

    mine = (status.submitted or 0.0, directory.name)
    ahead = training = 0
    for other in directory.parent.iterdir():
        if other == directory or other.name.startswith(".") or not other.is_dir():
            continue
        seen = states.read_status(other)  # the file: cheap, no liveness
        if seen.executor != "ray" or not seen.active:
            continue
        if seen.state == QUEUED and (seen.submitted or 0.0, other.name) > mine:
            continue
        state = jobs.read_status(other).state  # asks Ray whether it lives
        ahead += state == QUEUED
        training += state == states.RUNNING
    return ahead, training


def _died(directory: Path, status: Status, error: BaseException | None) -> str:
    """The sentence of a task that ended without a final state."""
    name = type(error).__name__ if error is not None else ""
    if name == "WorkerCrashedError":
        how = "was killed or crashed"
    elif name == "OutOfMemoryError":
        how = "was killed: its node ran out of memory"
    elif name in ("NodeDiedError", "ActorDiedError"):
        how = "was lost with its node"
    else:
        how = f"ended without a final state ({first_line(error)})" if error else \
            "ended without a final state"  # fmt: skip
    pid = f" (pid {status.pid})" if status.pid else ""
    tail = states.log_tail(directory / LOG_FILE)
    return (f"The Ray worker{pid} {how}" + (f"; its last words: {tail}" if tail else
            "; see worker.log in the job folder."))  # fmt: skip
