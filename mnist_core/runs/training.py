"""Train one run: the worker's ``train`` job. Imports Keras; runs in a worker process.

Streams progress into the run directory (see :mod:`mnist_core.runs.store`), honours a stop
request within a batch, stops a run whose loss turns NaN as ``diverged``, and at the end
evaluates on the test set and writes the model, the test probabilities and a summary.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from mnist_core import runs
from mnist_core.diskcache import save_array_atomic, write_json_atomic

BATCH_EVENT_SECONDS = 0.25  # batch metrics at least every half second, without flooding
# A mean cross-entropy this many times that of guessing (ln K) means the weights blew up:
# Keras computes the loss from logits, so an exploding model shows 1e7 long before NaN.
DIVERGED_FACTOR = 1000


def run_training(directory: Path, progress) -> str:
    """Train the run in ``directory`` (the caller holds a training slot); the final state:
    done, stopped or diverged."""
    spec = runs.read_spec(directory)
    info = runs.read_json(directory / "run.json") or {}
    return _train(directory, spec, info, progress)


def _train(directory: Path, spec, info: dict, progress) -> str:
    progress.stage("loading the dataset")
    from mnist_core.data.datasets import load_dataset

    dataset = load_dataset(info.get("dataset", "mnist"), download=False)
    if info.get("fingerprint") and dataset.fingerprint != info["fingerprint"]:
        raise ValueError(f"{info['dataset']}: the data changed since the run was created.")
    progress.stage("building the model")
    from mnist_core.models.keras_build import build_callbacks, build_model, compile_model

    model = compile_model(
        build_model(spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes), spec.train
    )
    x_train = (dataset.x_train.astype("float32") / 255.0)[..., None]
    x_test = (dataset.x_test.astype("float32") / 255.0)[..., None]
    recorder = RunRecorder(directory, progress,
                           loss_limit=DIVERGED_FACTOR * math.log(max(dataset.n_classes, 2)))
    callbacks = [
        *build_callbacks(spec.train),
        recorder,
        keras.callbacks.TensorBoard(log_dir=str(directory / "tb"), update_freq="epoch",
                                    histogram_freq=0, write_graph=False),  # fmt: skip
    ]
    train = spec.train
    progress.stage("training")
    start = time.perf_counter()
    model.fit(
        x_train, dataset.y_train,
        batch_size=train.batch_size, epochs=train.epochs,
        validation_split=train.validation_split or 0.0,
        callbacks=callbacks, verbose=0, shuffle=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    early = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
    restored_epoch = (
        early.best_epoch + 1
        if early is not None and early.restore_best_weights and early.best_weights is not None
        else None
    )
    summary = _summary(directory, model, recorder, wall, restored_epoch)
    if recorder.diverged_at is not None:
        epoch, batch = recorder.diverged_at
        summary["error"] = (
            f"The loss exploded (NaN, or over {DIVERGED_FACTOR:,} times that of guessing) in "
            f"epoch {epoch}, batch {batch}: the learning rate ({train.effective_learning_rate:g}) "
            "is probably too high; try one 10 times lower."
        )
        write_json_atomic(directory / "summary.json", summary)
        progress.fail_message(summary["error"])
        return "diverged"
    progress.stage("evaluating on the test set")
    probabilities = model.predict(x_test, batch_size=1024, verbose=0).astype("float32")
    save_array_atomic(directory / "test_probabilities.npy", probabilities)
    picked = probabilities[np.arange(len(dataset.y_test)), dataset.y_test]
    summary["test_loss"] = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    summary["test_accuracy"] = float(np.mean(probabilities.argmax(axis=1) == dataset.y_test))
    summary["test_size"] = int(len(dataset.y_test))
    progress.stage("saving the model")
    partial = directory / ".model-partial.keras"  # Keras wants the .keras suffix
    model.save(partial)
    os.replace(partial, directory / "model.keras")
    write_json_atomic(directory / "summary.json", summary)
    runs.append_event(directory, {"type": "test", "t": round(time.perf_counter() - start, 3),
                                  "loss": summary["test_loss"],
                                  "accuracy": summary["test_accuracy"]})  # fmt: skip
    return "stopped" if recorder.stopped else "done"


def _summary(directory, model, recorder: RunRecorder, wall: float, restored_epoch) -> dict:
    epochs = recorder.epochs
    summary = {
        "params": int(model.count_params()),
        "epochs_run": len(epochs),
        "stopped_by_user": recorder.stopped,
        "wall_seconds": round(wall, 3),
        "seconds_per_epoch": round(float(np.mean([e["epoch_seconds"] for e in epochs])), 3)
        if epochs else None,
        "restored_best_epoch": restored_epoch,
        "last": {k: epochs[-1].get(k) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        if epochs else None,
    }  # fmt: skip
    with_val = [e for e in epochs if e.get("val_loss") is not None and math.isfinite(e["val_loss"])]
    if with_val:
        best = min(with_val, key=lambda e: e["val_loss"])
        summary["best"] = {"epoch": best["epoch"], "val_loss": best["val_loss"],
                           "val_accuracy": best.get("val_accuracy")}  # fmt: skip
    else:
        summary["best"] = None
    return summary


class RunRecorder(keras.callbacks.Callback):
    """Writes batch and epoch events, honours stop requests, stops on a NaN loss.

    State that belongs to a run is reset in ``on_train_begin``.
    """

    def __init__(self, directory: Path, progress=None, *, loss_limit: float = math.inf):
        super().__init__()
        self.directory = directory
        self.progress = progress
        self.loss_limit = loss_limit

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.epoch_start = self.start
        self.last_event = 0.0
        self.epochs: list[dict] = []
        self.epoch = 0
        self.stopped = False
        self.diverged_at: tuple[int, int] | None = None
        runs.append_event(self.directory, {
            "type": "train_begin", "t": 0.0, "epochs": self.params.get("epochs"),
            "steps": self.params.get("steps"), "lr": self._lr(),
        })  # fmt: skip

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        now = time.perf_counter()
        loss = float(logs.get("loss", 0.0))
        if not math.isfinite(loss) or loss > self.loss_limit:
            if self.diverged_at is None:
                self.diverged_at = (self.epoch, batch + 1)
            self.model.stop_training = True
        if runs.stop_requested(self.directory) and not self.stopped:
            self.stopped = True
            self.model.stop_training = True
        if now - self.last_event >= BATCH_EVENT_SECONDS or self.model.stop_training:
            self.last_event = now
            runs.append_event(self.directory, {
                "type": "batch", "t": round(now - self.start, 3), "epoch": self.epoch,
                "batch": batch + 1, "loss": _finite(loss),
                "accuracy": _finite(logs.get("accuracy")),
            })  # fmt: skip

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        now = time.perf_counter()
        event = {
            "type": "epoch", "t": round(now - self.start, 3), "at": time.time(), "epoch": epoch + 1,
            "epoch_seconds": round(now - self.epoch_start, 3), "lr": self._lr(),
            **{k: _finite(logs.get(k)) for k in ("loss", "accuracy", "val_loss", "val_accuracy")},
        }  # fmt: skip
        self.epochs.append(event)
        runs.append_event(self.directory, event)
        if event["loss"] is None and self.diverged_at is None:
            self.diverged_at = (epoch + 1, self.params.get("steps") or 0)
            self.model.stop_training = True
        if self.progress is not None:
            val = f", val_accuracy {event['val_accuracy']:.4f}" if event["val_accuracy"] else ""
            loss = f"{event['loss']:.4f}" if event["loss"] is not None else "nan"
            self.progress.stage(f"training: epoch {epoch + 1} done (loss {loss}{val})")

    def _lr(self) -> float | None:
        try:
            return float(np.asarray(self.model.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            return None


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def load_run_model(directory: Path) -> keras.Model:
    """The trained model of a run, loaded with Keras's ``safe_mode`` (no arbitrary code from
    the file runs; a Lambda layer, say, is refused). Raises RunError for a damaged file."""
    path = directory / "model.keras"
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except (OSError, ValueError) as exc:
        raise runs.RunError(f"Run {directory.name}: model.keras cannot be loaded ({exc}).") from None
