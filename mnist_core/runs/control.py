"""What a person does to runs: start them, stop them (one, a selection, a whole grid),
delete them. Each action says what it did in one sentence.

Whichever executor runs a run (this machine, or a Ray cluster), Stop is the same request
in the run's folder: a queued run is cancelled, a running one stops within a few batches
(on Ray, the job's owner also cancels a task that has not ended within a grace period; see
:mod:`mnist_core.runs.ray_executor`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from mnist_core.diskcache import storage_error
from mnist_core.runs import jobs
from mnist_core.runs.executor import ExecutorUnavailable
from mnist_core.runs.states import ACTIVE, QUEUED, Status
from mnist_core.runs.store import RunError, RunRecord, list_runs, runs_dir


def start(record: RunRecord, *, executor: str | None = None, address: str | None = None) -> Status:
    """Queue the run for a background worker; its status. ``executor`` (default
    ``$MNIST_EXECUTOR``, else local) and ``address`` (a Ray cluster's HOST:PORT) say where.

    An executor that cannot be reached raises ExecutorUnavailable (one sentence); a run that
    was never queued is then removed, so no half-made run is left behind."""
    try:
        return jobs.submit(record.directory, kind=record.kind, spec={}, executor=executor,
                           address=address)  # fmt: skip
    except ExecutorUnavailable:
        if jobs.read_status(record.directory).state is None:
            shutil.rmtree(record.directory, ignore_errors=True)
        raise


def stop(record: RunRecord) -> str:
    """Ask the run to end: a queued run is cancelled before it trains, a running one stops
    within a few batches and keeps what it learnt. Returns what happened."""
    status = jobs.read_status(record.directory)
    if status.state not in ACTIVE:
        return f"Run {record.run_id} is already {status.state or 'gone'}."
    try:
        record.request_stop()
    except OSError as exc:
        raise storage_error(exc, record.paths.stop) from None
    if status.state == QUEUED:
        return f"Run {record.run_id} is cancelled before it trains."
    return f"Run {record.run_id} stops within a few batches."


def stop_many(records: Iterable[RunRecord]) -> list[str]:
    """:func:`stop` for each active run among ``records``; one sentence per run stopped."""
    return [stop(record) for record in records
            if jobs.read_status(record.directory).state in ACTIVE]  # fmt: skip


def stop_group(group: str) -> list[str]:
    """Stop every active run launched together as ``group`` (a grid, a study)."""
    return stop_many(r for r in list_runs() if r.group == group)


def delete(record: RunRecord) -> None:
    """Remove a run's folder. A queued or running run must be stopped first: RunError."""
    status = jobs.read_status(record.directory)
    if status.state in ACTIVE:
        raise RunError(
            f"Run {record.run_id} is still {status.state}; stop it first, then delete it."
        )
    if record.directory.parent.resolve() != runs_dir().resolve():
        raise RunError(f"{record.directory} is not a run folder.")
    try:
        shutil.rmtree(record.directory)
    except OSError as exc:
        raise storage_error(exc, record.directory) from None


def delete_many(records: Iterable[RunRecord]) -> tuple[int, list[str]]:
    """Delete every run it may; ``(deleted, sentences for those it may not)``."""
    deleted, refused = 0, []
    for record in records:
        try:
            delete(record)
            deleted += 1
        except (RunError, OSError) as exc:
            refused.append(str(exc))
    return deleted, refused
