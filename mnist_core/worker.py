"""``python -m mnist_core.worker JOB_DIR``: do the job described in ``JOB_DIR/job.json``.

Writes progress into ``status.json`` (stage, elapsed) and, at the end, ``done`` or
``failed`` with one sentence. The full traceback goes to stderr (``worker.log``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from mnist_core.jobs import update_status


def run_embedding(directory: Path, spec: dict, on_stage: Callable[[str], None]) -> None:
    from mnist_core import embeddings
    from mnist_core.datasets import load_dataset

    request = embeddings.EmbeddingRequest.from_json(spec)
    on_stage("loading the dataset")
    dataset = load_dataset(request.dataset, download=False)
    embeddings.compute_cached(request, dataset, on_stage=on_stage)


RUNNERS: dict[str, Callable[[Path, dict, Callable[[str], None]], None]] = {
    "embedding": run_embedding,
}


def one_sentence(exc: BaseException) -> str:
    """The error as one line for the page: its message, or its type when it has none."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not message:
        return f"The job failed with {type(exc).__name__}."
    if type(exc).__name__ in ("DatasetError", "ValueError"):
        return message
    return f"{type(exc).__name__}: {message}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mnist_core.worker JOB_DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    started = time.time()
    update_status(directory, state="running", pid=os.getpid(), started=started,
                  stage="starting")  # fmt: skip

    def on_stage(stage: str) -> None:
        print(f"[{time.time() - started:7.1f} s] {stage}", flush=True)
        update_status(directory, stage=stage)

    try:
        job = json.loads((directory / "job.json").read_text())
        runner = RUNNERS[job["kind"]]
        runner(directory, job["spec"], on_stage)
    except Exception as exc:
        traceback.print_exc()
        update_status(directory, state="failed", error=one_sentence(exc), finished=time.time())
        return 1
    update_status(directory, state="done", stage="done", finished=time.time())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
