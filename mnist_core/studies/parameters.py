"""The searchable settings: one entry per kind of setting a study may vary.

A parameter path names one part of a spec, and resolving it against a base spec gives a
:class:`Parameter`: the typed :class:`~mnist_core.models.Field` its values are checked
against (the same field the form and ``analyze`` use) and how a value is applied.

- a training setting: ``learning_rate``, ``batch_size``, ``epochs``, ``optimizer``,
  ``momentum``, ``seed``, ... (:data:`~mnist_core.models.TRAIN_FIELDS`);
- one layer's parameter: ``layer 2.units``, ``layer 3.rate``, ``layer 1.kernel_size``
  (numbered as in the base spec, from 1);
- every layer of a type at once: ``Dense.l2``, ``Dropout.rate``;
- ``hidden_dense_layers``: how many hidden Dense layers, by repeating the first Dense block
  (the first Dense layer and the layers after it up to the next Dense) in place of all of
  them, as the capacity grid does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from mnist_core.models import LAYER_TYPES, TRAIN_FIELDS, Field, LayerSpec, ModelSpec, SpecError

__all__ = ["HIDDEN_DENSE_LAYERS", "Parameter", "StudyError", "resolve", "searchable"]

HIDDEN_DENSE_LAYERS = Field("hidden_dense_layers", "int", 1, low=0, high=20,
                            subject="hidden_dense_layers")  # fmt: skip
_LAYER_PATH = re.compile(r"^layer\s*(\d+)\.(\w+)$")
_TYPE_PATH = re.compile(r"^([A-Za-z]\w*)\.(\w+)$")


class StudyError(SpecError):
    """A study that cannot be planned, started or read; ``str()`` is one sentence."""


@dataclass(frozen=True)
class Parameter:
    """A resolved path: its field (kind, range, choices) and how a value is applied.

    ``order`` says when it is applied: layer settings (0) before the number of hidden
    layers (1), so ``layer 2.units`` shapes the block that ``hidden_dense_layers`` repeats.
    """

    path: str
    field: Field
    apply: Callable[[ModelSpec, Any], ModelSpec]
    order: int = 0

    def problem(self, value: Any) -> str | None:
        """The sentence saying why ``value`` cannot be used, or None."""
        return self.field.problem(value, f"'{self.path}'")


def _train_parameter(name: str) -> Parameter:
    def apply(spec: ModelSpec, value: Any) -> ModelSpec:
        return replace(spec, train=replace(spec.train, **{name: value}))

    return Parameter(name, TRAIN_FIELDS[name], apply)


def _set_params(spec: ModelSpec, numbers: list[int], name: str, value: Any) -> ModelSpec:
    layers = list(spec.layers)
    for number in numbers:
        layer = layers[number - 1]
        layers[number - 1] = LayerSpec(layer.type, {**layer.params, name: value})
    return replace(spec, layers=tuple(layers))


def _dense_numbers(spec: ModelSpec) -> list[int]:
    return [n for n, layer in enumerate(spec.layers, start=1) if layer.type == "Dense"]


def with_hidden_dense_layers(spec: ModelSpec, count: int) -> ModelSpec:
    """``spec`` with ``count`` copies of its first Dense block in place of all its Dense
    blocks (layers before the first Dense stay)."""
    dense = _dense_numbers(spec)
    first = dense[0] - 1
    end = dense[1] - 1 if len(dense) > 1 else len(spec.layers)
    block = spec.layers[first:end]
    return replace(spec, layers=spec.layers[:first] + block * count)


def resolve(path: str, base: ModelSpec) -> Parameter:
    """The parameter ``path`` names in ``base``; StudyError listing what is valid."""
    text = " ".join(str(path).split())
    if text in TRAIN_FIELDS:
        return _train_parameter(text)
    if text == HIDDEN_DENSE_LAYERS.name:
        if not _dense_numbers(base):
            raise StudyError("hidden_dense_layers repeats the first Dense layer, and the base "
                             "spec has none; add a Dense layer or vary something else.")  # fmt: skip
        return Parameter(text, HIDDEN_DENSE_LAYERS, with_hidden_dense_layers, order=1)
    if match := _LAYER_PATH.match(text):
        number, name = int(match[1]), match[2]
        if not 1 <= number <= len(base.layers):
            raise StudyError(f"'{text}' names layer {number}, but the base spec has layers 1 "
                             f"to {len(base.layers)}.")  # fmt: skip
        layer = base.layers[number - 1]
        fields = {f.name: f for f in layer.kind.fields}
        if name not in fields:
            raise StudyError(f"Layer {number} ({layer.type}) has no setting {name!r}; it has "
                             f"{', '.join(fields) or 'none'}.")  # fmt: skip
        return Parameter(f"layer {number}.{name}", fields[name],
                         lambda spec, value: _set_params(spec, [number], name, value))  # fmt: skip
    if (match := _TYPE_PATH.match(text)) and match[1] in LAYER_TYPES:
        kind, name = LAYER_TYPES[match[1]], match[2]
        fields = {f.name: f for f in kind.fields}
        if name not in fields:
            raise StudyError(f"{kind.name} layers have no setting {name!r}; they have "
                             f"{', '.join(fields) or 'none'}.")  # fmt: skip
        if not any(layer.type == kind.name for layer in base.layers):
            raise StudyError(f"'{text}' sets every {kind.name} layer, and the base spec has "
                             "none.")  # fmt: skip

        def apply(spec: ModelSpec, value: Any) -> ModelSpec:
            numbers = [n for n, layer in enumerate(spec.layers, start=1) if layer.type == kind.name]
            return _set_params(spec, numbers, name, value)

        return Parameter(text, fields[name], apply)
    raise StudyError(f"Unknown parameter {text!r}; vary one of {', '.join(searchable(base))}.")


def searchable(base: ModelSpec) -> list[str]:
    """Every parameter path a study of ``base`` may vary."""
    paths = list(TRAIN_FIELDS)
    types: list[str] = []
    for number, layer in enumerate(base.layers, start=1):
        paths += [f"layer {number}.{f.name}" for f in layer.kind.fields]
        if layer.kind.fields and layer.type not in types:
            types.append(layer.type)
    paths += [f"{t}.{f.name}" for t in types for f in LAYER_TYPES[t].fields]
    if _dense_numbers(base):
        paths.append(HIDDEN_DENSE_LAYERS.name)
    return paths
