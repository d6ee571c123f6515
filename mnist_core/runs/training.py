"""Train one run: the worker's ``train`` job. Imports Keras; runs in a worker process.

Streams progress into the run directory (see :mod:`mnist_core.runs.store`), honours a stop
request within a few batches (:data:`~mnist_core.runs.backend.TF_STEPS_PER_EXECUTION` on
TensorFlow, which runs that many per call; :data:`MAX_BATCHES_AHEAD` on JAX), stops a run whose loss turns NaN as
``diverged``, and at the end evaluates on the test set and writes the model, the test
probabilities and a summary. It trains on the Keras backend the worker chose for the run
(:mod:`mnist_core.runs.backend`) and records it with its device.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import keras  # the worker chose its backend first (mnist_core.runs.backend.prepare_backend)
import numpy as np

from mnist_core.diskcache import storage_error
from mnist_core.runs.backend import backend_in_use, backend_label
from mnist_core.runs.feed import fit_inputs
from mnist_core.runs.store import RunError, RunRecord, RunSummary, test_results

# On JAX the training loop may dispatch this many batches before the recorder has read the
# losses of the earlier ones (see RunRecorder): a stop or an exploding loss is seen within it.
MAX_BATCHES_AHEAD = 4
BATCH_EVENT_SECONDS = 0.25  # batch metrics at least every half second, without flooding
# A mean cross-entropy this many times that of guessing (ln K) means the weights blew up:
# Keras computes the loss from logits, so an exploding model shows 1e7 long before NaN.
DIVERGED_FACTOR = 1000
# On JAX Keras computes it from the softmax's probabilities clipped at epsilon, so it stops at
# -ln(epsilon) (16.1) while the weights blow up: a mean loss over this share of that ceiling
# means nearly every prediction is confidently wrong (a learning rate of 1,000 gets there).
SATURATED_SHARE = 0.75


def run_training(record: RunRecord, progress) -> str:
    """Train the run of ``record`` (the caller holds a training slot); the final state:
    done, stopped or diverged. A file that cannot be written raises StorageError."""
    progress.stage("loading the dataset")
    from mnist_core.data import load_dataset
    from mnist_core.models.keras_build import build_callbacks, build_model, compile_model

    dataset = load_dataset(record.dataset, download=False)
    if record.fingerprint and dataset.fingerprint != record.fingerprint:
        raise ValueError(f"{record.dataset_name}: the data changed since the run was created.")
    progress.stage("building the model")
    spec = record.spec
    used = backend_in_use(spec)
    model = compile_model(
        build_model(spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes),
        spec.train, steps_per_execution=used["steps_per_execution"],
    )
    x_train = (dataset.x_train.astype("float32") / 255.0)[..., None]
    x_test = (dataset.x_test.astype("float32") / 255.0)[..., None]
    loss_limit, ceiling = DIVERGED_FACTOR * math.log(max(dataset.n_classes, 2)), None
    if used["backend"] != "tensorflow":
        ceiling = -math.log(keras.config.epsilon())
        loss_limit = min(loss_limit, SATURATED_SHARE * ceiling)
    recorder = RunRecorder(record, progress, keras_backend=used, loss_limit=loss_limit)
    callbacks = [
        *build_callbacks(spec.train),
        recorder,
        EpochScalars(record.paths.tensorboard),
    ]
    train = spec.train
    progress.stage(f"Keras backend: {backend_label(used)} ({used['reason']})")
    progress.stage("training")
    start = time.perf_counter()
    inputs = fit_inputs(x_train, dataset.y_train, batch_size=train.batch_size,
                        validation_split=train.validation_split or 0.0, seed=train.seed,
                        backend=used["backend"])  # fmt: skip
    model.fit(**inputs, epochs=train.epochs, callbacks=callbacks, verbose=0)
    wall = time.perf_counter() - start
    early = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
    restored_epoch = (
        early.best_epoch + 1
        if early is not None and early.restore_best_weights and early.best_weights is not None
        else None
    )
    summary = _summary(model, recorder, wall, restored_epoch)
    if recorder.diverged_at is not None:
        epoch, batch = recorder.diverged_at
        saturated = (f" (on {backend_label(used)} the loss stops at {ceiling:.1f}; over "
                     f"{loss_limit:.1f}, nearly every prediction is confidently wrong)"
                     if ceiling else "")  # fmt: skip
        error = (
            f"The loss exploded (NaN, or over {DIVERGED_FACTOR:,} times that of guessing) in "
            f"epoch {epoch}, batch {batch}{saturated}: the learning rate "
            f"({train.effective_learning_rate:g}) is probably too high; try one 10 times lower."
        )
        record.write_summary(replace(summary, error=error))
        progress.fail_message(error)
        return "diverged"
    progress.stage("evaluating on the test set")
    probabilities = model.predict(x_test, batch_size=1024, verbose=0).astype("float32")
    summary = replace(summary, **test_results(probabilities, dataset.y_test))
    progress.stage("saving the model")
    record.save_probabilities(probabilities)
    save_model_atomic(model, record.paths.model_partial, record.paths.model)
    progress.stage("exporting the model to ONNX")  # served without TensorFlow (issue 12)
    if keras.backend.backend() == "tensorflow":
        from mnist_core.inside.export import export_after_training

        export_after_training(model, record, class_names=dataset.class_names,
                              epoch=summary.model_epoch)  # fmt: skip
    else:  # the converter needs TensorFlow: export the saved model.keras in a process of its own
        from mnist_core.runs.backend import export_in_tensorflow

        export_in_tensorflow(record, class_names=dataset.class_names, epoch=summary.model_epoch)
    record.write_summary(summary)
    record.append_event({"type": "test", "t": round(time.perf_counter() - start, 3),
                         "loss": summary.test_loss, "accuracy": summary.test_accuracy})  # fmt: skip
    return "stopped" if recorder.stopped else "done"


def save_model_atomic(model: keras.Model, partial: Path, target: Path) -> None:
    """Save ``model`` to ``partial`` and rename it over ``target``: readers see the old file
    or the new one; a failure removes the partial file."""
    try:
        model.save(partial) if partial.name.endswith(".keras") else model.save_weights(partial)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise storage_error(exc, target) from None


def _summary(model, recorder: RunRecorder, wall: float, restored_epoch) -> RunSummary:
    epochs = recorder.epochs
    with_val = [e for e in epochs if e.get("val_loss") is not None and math.isfinite(e["val_loss"])]
    best = min(with_val, key=lambda e: e["val_loss"]) if with_val else None
    return RunSummary(
        params=int(model.count_params()),
        epochs_run=len(epochs),
        stopped_by_user=recorder.stopped,
        wall_seconds=round(wall, 3),
        seconds_per_epoch=round(float(np.mean([e["epoch_seconds"] for e in epochs])), 3)
        if epochs else None,
        restored_best_epoch=restored_epoch,
        model_epoch=restored_epoch or (len(epochs) or None),
        last={k: epochs[-1].get(k) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        if epochs else None,
        best={"epoch": best["epoch"], "val_loss": best["val_loss"],
              "val_accuracy": best.get("val_accuracy")} if best else None,
    )  # fmt: skip


class RunRecorder(keras.callbacks.Callback):
    """Writes batch and epoch events, keeps the last (and best) epoch's weights, honours
    stop requests, stops a run whose loss explodes.

    State that belongs to a run is reset in ``on_train_begin``.

    It is ``async_safe``: on JAX, Keras then calls ``on_train_batch_end`` in a thread of its
    own, so the loop dispatches the next step while this one's loss is read, instead of
    waiting for each batch to finish (the bare ``model.fit`` without batch callbacks runs
    so too). ``on_train_batch_begin`` holds the loop at most :data:`MAX_BATCHES_AHEAD`
    batches ahead of what was read. On TensorFlow (not thread-safe for Keras) the calls stay
    in the loop's thread, in turn.
    """

    async_safe = True

    def __init__(self, record: RunRecord, progress=None, *, loss_limit: float = math.inf,
                 keras_backend: dict | None = None):
        super().__init__()
        self.record = record
        self.keras_backend = keras_backend  # recorded in train_begin (runs.backend)
        self.progress = progress
        self.loss_limit = loss_limit
        early = record.spec.train.early_stopping if record.spec else None
        # With restore-best-weights, the best epoch's weights are what a crash should keep.
        self.best_monitor = early.monitor if early and early.restore_best_weights else None
        self.min_delta = early.min_delta if early else 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.epoch_start = self.start
        self.last_event = 0.0
        self.epochs: list[dict] = []
        self.epoch = 0
        self.stopped = False
        self.diverged_at: tuple[int, int] | None = None
        self.best_value: float | None = None
        self.dispatched = self.read = 0
        self.caught_up = threading.Condition()
        self.record.append_event({
            "type": "train_begin", "t": 0.0, "epochs": self.params.get("epochs"),
            "steps": self.params.get("steps"), "lr": self._lr(),
            **({"keras": self.keras_backend} if self.keras_backend else {}),
        })  # fmt: skip

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_start = time.perf_counter()

    # Per batch, ``self._model``, not ``self.model``: on JAX that property copies the whole
    # training state back into the model's variables (so a callback may read them) and, from
    # the reading thread, raced the next step for the buffers it donates.
    def on_train_batch_begin(self, batch, logs=None):
        self.dispatched += 1
        with self.caught_up:
            # A timeout, not a hang, should the reading thread ever die.
            self.caught_up.wait_for(lambda: self.dispatched - self.read <= MAX_BATCHES_AHEAD
                                    or self._model.stop_training, timeout=60)  # fmt: skip

    def on_train_batch_end(self, batch, logs=None):
        try:
            self._read_batch(batch, logs)
        finally:
            with self.caught_up:
                self.read += 1
                self.caught_up.notify_all()

    def _read_batch(self, batch, logs) -> None:
        logs = logs or {}
        now = time.perf_counter()
        loss = float(logs.get("loss", 0.0))
        if not math.isfinite(loss) or loss > self.loss_limit:
            if self.diverged_at is None:
                self.diverged_at = (self.epoch, batch + 1)
            self._model.stop_training = True
        if not self.stopped and self.record.stop_requested:
            self.stopped = True
            self._model.stop_training = True
        if now - self.last_event >= BATCH_EVENT_SECONDS or self._model.stop_training:
            self.last_event = now
            self.record.append_event({
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
        if event["loss"] is None and self.diverged_at is None:
            self.diverged_at = (epoch + 1, self.params.get("steps") or 0)
            self.model.stop_training = True
        if self.diverged_at is None:
            # Kept before the epoch is announced: an epoch on the page is an epoch kept.
            self._checkpoint(epoch + 1, event)
        self.record.append_event(event)
        if self.progress is not None:
            val = f", val_accuracy {event['val_accuracy']:.4f}" if event["val_accuracy"] else ""
            loss = f"{event['loss']:.4f}" if event["loss"] is not None else "nan"
            self.progress.stage(f"training: epoch {epoch + 1} done (loss {loss}{val})")

    def _checkpoint(self, epoch: int, event: dict) -> None:
        paths = self.record.paths
        save_model_atomic(self.model, paths.checkpoint_partial, paths.checkpoint_last)
        self.record.note_checkpoint("last", epoch)
        value = event.get(self.best_monitor) if self.best_monitor else None
        if value is None:
            return
        sign = 1 if "loss" in self.best_monitor else -1  # lower loss, higher accuracy is better
        if self.best_value is None or sign * (value - self.best_value) < -self.min_delta:
            self.best_value = value
            shutil.copyfile(paths.checkpoint_last, paths.checkpoint_partial)
            os.replace(paths.checkpoint_partial, paths.checkpoint_best)
            self.record.note_checkpoint("best", epoch)

    def _lr(self) -> float | None:
        try:
            return float(np.asarray(self.model.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            return None


class EpochScalars(keras.callbacks.Callback):
    """TensorBoard's epoch scalars (``train/`` and ``validation/``: epoch_loss,
    epoch_accuracy, epoch_learning_rate), as Keras's TensorBoard callback writes them, but
    with TensorBoard's own writer: no TensorFlow ops in the epoch (on JAX, Keras's callback
    cost ~2 s in the first epoch and ~0.5-0.9 s in each later one, measured)."""

    def __init__(self, log_dir: Path):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.writers: dict = {}

    def _write(self, which: str, step: int, values: dict) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if which not in self.writers:
            self.writers[which] = EventFileWriter(str(self.log_dir / which))
        summary = Summary(value=[Summary.Value(tag=f"epoch_{k}", simple_value=v)
                                 for k, v in values.items()])  # fmt: skip
        self.writers[which].add_event(Event(wall_time=time.time(), step=step, summary=summary))
        self.writers[which].flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: _finite(v) for k, v in (logs or {}).items()}
        lr = RunRecorder._lr(self)
        train = {k: v for k, v in logs.items() if not k.startswith("val_") and v is not None}
        if lr is not None:
            train["learning_rate"] = lr
        self._write("train", epoch, train)
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_") and v is not None}
        if val:
            self._write("validation", epoch, val)

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def evaluate_checkpoint(record: RunRecord, progress) -> str:
    """The ``checkpoint`` job: evaluate the weights a crashed run kept on the test set and
    write its probabilities and a summary that says which epoch they are from."""
    from mnist_core.data import load_dataset
    from mnist_core.models.keras_build import build_model

    kept = record.checkpoint()
    if kept is None or record.spec is None:
        raise RunError(f"Run {record.run_id} kept no checkpoint to evaluate.")
    path, epoch = kept
    progress.running()
    progress.stage(f"loading the dataset and the weights of epoch {epoch}")
    dataset = load_dataset(record.dataset, download=False)
    model = build_model(record.spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes)
    try:
        model.load_weights(path)
    except (OSError, ValueError) as exc:
        raise RunError(f"Run {record.run_id}: {path.name} cannot be loaded ({exc}).") from None
    progress.stage("evaluating on the test set")
    x_test = (dataset.x_test.astype("float32") / 255.0)[..., None]
    probabilities = model.predict(x_test, batch_size=1024, verbose=0).astype("float32")
    epochs = [e for e in record.events() if e["type"] == "epoch"]
    record.save_probabilities(probabilities)
    record.write_summary(RunSummary(
        params=int(model.count_params()), epochs_run=len(epochs), model_epoch=epoch,
        from_checkpoint=True, error=record.status.error,
        wall_seconds=epochs[-1]["t"] if epochs else None,
        **test_results(probabilities, dataset.y_test),
    ))  # fmt: skip
    return "done"


def load_run_model(record: RunRecord) -> keras.Model:
    """The trained model of a run, loaded with Keras's ``safe_mode`` (no arbitrary code from
    the file runs; a Lambda layer, say, is refused). Raises RunError for a damaged file."""
    try:
        return keras.saving.load_model(record.paths.model, safe_mode=True)
    except (OSError, ValueError) as exc:
        raise RunError(f"Run {record.run_id}: model.keras cannot be loaded ({exc}).") from None
