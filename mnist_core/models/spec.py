"""Model specs: what to build and how to train it, as plain JSON-able values.

A :class:`ModelSpec` is an ordered list of :class:`LayerSpec` (Flatten, Dense, Dropout,
Conv2D, MaxPooling2D, BatchNormalization) and a :class:`TrainSpec`. The input is the
dataset's image with one channel, ``(h, w, 1)``; the softmax output over the dataset's
classes is added after the last layer (with a Flatten first if the tensor is not flat).

:func:`analyze` infers every layer's output shape and parameter count without TensorFlow
(they equal Keras's ``count_params``), and reports every impossible setting as a
:class:`SpecError` naming the layer and the value. :data:`PRESETS` reproduce the
tutorials this app grew from.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "LAYER_TYPES",
    "OPTIMIZERS",
    "PRESETS",
    "Analysis",
    "EarlyStoppingSpec",
    "LayerSpec",
    "ModelSpec",
    "ReduceLRSpec",
    "SpecError",
    "TrainSpec",
    "analyze",
]

# Each layer type with its parameters and their defaults.
LAYER_TYPES: dict[str, dict[str, Any]] = {
    "Flatten": {},
    "Dense": {"units": 64, "activation": "relu", "l2": 0.0},
    "Dropout": {"rate": 0.2},
    "Conv2D": {"filters": 32, "kernel_size": 3, "strides": 1, "padding": "valid",
               "activation": "relu", "l2": 0.0},  # fmt: skip
    "MaxPooling2D": {"pool_size": 2},
    "BatchNormalization": {},
}
ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "softplus", "linear")
PADDINGS = ("valid", "same")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam")
# Keras 3's default learning rates.
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001,
                          "adagrad": 0.001, "adadelta": 0.001, "nadam": 0.001}  # fmt: skip
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")


class SpecError(ValueError):
    """An impossible spec. ``layer`` is the 1-based layer number at fault, or None for a
    training setting; ``field`` names the setting."""

    def __init__(self, message: str, *, layer: int | None = None, field: str | None = None):
        super().__init__(message)
        self.layer = layer
        self.field = field


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its Keras class name and parameters (defaults from :data:`LAYER_TYPES`)."""

    type: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.type not in LAYER_TYPES:
            raise SpecError(
                f"Unknown layer type {self.type!r}; use one of {', '.join(LAYER_TYPES)}.",
                field="type",
            )
        defaults = LAYER_TYPES[self.type]
        unknown = set(self.params) - set(defaults)
        if unknown:
            raise SpecError(
                f"{self.type} has no parameter {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(defaults) or 'none'}.",
                field=sorted(unknown)[0],
            )
        object.__setattr__(self, "params", {**defaults, **self.params})

    def describe(self) -> str:
        p = self.params
        if self.type == "Dense":
            return f"Dense {p['units']} {p['activation']}"
        if self.type == "Conv2D":
            k = p["kernel_size"]
            return f"Conv2D {p['filters']}@{k}×{k} {p['activation']}"
        if self.type == "Dropout":
            return f"Dropout {p['rate']:g}"
        if self.type == "MaxPooling2D":
            return f"MaxPooling2D {p['pool_size']}"
        return self.type

    def to_json(self) -> dict:
        return {"type": self.type, **self.params}

    @classmethod
    def from_json(cls, data: dict) -> LayerSpec:
        data = dict(data)
        return cls(data.pop("type", "?"), data)


@dataclass(frozen=True)
class EarlyStoppingSpec:
    monitor: str = "val_loss"
    patience: int = 3
    min_delta: float = 0.0
    restore_best_weights: bool = True


@dataclass(frozen=True)
class ReduceLRSpec:
    monitor: str = "val_loss"
    patience: int = 1
    factor: float = 0.1
    min_lr: float = 0.0


@dataclass(frozen=True)
class TrainSpec:
    """How to train. ``learning_rate`` None means the optimizer's Keras default;
    ``validation_split`` 0 means no validation data."""

    optimizer: str = "adam"
    learning_rate: float | None = None
    momentum: float = 0.0  # SGD only
    nesterov: bool = False  # SGD only
    batch_size: int = 32
    epochs: int = 5
    validation_split: float = 0.2
    seed: int = 0
    early_stopping: EarlyStoppingSpec | None = None
    reduce_lr: ReduceLRSpec | None = None

    @property
    def effective_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES.get(self.optimizer, 0.001)


@dataclass(frozen=True)
class ModelSpec:
    layers: tuple[LayerSpec, ...] = ()
    train: TrainSpec = TrainSpec()
    name: str = "custom"

    def to_json(self) -> dict:
        train = asdict(self.train)
        return {"name": self.name, "layers": [layer.to_json() for layer in self.layers],
                "train": train}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> ModelSpec:
        """Build a spec from JSON, refusing unknown fields with a sentence naming them."""
        if not isinstance(data, dict):
            raise SpecError("A model spec must be a JSON object.")
        unknown = set(data) - {"name", "layers", "train"}
        if unknown:
            raise SpecError(f"Unknown spec field {', '.join(sorted(unknown))}.")
        layers = data.get("layers", [])
        if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
            raise SpecError("'layers' must be a list of objects.")
        parsed = []
        for number, layer in enumerate(layers, start=1):
            try:
                parsed.append(LayerSpec.from_json(layer))
            except SpecError as exc:
                raise SpecError(f"Layer {number}: {exc}", layer=number, field=exc.field) from None
        train = dict(data.get("train", {}))
        fields = set(TrainSpec.__dataclass_fields__)
        if set(train) - fields:
            raise SpecError(f"Unknown training setting {', '.join(sorted(set(train) - fields))}.")
        for key, kind in (("early_stopping", EarlyStoppingSpec), ("reduce_lr", ReduceLRSpec)):
            if train.get(key) is not None:
                try:
                    train[key] = kind(**train[key])
                except TypeError as exc:
                    raise SpecError(f"{key}: {exc}.", field=key) from None
        return cls(tuple(parsed), TrainSpec(**train), str(data.get("name", "custom")))

    def to_url(self) -> str:
        """A compact, URL-safe text for the spec (zlib-compressed JSON, base64url)."""
        raw = json.dumps(self.to_json(), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def from_url(cls, text: str) -> ModelSpec:
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            data = json.loads(raw)
        except (ValueError, zlib.error):
            raise SpecError("The spec in the link is damaged; it could not be read.") from None
        return cls.from_json(data)


# --------------------------------------------------------------------------- analysis


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

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_params(self) -> int | None:
        if self.errors:
            return None
        return sum(row.params or 0 for row in self.rows)

    def errors_for(self, layer: int | None) -> list[SpecError]:
        return [e for e in self.errors if e.layer == layer]

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


def analyze(spec: ModelSpec, *, input_shape: tuple[int, int], n_classes: int) -> Analysis:
    """Output shape and parameter count of every layer, and every error in the spec.

    Shapes exclude the batch dimension. Counts include non-trainable parameters
    (BatchNormalization's moving mean and variance), as Keras's ``count_params`` does.
    """
    errors = _check_training(spec.train)
    shape: tuple[int, ...] | None = (*input_shape, 1)
    rows = [LayerRow(None, "Input", shape, 0)]
    for number, layer in enumerate(spec.layers, start=1):
        try:
            _check_layer_params(layer, number)
            if shape is None:  # an earlier layer failed: nothing to infer
                rows.append(LayerRow(number, layer.describe(), None, None))
                continue
            out, params = _infer(layer, shape, number)
        except SpecError as exc:
            errors.append(exc)
            rows.append(LayerRow(number, layer.describe(), None, None))
            shape = None
            continue
        rows.append(LayerRow(number, layer.describe(), out, params))
        shape = out
    if shape is not None:
        if len(shape) > 1:
            rows.append(LayerRow(None, "Flatten (added)", (math.prod(shape),), 0))
            shape = (math.prod(shape),)
        rows.append(LayerRow(None, f"Dense {n_classes} softmax (output)", (n_classes,),
                             shape[0] * n_classes + n_classes))  # fmt: skip
    return Analysis(rows, errors)


def _check_training(train: TrainSpec) -> list[SpecError]:
    errors = []

    def bad(message: str, name: str) -> None:
        errors.append(SpecError(message, field=name))

    if train.optimizer not in OPTIMIZERS:
        bad(f"Unknown optimizer {train.optimizer!r}; use one of {', '.join(OPTIMIZERS)}.",
            "optimizer")  # fmt: skip
    if train.learning_rate is not None and not train.learning_rate > 0:
        bad(f"The learning rate must be greater than 0; got {train.learning_rate}.",
            "learning_rate")  # fmt: skip
    if not 0 <= train.momentum < 1:
        bad(f"Momentum must be in [0, 1); got {train.momentum}.", "momentum")
    if not isinstance(train.batch_size, int) or train.batch_size < 1:
        bad(f"The batch size must be at least 1; got {train.batch_size}.", "batch_size")
    if not isinstance(train.epochs, int) or train.epochs < 1:
        bad(f"Epochs must be at least 1; got {train.epochs}.", "epochs")
    if not (train.validation_split == 0 or 0 < train.validation_split < 1):
        bad(f"The validation split must be 0 (none) or in (0, 1); got {train.validation_split}.",
            "validation_split")  # fmt: skip
    for name, callback in (("early_stopping", train.early_stopping),
                           ("reduce_lr", train.reduce_lr)):  # fmt: skip
        if callback is None:
            continue
        label = "Early stopping" if name == "early_stopping" else "Reduce LR on plateau"
        if callback.monitor not in MONITORS:
            bad(f"{label} monitors {callback.monitor!r}; use one of {', '.join(MONITORS)}.", name)
        elif callback.monitor.startswith("val_") and train.validation_split == 0:
            bad(f"{label} monitors {callback.monitor} but there is no validation split; "
                "set one or monitor the training loss.", name)  # fmt: skip
        if callback.patience < 0:
            bad(f"{label} patience must be 0 or more; got {callback.patience}.", name)
    if train.reduce_lr is not None and not 0 < train.reduce_lr.factor < 1:
        bad(f"Reduce LR on plateau factor must be in (0, 1); got {train.reduce_lr.factor}.",
            "reduce_lr")  # fmt: skip
    return errors


def _check_layer_params(layer: LayerSpec, number: int) -> None:
    p = layer.params
    where = f"Layer {number} ({layer.type})"

    def positive_int(name: str) -> None:
        value = p[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"{where}: {name} must be a whole number of at least 1; got {value}.",
                            layer=number, field=name)  # fmt: skip

    if layer.type == "Dense":
        positive_int("units")
    if layer.type == "Conv2D":
        for name in ("filters", "kernel_size", "strides"):
            positive_int(name)
        if p["padding"] not in PADDINGS:
            raise SpecError(f"{where}: padding must be 'valid' or 'same'; got {p['padding']!r}.",
                            layer=number, field="padding")  # fmt: skip
    if layer.type == "MaxPooling2D":
        positive_int("pool_size")
    if layer.type in ("Dense", "Conv2D"):
        if p["activation"] not in ACTIVATIONS:
            raise SpecError(
                f"{where}: unknown activation {p['activation']!r}; use one of "
                f"{', '.join(ACTIVATIONS)}.", layer=number, field="activation",
            )  # fmt: skip
        if not p["l2"] >= 0:
            raise SpecError(f"{where}: L2 must be 0 or more; got {p['l2']}.", layer=number,
                            field="l2")  # fmt: skip
    if layer.type == "Dropout" and not 0 <= p["rate"] < 1:
        raise SpecError(f"{where}: the dropout rate must be in [0, 1); got {p['rate']}.",
                        layer=number, field="rate")  # fmt: skip


def _infer(layer: LayerSpec, shape: tuple[int, ...], number: int) -> tuple[tuple[int, ...], int]:
    p = layer.params
    where = f"Layer {number} ({layer.describe()})"
    spatial = len(shape) == 3
    if layer.type in ("Conv2D", "MaxPooling2D") and not spatial:
        raise SpecError(
            f"{where} needs an image (height × width × channels) but gets a flat vector of "
            f"{shape[0]}; move it before the Flatten.", layer=number, field="type",
        )  # fmt: skip
    if layer.type == "Flatten":
        return (math.prod(shape),), 0
    if layer.type in ("Dropout",):
        return shape, 0
    if layer.type == "BatchNormalization":
        return shape, 4 * shape[-1]
    if layer.type == "Dense":
        if spatial:
            raise SpecError(
                f"{where} needs a flat input but gets {_fmt(shape)}; put a Flatten before it.",
                layer=number, field="type",
            )  # fmt: skip
        return (p["units"],), shape[0] * p["units"] + p["units"]
    h, w, channels = shape
    if layer.type == "Conv2D":
        k, s = p["kernel_size"], p["strides"]
        if p["padding"] == "valid":
            if k > h or k > w:
                raise SpecError(
                    f"{where}: the {k}×{k} kernel is larger than its {h}×{w} input; use a "
                    "smaller kernel or padding 'same'.", layer=number, field="kernel_size",
                )  # fmt: skip
            out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
        else:
            out_h, out_w = -(-h // s), -(-w // s)
        return (out_h, out_w, p["filters"]), (k * k * channels + 1) * p["filters"]
    # MaxPooling2D: Keras's default strides equal the pool size, padding 'valid'.
    size = p["pool_size"]
    out_h, out_w = (h - size) // size + 1, (w - size) // size + 1
    if size > h or size > w or out_h < 1 or out_w < 1:
        raise SpecError(
            f"{where}: pooling {size}×{size} over a {h}×{w} input leaves nothing; use a "
            "smaller pool size or fewer layers before it.", layer=number, field="pool_size",
        )  # fmt: skip
    return (out_h, out_w, channels), 0


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


def format_shape(shape: tuple[int, ...] | None) -> str:
    """``(26, 26, 32)`` → ``"26×26×32"``; None → ``"?"``."""
    return "?" if shape is None else _fmt(shape)


# --------------------------------------------------------------------------- presets


def _dense(units: int, activation: str = "relu") -> LayerSpec:
    return LayerSpec("Dense", {"units": units, "activation": activation})


def _conv(filters: int, kernel: int, activation: str = "relu") -> LayerSpec:
    return LayerSpec("Conv2D", {"filters": filters, "kernel_size": kernel, "activation": activation})


_FLAT = LayerSpec("Flatten")


def _drop(rate: float) -> LayerSpec:
    return LayerSpec("Dropout", {"rate": rate})


def _pool(size: int) -> LayerSpec:
    return LayerSpec("MaxPooling2D", {"pool_size": size})


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    spec: ModelSpec
    params_mnist: int  # parameter count on 28×28 MNIST, as the tutorial printed it


def _preset(name, title, layers, params, **train) -> Preset:
    return Preset(name, title, ModelSpec(tuple(layers), TrainSpec(**train), name), params)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        _preset("logistic", "multinomial logistic regression", [_FLAT], 7_850, optimizer="adam"),
        _preset("ff64", "feed-forward 64", [_FLAT, _dense(64)], 50_890, optimizer="adam",
                epochs=10),
        _preset("deep_ff", "deep feed-forward", [_FLAT, _dense(128), _dense(64)], 109_386,
                optimizer="adam", epochs=10),
        _preset("dense512", "dense 512", [_FLAT, _dense(512)], 407_050, optimizer="rmsprop",
                epochs=5, batch_size=128, validation_split=0.0),
        _preset("tuned_mlp", "tuned MLP",
                [_FLAT, _dense(512), _drop(0.3), _dense(512), _drop(0.3)], 669_706,
                optimizer="sgd", learning_rate=0.1, momentum=0.9, batch_size=128, epochs=20,
                early_stopping=EarlyStoppingSpec(patience=3, min_delta=1e-4,
                                                 restore_best_weights=True),
                reduce_lr=ReduceLRSpec(patience=1, factor=0.1)),
        _preset("dropout_mlp", "dropout MLP",
                [_FLAT, _dense(512), _drop(0.4), _dense(256), _drop(0.3), _dense(64), _drop(0.2)],
                550_346, optimizer="rmsprop", batch_size=128, epochs=30),
        _preset("small_cnn", "small CNN", [_conv(6, 5), _pool(4), _FLAT, _dense(32)], 7_430,
                optimizer="adam", epochs=10),
        _preset("two_conv_cnn", "two-conv CNN",
                [_conv(6, 3), _pool(2), _conv(12, 3), _pool(2), _FLAT, _drop(0.2), _dense(32)],
                10_682, optimizer="adam", epochs=10),
        _preset("keras_cnn", "Keras CNN",
                [_conv(32, 3), _conv(64, 3), _pool(2), _drop(0.25), _FLAT, _dense(128), _drop(0.5)],
                1_199_882, optimizer="adadelta", learning_rate=1.0, batch_size=128, epochs=12),
    ]
}  # fmt: skip


def with_train(spec: ModelSpec, **changes: Any) -> ModelSpec:
    """A copy of ``spec`` with training settings changed."""
    return replace(spec, train=replace(spec.train, **changes))


GRID_UNITS = (128, 256, 512, 1024)
GRID_DEPTHS = (1, 2, 3)


def capacity_grid(*, units=GRID_UNITS, depths=GRID_DEPTHS, epochs: int = 10,
                  base: TrainSpec | None = None) -> list[ModelSpec]:
    """Dense networks of every width × depth (as in the tuning lab): Flatten, then ``depth``
    hidden Dense layers of ``units`` ReLU units. Named ``grid 512x2`` and so on."""
    train = replace(base or TrainSpec(optimizer="adam", batch_size=128), epochs=epochs)
    return [
        ModelSpec((LayerSpec("Flatten"), *(_dense(u) for _ in range(d))), train, f"grid {u}x{d}")
        for d in depths for u in units
    ]
