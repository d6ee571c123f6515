"""Training runs: the run store (the one owner of a run folder's layout), the job state
machine, the FIFO training queue, the executor that runs workers, what people do to runs,
and the training itself (``training``, imported only by workers: it imports Keras).

Pages and the CLI use the names below and never name a run's files.
"""

from mnist_core.runs.control import delete, delete_many, start, stop, stop_group, stop_many
from mnist_core.runs.history import (
    Progress,
    distinguishing_labels,
    history_frame,
    progress_of,
    smooth,
    spec_settings,
)
from mnist_core.runs.jobs import read_status, wait
from mnist_core.runs.queue import max_training, queue_place
from mnist_core.runs.states import ACTIVE, EVALUATED, FINAL, STATES, Status
from mnist_core.runs.store import (
    BaselineSpec,
    RunError,
    RunRecord,
    RunSummary,
    create_run,
    list_runs,
    load_run,
    open_run,
    runs_dir,
)


def evaluate_checkpoint(record: RunRecord) -> Status:
    """Evaluate the weights a crashed run kept (a background job in its
    ``checkpoint-eval`` folder); the job's status."""
    from mnist_core.runs import jobs

    return jobs.submit(record.paths.checkpoint_job, kind="checkpoint", spec={})


def checkpoint_status(record: RunRecord) -> Status:
    """Where the evaluation of a crashed run's checkpoint is (state None: never asked)."""
    return read_status(record.paths.checkpoint_job)


__all__ = [
    "ACTIVE", "EVALUATED", "FINAL", "STATES", "BaselineSpec", "Progress", "RunError",
    "RunRecord", "RunSummary", "Status", "checkpoint_status", "create_run", "delete",
    "delete_many", "distinguishing_labels", "evaluate_checkpoint", "history_frame",
    "list_runs", "load_run", "max_training", "open_run", "progress_of", "queue_place",
    "read_status", "runs_dir", "smooth", "spec_settings", "start", "stop", "stop_group",
    "stop_many", "wait",
]  # fmt: skip
