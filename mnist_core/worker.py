"""``python -m mnist_core.worker JOB_DIR``: do the job described in ``JOB_DIR/job.json``.

Kinds: ``embedding`` (see :mod:`mnist_core.embeddings`), ``train`` (see
:mod:`mnist_core.runs.training`), ``baseline`` (see :mod:`mnist_core.runs.baseline`) and
``checkpoint`` (evaluate the weights a crashed run kept). The worker holds its folder's
liveness lock for its whole life (see :mod:`mnist_core.runs.executor`), reports its stage
in ``status.json`` and ends it with the final state (done, stopped, cancelled, diverged or
failed), with one sentence for anything but done. The full traceback goes to stderr
(``worker.log``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from mnist_core.diskcache import (
    StorageError,
    remove_temporaries,
    storage_error,
    storage_error_in_message,
)
from mnist_core.runs import states
from mnist_core.runs.executor import hold_worker_lock


class JobProgress:
    """What a job reports while it works: its stage, and when it really starts running
    (a training run may first wait in the queue)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.began = time.time()
        self.message: str | None = None

    def stage(self, text: str) -> None:
        cpu = sum(os.times()[:2])  # this process's CPU seconds: a loaded machine's wall time lies
        print(f"[{time.time() - self.began:7.1f} s {cpu:6.1f} CPU-s] {text}", flush=True)
        states.update(self.directory, stage=text)

    def running(self) -> None:
        states.transition(self.directory, states.RUNNING)

    def fail_message(self, text: str) -> None:
        """The sentence to show with a final state other than done (e.g. diverged)."""
        self.message = text


def run_embedding(directory: Path, spec: dict, progress: JobProgress) -> str:
    from mnist_core import embeddings
    from mnist_core.data import load_dataset

    from mnist_core.diskcache import write_json_atomic
    from mnist_core.embeddings.fast import PROGRESS_FILE

    progress.running()
    (directory / PROGRESS_FILE).unlink(missing_ok=True)  # an earlier attempt's

    def on_progress(report: dict) -> None:
        try:
            write_json_atomic(directory / PROGRESS_FILE, report)
        except OSError:
            pass  # a full disk: the stage line still says where the job is

    request = embeddings.EmbeddingRequest.from_json(spec)
    progress.stage("loading the dataset")
    dataset = load_dataset(request.dataset, download=False)
    embeddings.compute_cached(request, dataset, on_stage=progress.stage, on_progress=on_progress)
    return states.DONE


def _queued_work(directory: Path, progress: JobProgress, work: Callable) -> str:
    """Wait for the run's turn in the training queue, then ``work(record, progress)``."""
    from mnist_core.runs.queue import training_slot
    from mnist_core.runs.store import load_run

    record = load_run(directory)
    # Wait for a slot before importing TensorFlow: a queued run costs almost nothing.
    with training_slot(directory, on_wait=lambda place: progress.stage(place.sentence()),
                       should_stop=lambda: record.stop_requested) as got_slot:  # fmt: skip
        if not got_slot:
            progress.stage("cancelled while queued")
            return states.CANCELLED
        progress.running()
        return work(record, progress)


def use_threads(record, progress: JobProgress, *, tensorflow: bool) -> int:
    """Keep this run to its share of the cores (:func:`mnist_core.runs.queue.threads_per_run`
    over the runs :func:`~mnist_core.runs.queue.sharing` them)
    before any library starts its thread pools: TensorFlow's intra- and inter-op pools
    (which must be set before its first op), OpenMP's and joblib's ``n_jobs=-1`` (the
    baseline's forest); and, when it shares them, its slot's cores as its CPU affinity (all
    backends). Recorded as the run's ``threads`` event and a line of its log."""
    from mnist_core.runs.queue import (available_cores, held_slot, max_training, sharing,
                                       slot_cpus, threads_per_run)  # fmt: skip

    slots, cores, shared = max_training(), available_cores(), sharing(record.directory)
    threads = threads_per_run(slots=shared, cores=cores)
    os.environ["OMP_NUM_THREADS"] = os.environ["LOKY_MAX_CPU_COUNT"] = str(threads)
    event = {"type": "threads", "threads": threads, "slots": slots, "cores": cores,
             "sharing": shared}  # fmt: skip
    # Its own cores too: XLA (JAX) sizes its pool from the cores it may run on and ignores
    # thread-count flags (measured), so a run sharing the machine keeps to its slot's cores.
    cpus = slot_cpus(held_slot(), threads) if held_slot() is not None else None
    if cpus:
        os.sched_setaffinity(0, cpus)
        event["cpus"] = cpus
    if tensorflow:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # TensorFlow already ran an op in this process: it keeps its pools
        event.update(intra_op=tf.config.threading.get_intra_op_parallelism_threads(),
                     inter_op=tf.config.threading.get_inter_op_parallelism_threads())  # fmt: skip
    record.append_event(event)
    progress.stage(f"{threads} thread{'' if threads == 1 else 's'} for this run ({shared} of "
                   f"{slots} slot{'' if slots == 1 else 's'} in use on {cores} "
                   f"core{'' if cores == 1 else 's'})")  # fmt: skip
    return threads


def run_train(directory: Path, spec: dict, progress: JobProgress) -> str:
    def train(record, progress):
        from mnist_core.runs.backend import prepare_backend

        backend = prepare_backend(record)  # sets KERAS_BACKEND before Keras is imported
        use_threads(record, progress, tensorflow=backend == "tensorflow")
        from mnist_core.runs.training import run_training

        return run_training(record, progress)

    return _queued_work(directory, progress, train)


def run_baseline(directory: Path, spec: dict, progress: JobProgress) -> str:
    def fit(record, progress):
        use_threads(record, progress, tensorflow=False)
        from mnist_core.runs.baseline import fit_and_evaluate

        return fit_and_evaluate(record, progress)

    return _queued_work(directory, progress, fit)


def run_checkpoint(directory: Path, spec: dict, progress: JobProgress) -> str:
    from mnist_core.runs.store import load_run
    from mnist_core.runs.training import evaluate_checkpoint

    return evaluate_checkpoint(load_run(directory.parent), progress)


def run_study(directory: Path, spec: dict, progress: JobProgress) -> str:
    from mnist_core.studies.driver import drive

    return drive(directory, progress)


RUNNERS: dict[str, Callable[[Path, dict, JobProgress], str]] = {
    "embedding": run_embedding,
    "train": run_train,
    "baseline": run_baseline,
    "checkpoint": run_checkpoint,
    "study": run_study,
    "export": lambda *job: __import__("mnist_core.inside.job", fromlist=["run"]).run(*job),
    "model-map": lambda *job: __import__("mnist_core.inside.model_map", fromlist=["run"]).run(*job),
}


def one_sentence(exc: BaseException, directory: Path) -> str:
    """The error as one line for the page: its message, or its type when it has none."""
    if isinstance(exc, OSError) and not isinstance(exc, StorageError):
        exc = storage_error(exc, getattr(exc, "filename", None) or directory)
    elif not isinstance(exc, StorageError):
        exc = storage_error_in_message(exc, directory) or exc
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not message:
        return f"The job failed with {type(exc).__name__}."
    if type(exc).__name__ in ("DatasetError", "ValueError", "SpecError", "RunError", "StorageError",
                              "StudyError"):  # fmt: skip
        return message
    return f"{type(exc).__name__}: {message}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mnist_core.worker JOB_DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    lock = hold_worker_lock(directory)  # noqa: F841 (held until the process ends)
    progress = JobProgress(directory)
    kind = None
    try:
        states.update(directory, pid=os.getpid(), stage="starting")
        job = json.loads((directory / "job.json").read_text())
        kind = job["kind"]
        final = RUNNERS[kind](directory, job["spec"], progress)
    except Exception as exc:
        traceback.print_exc()
        _remove_partial_files(directory, kind)
        states.transition(directory, states.FAILED, error=one_sentence(exc, directory),
                          stage=states.FAILED)  # fmt: skip
        return 1
    states.transition(directory, final, stage=final, error=progress.message)
    return 0


def _remove_partial_files(directory: Path, kind: str | None) -> None:
    """What a failed job leaves half-written: atomic-write temporaries, and a run's partial
    model or checkpoint."""
    try:
        remove_temporaries(directory)
        if kind in ("train", "baseline"):
            from mnist_core.runs.store import load_run

            load_run(directory).remove_partial_files()
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
