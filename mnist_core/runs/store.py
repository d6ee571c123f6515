"""The run store: one directory per training run under ``<cache>/runs/``.

A run directory is self-describing; everything a page, the CLI or a comparison shows about
a run can be recomputed from it:

- ``run.json``: id, dataset, fingerprint, input shape, classes, created time, parameters;
- ``spec.json``: the :class:`~mnist_core.models.spec.ModelSpec`;
- ``status.json``: state (queued, running, done, stopped, diverged, failed), stage, times,
  error, pid; replaced atomically (see :mod:`mnist_core.runs.jobs`);
- ``events.jsonl``: append-only batch and epoch metrics, learning rate, timings;
- at the end: ``model.keras``, ``test_probabilities.npy``, ``summary.json``, ``tb/``
  (TensorBoard logs: ``tensorboard --logdir cache/runs``), ``worker.log``.

Training is done by ``python -m mnist_core.worker RUN_DIR``; at most
``$MNIST_MAX_TRAINING`` runs (default 1) train at once, later ones wait in a queue.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_core.runs import jobs
from mnist_core import paths
from mnist_core.diskcache import write_json_atomic
from mnist_core.models.spec import ModelSpec, SpecError, analyze

if TYPE_CHECKING:
    import pandas as pd

FINAL_STATES = ("done", "stopped", "diverged", "failed")
STOP_FILE = "stop_requested"
MAX_TRAINING_ENV = "MNIST_MAX_TRAINING"


class RunError(ValueError):
    """A run id or directory that cannot be used; one sentence."""


def runs_dir() -> Path:
    return paths.cache_dir() / "runs"


def run_path(run_id: str) -> Path:
    """The directory of ``run_id``, refusing anything that would leave the runs folder."""
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise RunError(f"{run_id!r} is not a run id (run ids look like 20261121-101500-ab12).")
    path = runs_dir() / run_id
    if not path.is_dir():
        raise RunError(f"There is no run {run_id} in {runs_dir()}.")
    return path


def create_run(
    spec: ModelSpec,
    *,
    dataset: str,
    fingerprint: str,
    input_shape: tuple[int, int],
    n_classes: int,
) -> Path:
    """Validate ``spec`` and write a new run directory for it (not started yet)."""
    analysis = analyze(spec, input_shape=input_shape, n_classes=n_classes)
    analysis.raise_first()
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    directory = runs_dir() / run_id
    directory.mkdir(parents=True)
    write_json_atomic(directory / "spec.json", spec.to_json())
    write_json_atomic(directory / "run.json", {
        "run_id": run_id, "name": spec.name, "dataset": dataset, "fingerprint": fingerprint,
        "input_shape": list(input_shape), "n_classes": n_classes,
        "params": analysis.total_params, "created": time.time(),
    })  # fmt: skip
    return directory


def start(directory: Path) -> dict[str, Any]:
    """Queue the run for a background worker; its status."""
    return jobs.submit(directory, kind="train", spec={})


def request_stop(directory: Path) -> None:
    """Ask the worker to stop after the current batch (it checks every batch)."""
    (directory / STOP_FILE).touch()


def stop_requested(directory: Path) -> bool:
    return (directory / STOP_FILE).exists()


def read_events(directory: Path) -> list[dict]:
    """Events in order; a damaged or half-written line (a worker killed mid-write) is skipped."""
    try:
        lines = (directory / "events.jsonl").read_text().splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def append_event(directory: Path, event: dict) -> None:
    with open(directory / "events.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_spec(directory: Path) -> ModelSpec:
    data = read_json(directory / "spec.json")
    if data is None:
        raise RunError(f"Run {directory.name} has no readable spec.json.")
    try:
        return ModelSpec.from_json(data)
    except SpecError as exc:
        raise RunError(f"Run {directory.name}: {exc}") from None


@dataclass(frozen=True)
class RunInfo:
    """What a list of runs shows: the run's facts, status and summary (when finished)."""

    directory: Path
    info: dict
    status: dict
    summary: dict | None

    @property
    def run_id(self) -> str:
        return self.directory.name

    @property
    def state(self) -> str:
        return self.status.get("state", "missing")


def list_runs() -> list[RunInfo]:
    """Every run, newest first. A run whose run.json is unreadable is listed as damaged."""
    root = runs_dir()
    if not root.is_dir():
        return []
    result = []
    for directory in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                            reverse=True):  # fmt: skip
        info = read_json(directory / "run.json")
        status = status_of(directory, info)
        info = info or {"run_id": directory.name, "name": "?", "dataset": "?"}
        result.append(RunInfo(directory, info, status, read_json(directory / "summary.json")))
    return result


def status_of(directory: Path, info: dict | None = None) -> dict:
    """The run's status, with state ``damaged`` and a sentence when its files are broken."""
    info = info if info is not None else read_json(directory / "run.json")
    status = jobs.read_status(directory)
    problems = run_problems(directory, info, status)
    if problems:
        status = {**status, "state": "damaged",
                  "error": f"Run {directory.name} is damaged: {'; '.join(problems)}."}  # fmt: skip
    return status


def run_problems(directory: Path, info: dict | None, status: dict) -> list[str]:
    """What is wrong with a run's files (empty when nothing is). A run still being written
    (queued or running) is only checked for what exists from the start."""
    import zipfile

    problems = []
    if info is None:
        problems.append("run.json is missing or unreadable")
    if status.get("state") == "missing":
        problems.append("status.json is missing")
    if status.get("state") not in ("done", "stopped"):
        return problems
    events = directory / "events.jsonl"
    if events.exists():
        text = events.read_bytes()
        if text and not text.endswith(b"\n"):
            problems.append("events.jsonl ends in a cut-off line")
    if read_json(directory / "summary.json") is None:
        problems.append("summary.json is missing or unreadable")
    if (info or {}).get("kind") != "baseline":
        model = directory / "model.keras"
        if not model.exists():
            problems.append("model.keras is missing")
        elif not zipfile.is_zipfile(model):
            problems.append("model.keras is truncated or not a Keras file")
    try:
        with open(directory / "test_probabilities.npy", "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)  # fmt: skip
            shape, _, dtype = read_header(f)
            expected = f.tell() + int(np.prod(shape)) * dtype.itemsize
        if (directory / "test_probabilities.npy").stat().st_size < expected:
            problems.append("test_probabilities.npy is truncated")
    except (OSError, ValueError):
        problems.append("test_probabilities.npy is missing or unreadable")
    return problems


def queue_position(directory: Path) -> int:
    """How many queued runs were submitted before this one (0: next in line)."""
    mine = jobs.read_status(directory).get("submitted", 0)
    ahead = 0
    for other in runs_dir().iterdir():  # statuses only: waiting workers ask every half second
        if other.is_dir() and other != directory and not other.name.startswith("."):
            status = jobs.read_status(other)
            if status["state"] == "queued" and status.get("submitted", 0) < mine:
                ahead += 1
    return ahead


def max_training() -> int:
    try:
        return max(1, int(os.environ.get(MAX_TRAINING_ENV, "1")))
    except ValueError:
        return 1


@contextmanager
def training_slot(directory: Path, *, on_wait, poll: float = 0.5) -> Iterator[bool]:
    """Hold one of the ``max_training()`` training slots while the block runs.

    Slots are ``flock`` locks, released by the kernel if the worker dies. While waiting,
    ``on_wait(position)`` is called; yields False (without a slot) if a stop is requested
    before a slot frees up.
    """
    slots = runs_dir() / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    while True:
        for number in range(max_training()):
            handle = open(slots / f"slot-{number}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if stop_requested(directory):
            yield False
            return
        on_wait(queue_position(directory))
        time.sleep(poll)


@dataclass(frozen=True)
class Progress:
    """Where a training run is, from its events: epoch and batch, share done, time left."""

    epoch: int
    epochs: int
    batch: int
    steps: int
    fraction: float
    elapsed: float
    seconds_left: float | None


def progress_of(events: list[dict]) -> Progress | None:
    """The run's progress from its events; None before training began."""
    begin = next((e for e in events if e["type"] == "train_begin"), None)
    if begin is None:
        return None
    epochs, steps = begin.get("epochs") or 1, begin.get("steps") or 1
    epoch, batch, elapsed = 1, 0, 0.0
    for event in events:
        if event["type"] == "batch":
            epoch, batch, elapsed = event["epoch"], event["batch"], event["t"]
        elif event["type"] == "epoch":
            epoch, batch, elapsed = event["epoch"], steps, event["t"]
    fraction = min(1.0, ((epoch - 1) * steps + batch) / (epochs * steps))
    left = elapsed * (1 - fraction) / fraction if fraction > 0 else None
    return Progress(epoch, epochs, batch, steps, fraction, elapsed, left)


HISTORY_METRICS = (("loss", "train"), ("accuracy", "train"), ("val_loss", "validation"),
                   ("val_accuracy", "validation"))  # fmt: skip


def history_frame(directories: list[Path]) -> "pd.DataFrame":
    """Epoch histories of runs as one long table: run, epoch, metric, split, value."""
    import pandas as pd

    rows = []
    for directory in directories:
        for event in read_events(directory):
            if event["type"] != "epoch":
                continue
            for key, split in HISTORY_METRICS:
                if event.get(key) is not None:
                    rows.append({"run": directory.name, "epoch": event["epoch"],
                                 "metric": key.removeprefix("val_"), "split": split,
                                 "value": event[key]})  # fmt: skip
    return pd.DataFrame(rows, columns=["run", "epoch", "metric", "split", "value"])


def delete_run(directory: Path) -> None:
    """Remove a run's directory; a queued or running run must be stopped first."""
    import shutil

    if jobs.read_status(directory)["state"] in jobs.ACTIVE:
        raise RunError(f"Run {directory.name} is still {jobs.read_status(directory)['state']}; "
                       "stop it before deleting it.")  # fmt: skip
    if directory.parent.resolve() != runs_dir().resolve():
        raise RunError(f"{directory} is not a run folder.")
    shutil.rmtree(directory)


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing; ``weight`` in [0, 1)."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1); got {weight}.")
    out, last, n = [], 0.0, 0
    for value in values:
        n += 1
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**n))
    return out
