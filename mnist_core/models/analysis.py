"""What a spec would build, without TensorFlow: every layer's output shape and parameter
count, the memory training would take, and every problem in one sentence.

:func:`analyze` checks each value against its :class:`~mnist_core.models.fields.Field`
(layer parameters from the registry, training settings from
:data:`~mnist_core.models.spec.TRAIN_FIELDS`), runs each layer's shape rule, and refuses a
model larger than the budget: at most ``MNIST_MAX_PARAMS`` parameters (default 50 million)
and ``MNIST_MAX_TRAINING_MEMORY_MB`` of training memory (default 4,096 MB). Counts equal
Keras's ``count_params``.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

from mnist_core.models.fields import SpecError
from mnist_core.models.layers import ShapeError
from mnist_core.models.spec import (
    EARLY_STOPPING_FIELDS,
    MAX_LAYERS,
    REDUCE_LR_FIELDS,
    TRAIN_FIELDS,
    ModelSpec,
    TrainSpec,
    name_problem,
)

__all__ = ["Analysis", "LayerRow", "analyze", "format_shape", "max_params",
           "max_training_memory_mb", "values_per_weight"]  # fmt: skip

DEFAULT_MAX_PARAMS = 50_000_000
DEFAULT_MAX_TRAINING_MEMORY_MB = 4_096
BYTES_PER_VALUE = 4  # float32
# Float32 values held per weight while training, measured with Keras 3.15 on TensorFlow
# (peak memory of a fit, over the weights): the weight, its gradient, the optimizer's slots
# (Adam's two moments, RMSprop's and Adagrad's one, Adadelta's two, SGD's momentum) and the
# temporaries of the update.
VALUES_PER_WEIGHT = {"sgd": 4, "sgd+momentum": 5, "rmsprop": 7, "adagrad": 6, "adam": 7,
                     "adamw": 8, "nadam": 8, "adadelta": 10}  # fmt: skip
# Per value a layer outputs for one batch: the value, kept for the backward pass, and its
# gradient (measured: 7 bytes per value for a batch of 1,024 through two 64-filter convs).
VALUES_PER_ACTIVATION = 2
ADDED_FLATTEN = "Flatten (added)"


@dataclass(frozen=True)
class LayerRow:
    number: int | None  # 1-based layer number in the spec; None for input and added output
    name: str
    output_shape: tuple[int, ...] | None
    params: int | None


@dataclass(frozen=True)
class Analysis:
    rows: list[LayerRow]
    errors: list[SpecError]
    memory_mb: float | None = None  # estimated training memory; None when it cannot be known

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_params(self) -> int | None:
        """All parameters, trainable or not; None when a layer's count is unknown."""
        if any(row.params is None for row in self.rows):
            return None
        return sum(row.params for row in self.rows)

    def errors_for(self, layer: int | None) -> list[SpecError]:
        return [e for e in self.errors if e.layer == layer]

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


def analyze(spec: ModelSpec, *, input_shape: tuple[int, int], n_classes: int) -> Analysis:
    """Output shape and parameter count of every layer, the training memory, and every
    problem of ``spec`` for images of ``input_shape`` (h, w) and ``n_classes`` classes.

    Shapes exclude the batch dimension. Counts include non-trainable parameters
    (BatchNormalization's moving mean and variance), as Keras's ``count_params`` does.
    """
    errors = []
    if problem := name_problem(spec.name):
        errors.append(SpecError(problem, field="name"))
    errors += _check_training(spec.train)
    shape: tuple[int, ...] | None = (*input_shape, 1)
    rows = [LayerRow(None, "Input", shape, 0)]
    if len(spec.layers) > MAX_LAYERS:  # refuse before looking at each of thousands of layers
        errors.append(SpecError(f"The model has {len(spec.layers):,} layers; at most "
                                f"{MAX_LAYERS} are allowed.", field="layers"))  # fmt: skip
        return Analysis(rows + [LayerRow(None, "…", None, None)], errors)
    for number, layer in enumerate(spec.layers, start=1):
        title = layer.describe()
        problem = _first_problem(layer.kind.fields, layer.params, f"Layer {number} ({layer.type}): ")
        if problem is not None:
            errors.append(SpecError(problem[1], layer=number, field=problem[0]))
            shape = None
        elif shape is not None:
            try:
                out, count = _infer(layer, number, shape, title)
            except ShapeError as exc:
                errors.append(SpecError(str(exc), layer=number, field=exc.field))
                shape = None
            else:
                rows.append(LayerRow(number, title, out, count))
                shape = out
                continue
        rows.append(LayerRow(number, title, None, None))
    if shape is not None:
        if len(shape) > 1:
            rows.append(LayerRow(None, ADDED_FLATTEN, (math.prod(shape),), 0))
            shape = (math.prod(shape),)
        rows.append(LayerRow(None, f"Dense {n_classes} softmax (output)", (n_classes,),
                             shape[0] * n_classes + n_classes))  # fmt: skip
    analysis = Analysis(rows, errors)
    return _check_size(analysis, spec)


def _infer(layer, number: int, shape: tuple[int, ...], title: str):
    """The layer's output shape and parameter count, or ShapeError with the whole sentence."""
    where = f"Layer {number} ({title})"
    kind = layer.kind
    if kind.accepts == "image" and len(shape) != 3:
        raise ShapeError(f"{where} needs an image (height × width × channels) but gets a flat "
                         f"vector of {shape[0]}; move it before the Flatten.")  # fmt: skip
    if kind.accepts == "flat" and len(shape) != 1:
        raise ShapeError(f"{where} needs a flat input but gets {format_shape(shape)}; put a "
                         "Flatten before it.")  # fmt: skip
    try:
        return kind.shape(layer.params, shape)
    except ShapeError as exc:
        raise ShapeError(f"{where}: {exc}", field=exc.field) from None


def _first_problem(fields, values: dict, prefix: str) -> tuple[str, str] | None:
    """(field name, sentence) of the first invalid value, or None."""
    for field in fields:
        problem = field.problem(values[field.name], prefix + field.subject)
        if problem is not None:
            return field.name, problem
    return None


def _check_training(train: TrainSpec) -> list[SpecError]:
    errors = []
    for field in TRAIN_FIELDS.values():
        if problem := field.problem(getattr(train, field.name)):
            errors.append(SpecError(problem, field=field.name))
    valid_split = not any(e.field == "validation_split" for e in errors)
    for name, callback, fields, label in (
        ("early_stopping", train.early_stopping, EARLY_STOPPING_FIELDS, "Early stopping"),
        ("reduce_lr", train.reduce_lr, REDUCE_LR_FIELDS, "Reduce LR on plateau"),
    ):
        if callback is None:
            continue
        for field in fields.values():
            if problem := field.problem(getattr(callback, field.name)):
                errors.append(SpecError(problem, field=name))
        if (isinstance(callback.monitor, str) and callback.monitor.startswith("val_")
                and valid_split and train.validation_split == 0):  # fmt: skip
            errors.append(SpecError(
                f"{label} monitors {callback.monitor} but there is no validation split; set "
                "one or monitor the training loss.", field=name,
            ))  # fmt: skip
    if train.lr_schedule == "cosine" and train.reduce_lr is not None:
        errors.append(SpecError(
            "A cosine learning-rate schedule sets the rate at every step, so it cannot be "
            "combined with reduce LR on plateau; turn one of them off.", field="lr_schedule",
        ))  # fmt: skip
    return errors


# --------------------------------------------------------------------------- the budget


def max_params() -> int:
    """The largest model trained here: ``MNIST_MAX_PARAMS`` (default 50 million)."""
    return _limit("MNIST_MAX_PARAMS", DEFAULT_MAX_PARAMS)


def max_training_memory_mb() -> int:
    """The most memory a training run may need: ``MNIST_MAX_TRAINING_MEMORY_MB`` (default
    4,096, which leaves room on an 8 GB laptop for the app and the dataset)."""
    return _limit("MNIST_MAX_TRAINING_MEMORY_MB", DEFAULT_MAX_TRAINING_MEMORY_MB)


def _limit(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not text:
        return default
    try:
        value = int(text)
        if value < 1:
            raise ValueError
    except ValueError:
        warnings.warn(f"{name}={os.environ[name]!r} is not a whole number of at least 1; "
                      f"using the default {default:,}.", stacklevel=3)  # fmt: skip
        return default
    return value


def values_per_weight(train: TrainSpec) -> int:
    """Float32 values training holds per weight with ``train``'s optimizer."""
    key = "sgd+momentum" if train.optimizer == "sgd" and train.momentum else train.optimizer
    return VALUES_PER_WEIGHT.get(key, max(VALUES_PER_WEIGHT.values()))


def _check_size(analysis: Analysis, spec: ModelSpec) -> Analysis:
    """The parameter and memory budget. Memory: :data:`VALUES_PER_WEIGHT` per weight, plus
    one batch of every layer's outputs and their gradients (a Flatten's output is a view: no
    memory of its own). The dataset and TensorFlow itself (about 0.7 GB) come on top."""
    total = analysis.total_params
    if total is None:
        return analysis
    train = spec.train
    errors = list(analysis.errors)
    limit = max_params()
    if total > limit:
        errors.append(SpecError(
            f"The model has {total:,} parameters, more than the limit of {limit:,} "
            "(MNIST_MAX_PARAMS); use fewer or smaller layers.", field="size",
        ))  # fmt: skip
    if any(e.field in ("optimizer", "momentum", "batch_size") for e in errors):
        return Analysis(analysis.rows, errors)
    per_weight = values_per_weight(train)
    views = {number for number, layer in enumerate(spec.layers, start=1) if layer.kind.view}
    activations = sum(math.prod(row.output_shape) for row in analysis.rows
                      if row.number not in views and row.name != ADDED_FLATTEN)  # fmt: skip
    values = total * per_weight + VALUES_PER_ACTIVATION * train.batch_size * activations
    memory_mb = values * BYTES_PER_VALUE / 2**20
    limit_mb = max_training_memory_mb()
    if memory_mb > limit_mb:
        errors.append(SpecError(
            f"Training would need about {max(1, round(memory_mb)):,} MB of memory ({per_weight} "
            f"values per weight with {train.optimizer}, and a batch of {train.batch_size:,} "
            f"images' activations), more than the limit of {limit_mb:,} MB "
            "(MNIST_MAX_TRAINING_MEMORY_MB); use fewer or smaller layers or a smaller batch "
            "size.", field="size",
        ))  # fmt: skip
    return Analysis(analysis.rows, errors, memory_mb)


def format_shape(shape: tuple[int, ...] | None) -> str:
    """``(26, 26, 32)`` → ``"26×26×32"``; None → ``"?"``."""
    return "?" if shape is None else "×".join(str(s) for s in shape)
