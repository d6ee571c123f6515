"""Making a run ready to look inside: its ONNX export and its index of training digits.

New runs are exported at the end of training (:mod:`mnist_core.runs.training`). Whatever is
missing (the export of an older run, the training set's last-hidden-layer features of any
run) is made by one background job, the worker kind ``export``, in a folder of the run
(:func:`prepare` starts it; :func:`readiness` reads where it is). The server never does
this work: the export imports TensorFlow.
"""

from __future__ import annotations

import os

from dataclasses import dataclass
from pathlib import Path

from mnist_core.inside.common import InsideError
from mnist_core.runs import jobs
from mnist_core.runs.states import ACTIVE, DONE, FAILED, Status

JOB_KIND = "export"


@dataclass(frozen=True)
class Readiness:
    """What a run has for the model view, read in a few stat calls.

    ``model``: its ONNX export is there (predictions, activations, saliency, weights);
    ``neighbours``: its training digits are indexed (nearest digits); ``status``: the
    background job's status (None when never asked); ``supported``: the run can be looked
    inside at all, else ``reason`` says why in one sentence (also the job's error)."""

    model: bool
    neighbours: bool
    status: Status | None
    supported: bool
    reason: str | None = None

    @property
    def ready(self) -> bool:
        return self.model and self.neighbours

    @property
    def working(self) -> bool:
        return self.status is not None and self.status.active


def unsupported_reason(record) -> str | None:
    if record.kind != "train":
        return f"Run {record.run_id} is a {record.name}: it has no layers to look inside."
    if record.spec is None or record.problems:
        return f"Run {record.run_id} is damaged; its model cannot be looked inside."
    if record.state in ACTIVE:
        return f"Run {record.run_id} is still {record.state}; its model is ready when it ends."
    if not record.paths.model.is_file() and record.checkpoint() is None:
        return f"Run {record.run_id} ended {record.state} without a trained model to look inside."
    return None


def readiness(record) -> Readiness:
    """Where the run's export and index are (fast: no model is loaded)."""
    reason = unsupported_reason(record)
    model = record.paths.onnx.is_file()
    neighbours = record.paths.features.is_file()
    job = record.paths.onnx_job
    status = jobs.read_status(job) if job.is_dir() else None
    if status is not None and status.state is None:
        status = None
    supported = reason is None
    if supported and status is not None and status.state == FAILED:
        reason = status.error
    return Readiness(model, neighbours, status, supported, reason)


def prepare(record, *, retry: bool = False) -> Status:
    """Start the background job that exports the run's model and indexes its training
    digits, unless both are there (then ``done`` at once) or it is under way (joined).

    A failed job stays failed, with its sentence in ``error``, unless ``retry``. Raises
    InsideError (one sentence) for a run that cannot be looked inside."""
    reason = unsupported_reason(record)
    if reason is not None:
        raise InsideError(reason)
    state = readiness(record)
    if state.ready:
        return Status(DONE, stage="done")
    if state.status is not None and state.status.state == FAILED and not retry:
        return state.status
    restart = state.status is not None and state.status.state == DONE
    return jobs.submit(record.paths.onnx_job, kind=JOB_KIND, spec={}, restart=restart)


def run(directory: Path, spec: dict, progress) -> str:
    """The worker's ``export`` job, in the run's job folder ``directory``. On TensorFlow
    whatever the run trained on or the environment says: tf2onnx traces TensorFlow."""
    os.environ["KERAS_BACKEND"] = "tensorflow"  # before anything imports Keras
    try:
        return _export_and_index(Path(directory), progress)
    except InsideError as exc:  # the worker shows a ValueError's sentence as it is
        raise ValueError(str(exc)) from None


def _export_and_index(directory: Path, progress) -> str:
    from mnist_core.data import load_dataset
    from mnist_core.inside.neighbours import compute_features, save_features
    from mnist_core.inside.runtime import InsideModel
    from mnist_core.runs.store import load_run

    record = load_run(directory.parent)
    progress.running()
    reason = unsupported_reason(record)
    if reason is not None:
        raise InsideError(reason)
    progress.stage("loading the dataset")
    dataset = load_dataset(record.dataset, download=False)
    if record.fingerprint and dataset.fingerprint != record.fingerprint:
        raise InsideError(f"{record.dataset_name}: the data changed since run "
                          f"{record.run_id} was trained.")  # fmt: skip
    model = None
    if record.paths.onnx.is_file():
        try:
            model = InsideModel(record.paths.onnx, run_id=record.run_id, threads=0)
        except InsideError:
            model = None  # a damaged export: made again below
    if model is None:
        progress.stage("exporting the model to ONNX")
        from mnist_core.inside.export import export_run

        export_run(record, class_names=dataset.class_names)
        model = InsideModel(record.paths.onnx, run_id=record.run_id, threads=0)
    arrays = compute_features(model, dataset.x_train, dataset.y_train,
                              fingerprint=dataset.fingerprint, on_stage=progress.stage)  # fmt: skip
    progress.stage("saving the index of training digits")
    save_features(record, arrays)
    return DONE
