"""The layer registry: one :class:`LayerType` entry per kind of layer.

An entry holds everything the app knows about a layer type: its parameters (each a
:class:`~mnist_core.models.fields.Field` with type, range and default, which the form draws
as widgets), what input it accepts, its shape rule and parameter count, its one-line
description and summary title, and how it becomes a Keras layer. Validation
(:mod:`~mnist_core.models.analysis`), the summary table, the Keras builder
(:mod:`~mnist_core.models.keras_build`) and the builder page all read it, so adding a layer
type is adding one entry here (or one :func:`register` call).

This module never imports Keras: an entry's ``keras`` function receives the ``keras``
module from the builder.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_core.models.fields import Field

__all__ = ["ACTIVATIONS", "FILL_MODES", "LAYER_TYPES", "PADDINGS", "LayerType", "ShapeError",
           "register", "unregister"]  # fmt: skip

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "softplus", "linear")
PADDINGS = ("valid", "same")
# How augmentation fills the pixels it uncovers; "constant" (0, the background of MNIST-like
# images) is the default, unlike Keras's "reflect", which mirrors strokes into the border.
FILL_MODES = ("constant", "nearest", "reflect", "wrap")

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """A shape rule's complaint: the sentence after "Layer N (title): ", and the field at
    fault."""

    def __init__(self, message: str, *, field: str = "type"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LayerType:
    """One kind of layer.

    ``accepts`` is ``"image"`` (height × width × channels), ``"flat"`` (a vector) or
    ``"any"``. ``shape(params, input_shape)`` returns ``(output_shape, parameter_count)``
    (shapes without the batch dimension; counts as Keras's ``count_params``) or raises
    :class:`ShapeError`; it is only called with valid parameters and an accepted input.
    ``keras(keras_module, params, name)`` returns the Keras layer. ``title(params)`` is the
    summary table's name of the layer (default: the type name). ``training_only`` layers
    (augmentation, dropout) act during training only and pass their input through at
    evaluation.
    """

    name: str
    description: str
    shape: Callable[[dict, Shape], tuple[Shape, int]]
    keras: Callable[[Any, dict, str], Any]
    fields: tuple[Field, ...] = ()
    accepts: str = "any"
    title: Callable[[dict], str] | None = None
    training_only: bool = False
    view: bool = False  # the output is a view of the input (a reshape): no memory of its own

    def __post_init__(self):
        if self.accepts not in ("image", "flat", "any"):
            raise ValueError(f"{self.name}: accepts must be 'image', 'flat' or 'any'; "
                             f"got {self.accepts!r}.")  # fmt: skip

    @property
    def defaults(self) -> dict[str, Any]:
        return {field.name: field.default for field in self.fields}

    def field(self, name: str) -> Field:
        return next(field for field in self.fields if field.name == name)

    def describe(self, params: dict) -> str:
        """The layer as the summary table names it: "Dense 64 relu", "Dropout 0.2"."""
        if self.title is None or any(f.problem(params.get(f.name)) for f in self.fields):
            return self.name  # an invalid value: its sentence names it; the title does not
        return self.title(params)


LAYER_TYPES: dict[str, LayerType] = {}


def register(entry: LayerType) -> LayerType:
    """Add a layer type to the registry (validation, summary, Keras build and form follow)."""
    if entry.name in LAYER_TYPES:
        raise ValueError(f"Layer type {entry.name!r} is already registered.")
    LAYER_TYPES[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a layer type (tests that register their own use this to clean up)."""
    LAYER_TYPES.pop(name, None)


# --------------------------------------------------------------------------- shared pieces


def _num(value: float) -> str:
    return f"{value:g}"


def _regularizer(keras, params: dict):
    return keras.regularizers.L2(params["l2"]) if params["l2"] else None


def _same(params: dict, shape: Shape) -> tuple[Shape, int]:
    return shape, 0


def _pooling(params: dict, shape: Shape) -> tuple[Shape, int]:
    # Keras's default strides equal the pool size; padding 'valid'.
    h, w, channels = shape
    size = params["pool_size"]
    if size > h or size > w:
        raise ShapeError(f"pooling {size}×{size} over a {h}×{w} input leaves nothing; use a "
                         "smaller pool size or fewer layers before it.", field="pool_size")  # fmt: skip
    return ((h - size) // size + 1, (w - size) // size + 1, channels), 0


def _conv(params: dict, shape: Shape) -> tuple[Shape, int]:
    h, w, channels = shape
    k, s = params["kernel_size"], params["strides"]
    if params["padding"] == "valid":
        if k > h or k > w:
            raise ShapeError(f"the {k}×{k} kernel is larger than its {h}×{w} input; use a "
                             "smaller kernel or padding 'same'.", field="kernel_size")  # fmt: skip
        out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    else:
        out_h, out_w = -(-h // s), -(-w // s)
    return (out_h, out_w, params["filters"]), (k * k * channels + 1) * params["filters"]


def _activation(default: str = "relu") -> Field:
    return Field("activation", "choice", default, choices=ACTIVATIONS)


L2 = Field("l2", "float", 0.0, low=0.0, high=1.0, label="L2", step=1e-4, format="%g",
           help="Weight decay: L2 penalty on the kernel (0: none).")  # fmt: skip
FILL_MODE = Field("fill_mode", "choice", "constant", choices=FILL_MODES, label="fill",
                  subject="fill mode", help="How uncovered pixels are filled; constant: 0.")  # fmt: skip


def _augmentation_factor(name: str, default: float, label: str, help: str) -> Field:
    subject = f"the {label} factor" if label != "factor" else "the factor"
    return Field(name, "float", default, low=0.0, high=0.5, label=label, subject=subject,
                 step=0.01, format="%g", help=help)  # fmt: skip


# --------------------------------------------------------------------------- the entries

register(LayerType(
    "Flatten", "Unrolls an image into a vector, for the dense layers after it.",
    shape=lambda p, shape: ((math.prod(shape),), 0),
    keras=lambda keras, p, name: keras.layers.Flatten(name=name),
    view=True,
))
register(LayerType(
    "Dense", "Fully connected: every output unit sees every input value.",
    fields=(
        Field("units", "int", 64, low=1, high=1_000_000, step=16),
        _activation(),
        L2,
    ),
    accepts="flat",
    shape=lambda p, shape: ((p["units"],), shape[0] * p["units"] + p["units"]),
    keras=lambda keras, p, name: keras.layers.Dense(
        p["units"], activation=p["activation"], kernel_regularizer=_regularizer(keras, p),
        name=name),
    title=lambda p: f"Dense {_num(p['units'])} {p['activation']}",
))  # fmt: skip
register(LayerType(
    "Dropout", "Zeroes a random share of its inputs while training, against overfitting.",
    fields=(Field("rate", "float", 0.2, low=0.0, high=1.0, high_open=True, step=0.05,
                  subject="the dropout rate"),),
    shape=_same,
    keras=lambda keras, p, name: keras.layers.Dropout(p["rate"], name=name),
    title=lambda p: f"Dropout {_num(p['rate'])}",
    training_only=True,
))  # fmt: skip
register(LayerType(
    "Conv2D", "Slides small learnt filters over the image: one feature map per filter.",
    fields=(
        Field("filters", "int", 32, low=1, high=4096, step=8),
        Field("kernel_size", "int", 3, low=1, high=64, step=1, label="kernel",
              subject="the kernel size"),
        Field("strides", "int", 1, low=1, high=64, step=1),
        Field("padding", "choice", "valid", choices=PADDINGS),
        _activation(),
        L2,
    ),
    accepts="image",
    shape=_conv,
    keras=lambda keras, p, name: keras.layers.Conv2D(
        p["filters"], p["kernel_size"], strides=p["strides"], padding=p["padding"],
        activation=p["activation"], kernel_regularizer=_regularizer(keras, p), name=name),
    title=lambda p: (f"Conv2D {_num(p['filters'])}@{_num(p['kernel_size'])}×"
                     f"{_num(p['kernel_size'])} {p['activation']}"),
))  # fmt: skip
register(LayerType(
    "MaxPooling2D", "Keeps the largest value of each pool × pool window: halves the image at 2.",
    fields=(Field("pool_size", "int", 2, low=1, high=64, step=1, label="pool size",
                  subject="the pool size"),),
    accepts="image",
    shape=_pooling,
    keras=lambda keras, p, name: keras.layers.MaxPooling2D(p["pool_size"], name=name),
    title=lambda p: f"MaxPooling2D {_num(p['pool_size'])}",
))  # fmt: skip
register(LayerType(
    "AveragePooling2D", "Averages each pool × pool window: a smoother downsampling than max.",
    fields=(Field("pool_size", "int", 2, low=1, high=64, step=1, label="pool size",
                  subject="the pool size"),),
    accepts="image",
    shape=_pooling,
    keras=lambda keras, p, name: keras.layers.AveragePooling2D(p["pool_size"], name=name),
    title=lambda p: f"AveragePooling2D {_num(p['pool_size'])}",
))  # fmt: skip
register(LayerType(
    "GlobalAveragePooling2D", "Averages each feature map to one number: an image becomes a "
    "vector of its channels.",
    accepts="image",
    shape=lambda p, shape: ((shape[-1],), 0),
    keras=lambda keras, p, name: keras.layers.GlobalAveragePooling2D(name=name),
))  # fmt: skip
register(LayerType(
    "BatchNormalization", "Normalises each channel over the batch (learnt scale and shift, "
    "moving mean and variance).",
    shape=lambda p, shape: (shape, 4 * shape[-1]),
    keras=lambda keras, p, name: keras.layers.BatchNormalization(name=name),
))  # fmt: skip
register(LayerType(
    "LayerNormalization", "Normalises each example over its channels (learnt scale and "
    "shift), independent of the batch.",
    shape=lambda p, shape: (shape, 2 * shape[-1]),
    keras=lambda keras, p, name: keras.layers.LayerNormalization(name=name),
))  # fmt: skip
register(LayerType(
    "RandomRotation", "Training only: rotates each image by a random angle up to ± factor "
    "of a full turn.",
    fields=(
        _augmentation_factor("factor", 0.05, "factor", "Largest rotation as a share of a "
                             "full turn: 0.05 is ±18°."),
        FILL_MODE,
    ),
    accepts="image",
    shape=_same,
    keras=lambda keras, p, name: keras.layers.RandomRotation(
        p["factor"], fill_mode=p["fill_mode"], name=name),
    title=lambda p: f"RandomRotation ±{_num(p['factor'] * 360)}°",
    training_only=True,
))  # fmt: skip
register(LayerType(
    "RandomTranslation", "Training only: shifts each image by a random share of its height "
    "and width.",
    fields=(
        _augmentation_factor("height_factor", 0.1, "height", "Largest vertical shift as a "
                             "share of the height."),
        _augmentation_factor("width_factor", 0.1, "width", "Largest horizontal shift as a "
                             "share of the width."),
        FILL_MODE,
    ),
    accepts="image",
    shape=_same,
    keras=lambda keras, p, name: keras.layers.RandomTranslation(
        p["height_factor"], p["width_factor"], fill_mode=p["fill_mode"], name=name),
    title=lambda p: f"RandomTranslation ±{_num(p['height_factor'])}×{_num(p['width_factor'])}",
    training_only=True,
))  # fmt: skip
register(LayerType(
    "RandomZoom", "Training only: zooms each image in or out by a random share, keeping its "
    "aspect ratio.",
    fields=(
        _augmentation_factor("factor", 0.1, "factor", "Largest zoom in or out as a share of "
                             "the size: 0.1 is ±10%."),
        FILL_MODE,
    ),
    accepts="image",
    shape=_same,
    keras=lambda keras, p, name: keras.layers.RandomZoom(
        p["factor"], fill_mode=p["fill_mode"], name=name),
    title=lambda p: f"RandomZoom ±{_num(p['factor'])}",
    training_only=True,
))  # fmt: skip
