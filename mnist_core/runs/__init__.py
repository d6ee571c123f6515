"""Training runs: the run store, job states, the queue, the executor, and the work itself.

Pages and the CLI use the names below; only :mod:`mnist_core.runs.store` knows the files
of a run folder.
"""

from mnist_core.runs.store import (
    RunError,
    RunInfo,
    append_event,
    create_run,
    delete_run,
    history_frame,
    list_runs,
    max_training,
    progress_of,
    read_events,
    read_json,
    read_spec,
    request_stop,
    run_path,
    runs_dir,
    smooth,
    start,
    status_of,
    stop_requested,
    training_slot,
)

__all__ = [
    "RunError", "RunInfo", "append_event", "create_run", "delete_run", "history_frame",
    "list_runs", "max_training", "progress_of", "read_events", "read_json", "read_spec",
    "request_stop", "run_path", "runs_dir", "smooth", "start", "status_of", "stop_requested",
    "training_slot",
]  # fmt: skip
