"""ModelSpec → Keras: the one place that builds Keras layers, optimizers and callbacks.

Importing this module imports Keras (and TensorFlow): only workers, the CLI and tests do.
"""

from __future__ import annotations

import keras
from keras import layers, regularizers

from mnist_core.models.spec import LayerSpec, ModelSpec, TrainSpec, analyze

__all__ = ["build_callbacks", "build_model", "build_optimizer", "compile_model"]


def build_model(spec: ModelSpec, *, input_shape: tuple[int, int], n_classes: int) -> keras.Model:
    """The Keras model for ``spec``: input ``(h, w, 1)``, the spec's layers, then a softmax
    over ``n_classes`` (after a Flatten when needed). Raises SpecError for an impossible spec."""
    analyze(spec, input_shape=input_shape, n_classes=n_classes).raise_first()
    keras.utils.set_random_seed(spec.train.seed)
    inputs = keras.Input((*input_shape, 1), name="image")
    x = inputs
    for number, layer in enumerate(spec.layers, start=1):
        x = _keras_layer(layer, number)(x)
    if len(x.shape) > 2:
        x = layers.Flatten(name="flatten_output")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=spec.name.replace(" ", "_") or "model")


def _keras_layer(layer: LayerSpec, number: int) -> keras.layers.Layer:
    p = layer.params
    name = f"l{number}_{layer.type.lower()}"
    regularizer = (lambda l2: regularizers.L2(l2) if l2 else None)(p.get("l2", 0))
    if layer.type == "Dense":
        return layers.Dense(p["units"], activation=p["activation"],
                            kernel_regularizer=regularizer, name=name)  # fmt: skip
    if layer.type == "Conv2D":
        return layers.Conv2D(
            p["filters"], p["kernel_size"], strides=p["strides"], padding=p["padding"],
            activation=p["activation"], kernel_regularizer=regularizer, name=name,
        )  # fmt: skip
    if layer.type == "Dropout":
        return layers.Dropout(p["rate"], name=name)
    if layer.type == "MaxPooling2D":
        return layers.MaxPooling2D(p["pool_size"], name=name)
    if layer.type == "BatchNormalization":
        return layers.BatchNormalization(name=name)
    return layers.Flatten(name=name)


def build_optimizer(train: TrainSpec) -> keras.optimizers.Optimizer:
    lr = train.effective_learning_rate
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
    if train.reduce_lr is not None:
        rl = train.reduce_lr
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=rl.monitor, patience=rl.patience, factor=rl.factor, min_lr=rl.min_lr,
        ))  # fmt: skip
    return callbacks


def compile_model(model: keras.Model, train: TrainSpec) -> keras.Model:
    model.compile(
        optimizer=build_optimizer(train),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
