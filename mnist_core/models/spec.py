"""Model specs: what to build and how to train it, as plain JSON-able values.

A :class:`ModelSpec` is a name, an ordered list of :class:`LayerSpec` (any type in the
layer registry, :data:`~mnist_core.models.layers.LAYER_TYPES`) and a :class:`TrainSpec`.
The input is the dataset's image with one channel, ``(h, w, 1)``; the softmax output over
the dataset's classes is added after the last layer (with a Flatten first if needed).

Reading JSON (:meth:`ModelSpec.from_json`, :meth:`ModelSpec.from_url`) refuses what cannot
be a spec at all (unknown fields, a layer type that does not exist, more than
:data:`MAX_LAYERS` layers) in one sentence; every value's type and range is checked by
:func:`~mnist_core.models.analysis.analyze`, which reports each problem next to its layer
or setting, as the form does. :data:`TRAIN_FIELDS` and friends describe the training
settings the way the registry describes layer parameters.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mnist_core.models.fields import Field, SpecError, shown
from mnist_core.models.layers import LAYER_TYPES

__all__ = [
    "DEFAULT_LEARNING_RATES", "EARLY_STOPPING_FIELDS", "KERAS_BACKENDS", "LR_SCHEDULES", "MAX_LAYERS", "MONITORS", "OPTIMIZERS", "REDUCE_LR_FIELDS", "TRAIN_FIELDS", "EarlyStoppingSpec", "LayerSpec",
    "ModelSpec", "ReduceLRSpec", "SpecError", "TrainSpec", "name_problem",
]  # fmt: skip

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam")
# Keras 3's default learning rates.
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001,
                          "adagrad": 0.001, "adadelta": 0.001, "nadam": 0.001}  # fmt: skip
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
MAX_LAYERS = 100
MAX_NAME_LENGTH = 100
MAX_URL_JSON_BYTES = 256 * 1024  # a link's spec, decompressed; 100 layers need ~10 KB
MAX_SEED = 2**32 - 1  # what NumPy's and Keras's seeding accept
# Which Keras backend trains the run; "auto" picks by the layers (mnist_core.runs.backend).
KERAS_BACKENDS = ("auto", "tensorflow", "jax")
# How the learning rate moves during training: "constant" (only reduce_lr may change it) or
# "cosine" (per step, from the learning rate down to 0 at the end of the last epoch).
LR_SCHEDULES = ("constant", "cosine")

TRAIN_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("optimizer", "choice", "adam", choices=OPTIMIZERS, subject="The optimizer"),
    Field("learning_rate", "float", None, low=0.0, low_open=True, optional=True,
          label="learning rate", subject="The learning rate", format="%g"),
    Field("momentum", "float", 0.0, low=0.0, high=1.0, high_open=True, step=0.1,
          subject="Momentum", help="SGD only."),
    Field("nesterov", "bool", False, label="Nesterov", subject="Nesterov"),
    Field("batch_size", "int", 32, low=1, high=65_536, step=16, label="batch size",
          subject="The batch size"),
    Field("epochs", "int", 5, low=1, high=1_000, step=1, subject="Epochs"),
    # At most 0.9: at least a tenth of the training images stay for training (143 of the
    # 8×8 digits' 1,437); at least 0.01, so the validation is not a handful of images.
    Field("validation_split", "float", 0.2, low=0.01, high=0.9, also=0.0, step=0.05,
          label="validation split", subject="The validation split",
          help="Share of the training images held out for validation (0: none)."),
    Field("seed", "int", 0, low=0, high=MAX_SEED, step=1, subject="The seed"),
    Field("keras_backend", "choice", "auto", choices=KERAS_BACKENDS, label="Keras backend",
          subject="The Keras backend",
          help="auto: JAX for dense layers, TensorFlow for convolutions (faster on this "
               "machine's CPU, as measured); the run records the one it used."),
    Field("lr_schedule", "choice", "constant", choices=LR_SCHEDULES,
          label="learning-rate schedule", subject="The learning-rate schedule",
          help="constant: the learning rate stays (reduce LR on plateau may lower it). "
               "cosine: it falls along a half cosine, step by step, from the learning rate "
               "to 0 at the end of the last epoch (not with reduce LR on plateau)."),
)}  # fmt: skip
EARLY_STOPPING_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("monitor", "choice", "val_loss", choices=MONITORS, subject="Early stopping monitor"),
    Field("patience", "int", 3, low=0, high=1_000, step=1, subject="Early stopping patience"),
    Field("min_delta", "float", 0.0, low=0.0, high=1.0, step=1e-4, format="%g",
          subject="Early stopping min_delta"),
    Field("restore_best_weights", "bool", True, label="restore best weights",
          subject="Early stopping restore_best_weights"),
)}  # fmt: skip
REDUCE_LR_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("monitor", "choice", "val_loss", choices=MONITORS,
          subject="Reduce LR on plateau monitor"),
    Field("patience", "int", 1, low=0, high=1_000, step=1,
          subject="Reduce LR on plateau patience"),
    Field("factor", "float", 0.1, low=0.0, high=1.0, low_open=True, high_open=True, step=0.05,
          subject="Reduce LR on plateau factor"),
    Field("min_lr", "float", 0.0, low=0.0, high=1.0, format="%g",
          subject="Reduce LR on plateau min_lr"),
)}  # fmt: skip


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a model, or None. Any printable text is fine (spaces,
    brackets, accents): the Keras builder makes its own safe name from it."""
    if isinstance(name, str) and 1 <= len(name) <= MAX_NAME_LENGTH and name.isprintable():
        return None
    return (f"The model name must be text of 1 to {MAX_NAME_LENGTH} printable characters; "
            f"got {shown(name)}.")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its registry type and parameters (missing ones take the type's defaults).
    Values are checked by ``analyze``; only the type and the parameter names are checked
    here."""

    type: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.type, str) or self.type not in LAYER_TYPES:
            raise SpecError(
                f"Unknown layer type {shown(self.type)}; use one of {', '.join(LAYER_TYPES)}.",
                field="type",
            )
        defaults = LAYER_TYPES[self.type].defaults
        unknown = set(self.params) - set(defaults)
        if unknown:
            raise SpecError(
                f"{self.type} has no parameter {', '.join(sorted(map(str, unknown)))}; "
                f"it takes {', '.join(defaults) or 'none'}.",
                field=min(map(str, unknown)),
            )
        object.__setattr__(self, "params", {**defaults, **self.params})

    @property
    def kind(self):
        """The registry entry of this layer's type."""
        return LAYER_TYPES[self.type]

    def describe(self) -> str:
        return self.kind.describe(self.params)

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
    ``validation_split`` 0 means no validation data; ``keras_backend`` "auto" lets the run
    choose by its layers (:mod:`mnist_core.runs.backend`); ``lr_schedule`` "cosine" anneals
    the learning rate to 0 over all epochs' steps. Ranges: :data:`TRAIN_FIELDS`."""

    optimizer: str = "adam"
    learning_rate: float | None = None
    momentum: float = 0.0  # SGD only
    nesterov: bool = False  # SGD only
    batch_size: int = 32
    epochs: int = 5
    validation_split: float = 0.2
    seed: int = 0
    keras_backend: str = "auto"  # one of KERAS_BACKENDS
    lr_schedule: str = "constant"  # one of LR_SCHEDULES
    early_stopping: EarlyStoppingSpec | None = None
    reduce_lr: ReduceLRSpec | None = None

    @property
    def effective_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if isinstance(self.optimizer, str):
            return DEFAULT_LEARNING_RATES.get(self.optimizer, 0.001)
        return 0.001


@dataclass(frozen=True)
class ModelSpec:
    layers: tuple[LayerSpec, ...] = ()
    train: TrainSpec = TrainSpec()
    name: str = "custom"

    def to_json(self) -> dict:
        train = asdict(self.train)
        # The defaults of later fields stay out: specs and links read as before.
        for key, default in (("keras_backend", "auto"), ("lr_schedule", "constant")):
            if train[key] == default:
                del train[key]
        return {"name": self.name, "layers": [layer.to_json() for layer in self.layers],
                "train": train}  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> ModelSpec:
        """Build a spec from JSON, refusing in one sentence what cannot be a spec: not an
        object, unknown fields, more than :data:`MAX_LAYERS` layers, an unknown layer type."""
        if not isinstance(data, dict):
            raise SpecError("A model spec must be a JSON object.")
        unknown = set(data) - {"name", "layers", "train"}
        if unknown:
            raise SpecError(f"Unknown spec field {', '.join(sorted(unknown))}; "
                            "a spec has name, layers and train.")  # fmt: skip
        layers = data.get("layers", [])
        if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
            raise SpecError("'layers' must be a list of objects, one per layer.", field="layers")
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"The spec has {len(layers):,} layers; at most {MAX_LAYERS} are "
                            "allowed.", field="layers")  # fmt: skip
        parsed = []
        for number, layer in enumerate(layers, start=1):
            try:
                parsed.append(LayerSpec.from_json(layer))
            except SpecError as exc:
                raise SpecError(f"Layer {number}: {exc}", layer=number, field=exc.field) from None
        train = data.get("train", {})
        if not isinstance(train, dict):
            raise SpecError(f"'train' must be an object of training settings; got "
                            f"{shown(train)}.", field="train")  # fmt: skip
        train = dict(train)
        names = {f.name for f in fields(TrainSpec)}
        if set(train) - names:
            raise SpecError(f"Unknown training setting {', '.join(sorted(set(train) - names))}; "
                            f"use {', '.join(sorted(names))}.", field="train")  # fmt: skip
        for key, kind in (("early_stopping", EarlyStoppingSpec), ("reduce_lr", ReduceLRSpec)):
            if train.get(key) is not None:
                train[key] = _callback_from_json(key, kind, train[key])
        return cls(tuple(parsed), TrainSpec(**train), data.get("name", "custom"))

    def to_url(self) -> str:
        """A compact, URL-safe text for the spec (zlib-compressed JSON, base64url)."""
        raw = json.dumps(self.to_json(), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def from_url(cls, text: str) -> ModelSpec:
        damaged = SpecError("The spec in the link is damaged; it could not be read.")
        try:
            packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            inflate = zlib.decompressobj()
            raw = inflate.decompress(packed, MAX_URL_JSON_BYTES + 1)
            if len(raw) > MAX_URL_JSON_BYTES or inflate.unconsumed_tail:
                raise SpecError(f"The spec in the link is over {MAX_URL_JSON_BYTES // 1024} KB "
                                "of JSON; it was not read.")  # fmt: skip
            data = json.loads(raw)
        except (ValueError, zlib.error, RecursionError) as exc:
            if isinstance(exc, SpecError):
                raise
            raise damaged from None
        return cls.from_json(data)


def _callback_from_json(key: str, kind: type, data: Any):
    names = [f.name for f in fields(kind)]
    if not isinstance(data, dict):
        raise SpecError(f"'{key}' must be null or an object with {', '.join(names)}; got "
                        f"{shown(data)}.", field=key)  # fmt: skip
    unknown = set(data) - set(names)
    if unknown:
        raise SpecError(f"'{key}' has no setting {', '.join(sorted(unknown))}; it takes "
                        f"{', '.join(names)}.", field=key)  # fmt: skip
    return kind(**data)


# Names that lived here before the split; import them from ``mnist_core.models``.
_MOVED = {"analyze": "analysis", "Analysis": "analysis", "LayerRow": "analysis",
          "format_shape": "analysis", "PRESETS": "presets", "Preset": "presets",
          "with_train": "presets", "capacity_grid": "presets", "GRID_UNITS": "presets",
          "GRID_DEPTHS": "presets", "ACTIVATIONS": "layers", "PADDINGS": "layers"}  # fmt: skip


def __getattr__(name: str):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"mnist_core.models.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
