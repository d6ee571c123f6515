"""``python -m mnist_core.worker JOB_DIR``: do the job described in ``JOB_DIR/job.json``.

Kinds: ``embedding`` (see :mod:`mnist_core.embeddings`), ``train`` (see
:mod:`mnist_core.runs.training`) and ``baseline`` (see :mod:`mnist_core.runs.baseline`). Writes progress into ``status.json`` and, at the end, the final
state (done, stopped, diverged or failed) with one sentence for a failure. The full
traceback goes to stderr (``worker.log``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from mnist_core.runs.jobs import update_status


class Progress:
    """What a job reports while it works: its stage, and when it really starts running
    (a training run may first wait in the queue)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.began = time.time()
        self.message: str | None = None

    def stage(self, text: str) -> None:
        print(f"[{time.time() - self.began:7.1f} s] {text}", flush=True)
        update_status(self.directory, stage=text)

    def running(self) -> None:
        update_status(self.directory, state="running", started=time.time())

    def fail_message(self, text: str) -> None:
        """The sentence to show with a final state other than done (e.g. diverged)."""
        self.message = text


def run_embedding(directory: Path, spec: dict, progress: Progress) -> str:
    from mnist_core import embeddings
    from mnist_core.data.datasets import load_dataset

    progress.running()
    request = embeddings.EmbeddingRequest.from_json(spec)
    progress.stage("loading the dataset")
    dataset = load_dataset(request.dataset, download=False)
    embeddings.compute_cached(request, dataset, on_stage=progress.stage)
    return "done"


def run_train(directory: Path, spec: dict, progress: Progress) -> str:
    from mnist_core import runs

    def waiting(ahead: int) -> None:
        progress.stage(f"waiting in the queue: {ahead} run{'s' if ahead != 1 else ''} ahead, "
                       f"{runs.max_training()} may train at once")  # fmt: skip

    # Wait for a slot before importing TensorFlow: a queued run costs almost nothing.
    with runs.training_slot(directory, on_wait=waiting) as got_slot:
        if not got_slot:
            progress.stage("stopped while queued")
            return "stopped"
        progress.running()
        from mnist_core.runs.training import run_training

        return run_training(directory, progress)


def run_baseline(directory: Path, spec: dict, progress: Progress) -> str:
    from mnist_core.runs.baseline import run_baseline as fit_and_evaluate

    return fit_and_evaluate(directory, progress)


RUNNERS: dict[str, Callable[[Path, dict, Progress], str]] = {
    "embedding": run_embedding,
    "train": run_train,
    "baseline": run_baseline,
}


def one_sentence(exc: BaseException) -> str:
    """The error as one line for the page: its message, or its type when it has none."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not message:
        return f"The job failed with {type(exc).__name__}."
    if type(exc).__name__ in ("DatasetError", "ValueError", "SpecError", "RunError"):
        return message
    return f"{type(exc).__name__}: {message}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mnist_core.worker JOB_DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    update_status(directory, pid=os.getpid(), stage="starting")
    progress = Progress(directory)
    try:
        job = json.loads((directory / "job.json").read_text())
        final = RUNNERS[job["kind"]](directory, job["spec"], progress)
    except Exception as exc:
        traceback.print_exc()
        update_status(directory, state="failed", error=one_sentence(exc), finished=time.time())
        return 1
    update_status(directory, state=final, stage=final, error=progress.message,
                  finished=time.time())  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
