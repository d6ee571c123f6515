"""ModelSpec → Keras: the registry's layers assembled into a model; optimizers, callbacks.

Importing this module imports Keras (and TensorFlow): only workers, the CLI and tests do.
"""

from __future__ import annotations

import re
import unicodedata

import keras
from keras import layers

from mnist_core.models.analysis import analyze
from mnist_core.models.spec import LayerSpec, ModelSpec, TrainSpec

__all__ = ["CosineSteps", "build_callbacks", "build_model", "build_optimizer", "compile_model", "keras_layer",
           "keras_name"]  # fmt: skip


def build_model(spec: ModelSpec, *, input_shape: tuple[int, int], n_classes: int) -> keras.Model:
    """The Keras model for ``spec``: input ``(h, w, 1)``, the spec's layers, then a softmax
    over ``n_classes`` (after a Flatten when needed). Raises SpecError for an impossible spec."""
    analyze(spec, input_shape=input_shape, n_classes=n_classes).raise_first()
    keras.utils.set_random_seed(spec.train.seed)
    inputs = keras.Input((*input_shape, 1), name="image")
    x = inputs
    for number, layer in enumerate(spec.layers, start=1):
        x = keras_layer(layer, number)(x)
    if len(x.shape) > 2:
        x = layers.Flatten(name="flatten_output")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=keras_name(spec.name))


def keras_layer(layer: LayerSpec, number: int) -> keras.layers.Layer:
    """Layer ``number`` (1-based) of a spec as a Keras layer, by its registry entry."""
    return layer.kind.keras(keras, layer.params, f"l{number}_{layer.type.lower()}")


def keras_name(name: str) -> str:
    """A name Keras and TensorFlow accept (letters, digits, ``_.-``, starting with a letter
    or digit) for a display name such as "My model (v2)": ``My_model_v2``. The display
    name itself stays as typed, in the spec and the run."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")[:64]
    return text or "model"


def build_optimizer(train: TrainSpec) -> keras.optimizers.Optimizer:
    """The spec's optimizer. With ``lr_schedule`` "cosine" its learning rate is a
    :class:`keras.optimizers.schedules.CosineDecay` from the spec's rate to 0, computed from
    the optimizer's step count inside the compiled step (so it follows every step on
    TensorFlow and on JAX alike); :class:`CosineSteps` sets its length when training starts."""
    lr = train.effective_learning_rate
    if train.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=1, alpha=0.0)
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=train.momentum, nesterov=train.nesterov)
    classes = {
        "rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW, "adagrad": keras.optimizers.Adagrad,
        "adadelta": keras.optimizers.Adadelta, "nadam": keras.optimizers.Nadam,
    }  # fmt: skip
    return classes[train.optimizer](lr)


def build_callbacks(train: TrainSpec) -> list[keras.callbacks.Callback]:
    callbacks = []
    if train.early_stopping is not None:
        es = train.early_stopping
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights,
        ))  # fmt: skip
    if train.lr_schedule == "cosine":
        callbacks.append(CosineSteps())
    if train.reduce_lr is not None:
        rl = train.reduce_lr
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=rl.monitor, patience=rl.patience, factor=rl.factor, min_lr=rl.min_lr,
        ))  # fmt: skip
    return callbacks


class CosineSteps(keras.callbacks.Callback):
    """Stretches the optimizer's cosine over the fit's steps (batches an epoch × epochs) as
    training begins, before the step is compiled, so the rate reaches 0 after the last
    batch whatever the dataset's size, validation split or epochs."""

    def on_train_begin(self, logs=None):
        schedule = getattr(self.model.optimizer, "_learning_rate", None)
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        if isinstance(schedule, keras.optimizers.schedules.CosineDecay) and steps and epochs:
            schedule.decay_steps = int(steps) * int(epochs)


def compile_model(model: keras.Model, train: TrainSpec, *,
                  steps_per_execution: int = 1) -> keras.Model:
    """Compile for training; ``steps_per_execution`` batches per call of the compiled step
    (see :data:`mnist_core.runs.backend.TF_STEPS_PER_EXECUTION`)."""
    model.compile(
        optimizer=build_optimizer(train),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model
