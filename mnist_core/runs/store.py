"""The run store: the one owner of a run folder's layout under ``<cache>/runs/``.

A run folder is self-describing; everything a page, the CLI, a report or a comparison shows
about a run is read from it through a :class:`RunRecord`, and no other module names its
files (:class:`RunPaths` does):

- ``run.json``: id, kind, name, dataset, fingerprint, input shape, classes, parameters, group;
- ``spec.json``: the :class:`~mnist_core.models.ModelSpec` (or the baseline's settings);
- ``status.json``, ``job.json``, ``worker.log``, ``worker.lock``: the job (see
  :mod:`mnist_core.runs.states` and :mod:`mnist_core.runs.jobs`);
- ``events.jsonl``: append-only batch and epoch metrics, learning rate, timings;
- ``checkpoint-last.weights.h5`` / ``checkpoint-best.weights.h5`` and ``checkpoint.json``
  (their epochs): written after every epoch, so a worker that dies keeps what it had learnt;
  ``checkpoint-eval/``: the job that evaluates such a checkpoint;
- at the end: ``model.keras``, ``model.onnx``, ``test_probabilities.npy``, ``summary.json``,
  ``tb/``; ``onnx-export/`` and ``train-features.npz``: :mod:`mnist_core.inside`'s job, cache.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from mnist_core import paths
from mnist_core.diskcache import (
    save_array_atomic,
    storage_error,
    write_json_atomic,
)
from mnist_core.models import ModelSpec, SpecError
from mnist_core.runs import jobs, states
from mnist_core.runs.states import DAMAGED, EVALUATED, Status

__all__ = [
    "BaselineSpec", "RunError", "RunPaths", "RunRecord", "RunSummary", "create_run",
    "list_runs", "load_run", "open_run", "runs_dir", "test_results",
]  # fmt: skip


class RunError(ValueError):
    """A run id, folder or file that cannot be used; ``str()`` is one sentence."""


def runs_dir() -> Path:
    return paths.cache_dir() / "runs"


@dataclass(frozen=True)
class RunPaths:
    """Every file of a run folder, named once."""

    directory: Path

    def __getattr__(self, name: str) -> Path:
        try:
            return self.directory / _FILES[name]
        except KeyError:
            raise AttributeError(f"A run folder has no file {name!r}; see RunPaths.") from None


_FILES = {
    "run": "run.json", "spec": "spec.json", "status": states.STATUS_FILE, "job": jobs.JOB_FILE,
    "events": "events.jsonl", "model": "model.keras", "model_partial": ".model-partial.keras",
    # Weights only (Keras wants the .weights.h5 suffix): a fraction of a full save's time;
    # the architecture comes back from spec.json.
    "checkpoint_last": "checkpoint-last.weights.h5", "checkpoint_best": "checkpoint-best.weights.h5",
    "checkpoint_partial": ".checkpoint-partial.weights.h5", "checkpoint_info": "checkpoint.json",
    "checkpoint_job": "checkpoint-eval", "probabilities": "test_probabilities.npy",
    "summary": "summary.json", "tensorboard": "tb", "log": "worker.log", "stop": "stop_requested",
    "importances": "feature_importances.npy",
    "onnx": "model.onnx", "onnx_job": "onnx-export", "features": "train-features.npz",  # inside
}  # fmt: skip


@dataclass(frozen=True)
class BaselineSpec:
    """A random-forest baseline: fitted on ``sample`` seeded training images."""

    sample: int = 3000
    seed: int = 0
    trees: int = 200

    @property
    def name(self) -> str:
        return f"random forest ({self.sample:,} digits)"

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunSummary:
    """What a finished run measured; written once, by :meth:`RunRecord.write_summary`.

    ``model_epoch`` is the epoch whose weights were evaluated (the restored best one, or the
    last completed one of a stopped, diverged or crashed run)."""

    params: int | None = None
    epochs_run: int | None = None
    wall_seconds: float | None = None
    seconds_per_epoch: float | None = None
    restored_best_epoch: int | None = None
    best: dict | None = None  # epoch, val_loss, val_accuracy of the best validation epoch
    last: dict | None = None  # loss, accuracy, val_loss, val_accuracy of the last epoch
    test_accuracy: float | None = None
    test_loss: float | None = None
    test_size: int | None = None
    stopped_by_user: bool = False
    model_epoch: int | None = None
    from_checkpoint: bool = False
    trees: int | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RunSummary:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def test_results(probabilities: np.ndarray, y_test: np.ndarray) -> dict:
    """Test loss, accuracy and size of predicted ``probabilities`` (n, classes)."""
    picked = probabilities[np.arange(len(y_test)), y_test]
    return {"test_loss": float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))),
            "test_accuracy": float(np.mean(probabilities.argmax(axis=1) == y_test)),
            "test_size": int(len(y_test))}  # fmt: skip


@dataclass(frozen=True)
class RunRecord:
    """One run as its folder describes it, read at one moment (see :meth:`refresh`)."""

    run_id: str
    directory: Path
    kind: str  # "train" or "baseline"
    name: str
    dataset: str  # what mnist_core.data.load_dataset takes: a name or a path
    fingerprint: str
    input_shape: tuple[int, int]
    n_classes: int
    params: int | None
    created: float
    group: str | None
    spec: ModelSpec | None
    baseline: BaselineSpec | None
    status: Status
    summary: RunSummary | None
    problems: tuple[str, ...] = field(default=())

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.directory)

    @property
    def state(self) -> str:
        return self.status.state or DAMAGED

    @property
    def dataset_name(self) -> str:
        """The dataset for people: its name, or the file name of an upload."""
        return Path(self.dataset).name

    @property
    def evaluated(self) -> bool:
        """Whether the run has test-set results to show."""
        return self.summary is not None and self.summary.test_accuracy is not None and (
            self.state in EVALUATED or self.summary.from_checkpoint
        ) and self.paths.probabilities.exists()

    @property
    def stamp(self) -> float:
        """Changes whenever the run's results change: a key for caches of derived data."""
        try:
            return self.paths.probabilities.stat().st_mtime
        except OSError:
            return 0.0

    def refresh(self) -> RunRecord:
        return open_run(self.run_id)

    def events(self) -> list[dict]:
        """Events in order; a damaged or half-written line (a worker killed mid-write) is
        skipped."""
        try:
            lines = self.paths.events.read_text().splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and "type" in event:
                events.append(event)
        return events

    def test_probabilities(self) -> np.ndarray:
        """float32 array of shape (n_test, n_classes). Raises RunError when missing."""
        try:
            return np.load(self.paths.probabilities, allow_pickle=False)
        except (OSError, ValueError):
            raise RunError(
                f"Run {self.run_id} has no readable test predictions (it did not finish)."
            ) from None

    def feature_importances(self) -> np.ndarray | None:
        try:
            return np.load(self.paths.importances, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def checkpoint(self) -> tuple[Path, int] | None:
        """The model a crashed run kept, and its epoch: the best one when early stopping
        restores best weights, else the last completed epoch's."""
        info = _read_json(self.paths.checkpoint_info) or {}
        restore = bool(self.spec and self.spec.train.early_stopping
                       and self.spec.train.early_stopping.restore_best_weights)  # fmt: skip
        for which in (("best", "last") if restore else ("last",)):
            path = getattr(self.paths, f"checkpoint_{which}")
            if path.exists() and info.get(which):
                return path, int(info[which])
        return None

    # ----------------------------------------------------------------- written by the worker

    def append_event(self, event: dict) -> None:
        with open(self.paths.events, "a") as f:
            f.write(json.dumps(event) + "\n")

    def write_summary(self, summary: RunSummary) -> None:
        write_json_atomic(self.paths.summary, summary.to_json())

    def save_probabilities(self, probabilities: np.ndarray) -> None:
        save_array_atomic(self.paths.probabilities, probabilities.astype(np.float32))

    def save_importances(self, importances: np.ndarray) -> None:
        save_array_atomic(self.paths.importances, importances.astype(np.float32))

    def note_checkpoint(self, which: str, epoch: int) -> None:
        info = _read_json(self.paths.checkpoint_info) or {}
        write_json_atomic(self.paths.checkpoint_info, {**info, which: epoch})

    def remove_partial_files(self) -> None:
        """Half-written files a worker leaves when it dies while saving."""
        for path in (self.paths.model_partial, self.paths.checkpoint_partial):
            path.unlink(missing_ok=True)

    # ----------------------------------------------------------------- stop requests

    def request_stop(self) -> None:
        self.paths.stop.touch()

    @property
    def stop_requested(self) -> bool:
        return self.paths.stop.exists()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_run_id(run_id: str) -> None:
    if (not isinstance(run_id, str) or not run_id or "/" in run_id or "\\" in run_id
            or run_id.startswith(".") or len(run_id) > 100):  # fmt: skip
        raise RunError(f"{run_id!r} is not a run id (run ids look like 20261121-101500-ab12).")


def open_run(run_id: str) -> RunRecord:
    """The record of run ``run_id``; RunError (one sentence) for a bad id or a missing run."""
    _check_run_id(run_id)
    directory = runs_dir() / run_id
    if not directory.is_dir():
        raise RunError(f"There is no run {run_id} in {runs_dir()}.")
    return _load(directory)


def load_run(directory: Path) -> RunRecord:
    """The record of the run folder ``directory`` (a worker is handed the folder itself)."""
    if not directory.is_dir():
        raise RunError(f"There is no run folder {directory}.")
    return _load(directory)


def list_runs() -> list[RunRecord]:
    """Every run, newest first; a run whose files are broken is listed as damaged."""
    root = runs_dir()
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [_load(directory) for directory in sorted(folders, key=lambda p: p.name, reverse=True)]


def _load(directory: Path) -> RunRecord:
    info = _read_json(directory / "run.json")
    status = jobs.read_status(directory)
    problems = []
    if not isinstance(info, dict):
        problems.append("run.json is missing or unreadable")
        info = {}
    spec = baseline = None
    raw_spec = _read_json(directory / "spec.json")
    if info.get("kind", "train") == "baseline":
        baseline = BaselineSpec(**{k: v for k, v in (raw_spec or info).items()
                                   if k in BaselineSpec.__dataclass_fields__})  # fmt: skip
    elif raw_spec is None:
        problems.append("spec.json is missing or unreadable")
    else:
        try:
            spec = ModelSpec.from_json(raw_spec)
        except (SpecError, TypeError, ValueError) as exc:
            problems.append(f"spec.json is not a valid spec ({exc})")
    raw_summary = _read_json(directory / "summary.json")
    summary = RunSummary.from_json(raw_summary) if isinstance(raw_summary, dict) else None
    if status.state is None:
        problems.append("status.json is missing")
    elif status.state in EVALUATED:
        problems += _result_problems(directory, info, summary)
    if problems:
        status = Status(DAMAGED, stage=DAMAGED,
                        error=f"Run {directory.name} is damaged: {'; '.join(problems)}.",
                        finished=status.finished, submitted=status.submitted)  # fmt: skip
    shape = info.get("input_shape") or (0, 0)
    return RunRecord(
        run_id=directory.name, directory=directory, kind=info.get("kind", "train"),
        name=str(info.get("name", "?")), dataset=str(info.get("dataset", "?")),
        fingerprint=str(info.get("fingerprint", "")), input_shape=(int(shape[0]), int(shape[1])),
        n_classes=int(info.get("n_classes") or 0), params=info.get("params"),
        created=float(info.get("created") or 0.0), group=info.get("group"), spec=spec,
        baseline=baseline, status=status, summary=summary, problems=tuple(problems),
    )  # fmt: skip


def _result_problems(directory: Path, info: dict, summary: RunSummary | None) -> list[str]:
    import zipfile

    problems = []
    try:  # only the last byte: a list of many runs must not read every history
        with open(directory / "events.jsonl", "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    problems.append("events.jsonl ends in a cut-off line")
    except FileNotFoundError:
        pass
    if summary is None:
        problems.append("summary.json is missing or unreadable")
    if info.get("kind") != "baseline":
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
            expected = f.tell() + math.prod(shape) * dtype.itemsize
        if (directory / "test_probabilities.npy").stat().st_size < expected:
            problems.append("test_probabilities.npy is truncated")
    except (OSError, ValueError):
        problems.append("test_probabilities.npy is missing or unreadable")
    return problems


def create_run(
    spec: ModelSpec | BaselineSpec,
    *,
    dataset: str,
    fingerprint: str,
    input_shape: tuple[int, int],
    n_classes: int,
    group: str | None = None,
) -> RunRecord:
    """Validate ``spec`` and write a new run folder for it (queued by :func:`start`).

    A :class:`~mnist_core.models.ModelSpec` makes a training run, a :class:`BaselineSpec` a
    random-forest baseline. ``group`` ties runs launched together (a grid, a study).
    Raises SpecError for an impossible spec, StorageError when the cache cannot be written.
    """
    from mnist_core.models import analyze

    if isinstance(spec, BaselineSpec):
        kind, params = "baseline", None
    else:
        analysis = analyze(spec, input_shape=input_shape, n_classes=n_classes)
        analysis.raise_first()
        kind, params = "train", analysis.total_params
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    directory = runs_dir() / run_id
    try:
        directory.mkdir(parents=True)
        write_json_atomic(directory / "spec.json", spec.to_json())
        write_json_atomic(directory / "run.json", {
            "run_id": run_id, "kind": kind, "name": spec.name, "dataset": dataset,
            "fingerprint": fingerprint, "input_shape": list(input_shape), "n_classes": n_classes,
            "params": params, "created": time.time(), "group": group,
        })  # fmt: skip
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise storage_error(exc, directory / "run.json") from None
    return _load(directory)

