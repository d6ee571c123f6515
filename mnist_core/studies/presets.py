"""One-click studies for the tutorials' tuning steps, each from any base spec: batch size,
optimizer, learning rate, capacity (units × hidden layers, the old fixed grid), L2 and
dropout.

:func:`preset_study` returns the base to start from (the given spec, with a Dense or
Dropout layer added when the step needs one it lacks), the ``PATH=VALUES`` texts to vary,
the search and its trial budget; :func:`~mnist_core.studies.plan_study` takes them as
they are, and a person can change any of them first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mnist_core.models import GRID_DEPTHS, GRID_UNITS, LayerSpec, ModelSpec
from mnist_core.studies.parameters import StudyError

__all__ = ["STUDY_PRESETS", "PresetStudy", "preset_study"]


@dataclass(frozen=True)
class PresetStudy:
    name: str
    title: str
    base: ModelSpec
    vary: tuple[str, ...]
    search: str
    trials: int | None = None  # None: the whole grid


def _first_dense(spec: ModelSpec) -> int:
    return next(n for n, layer in enumerate(spec.layers, start=1) if layer.type == "Dense")


def with_dense(spec: ModelSpec, units: int = 128) -> ModelSpec:
    """``spec`` itself when it has a Dense layer; else with one of ``units`` appended (after
    a Flatten when the spec has none)."""
    if any(layer.type == "Dense" for layer in spec.layers):
        return spec
    flat = any(layer.type in ("Flatten", "GlobalAveragePooling2D") for layer in spec.layers)
    added = (() if flat else (LayerSpec("Flatten"),)) + (LayerSpec("Dense", {"units": units}),)
    return replace(spec, layers=spec.layers + added)


def with_dropout(spec: ModelSpec, rate: float = 0.2) -> ModelSpec:
    """``spec`` itself when it has a Dropout layer; else a Dropout after every Dense."""
    spec = with_dense(spec)
    if any(layer.type == "Dropout" for layer in spec.layers):
        return spec
    layers: list[LayerSpec] = []
    for layer in spec.layers:
        layers.append(layer)
        if layer.type == "Dense":
            layers.append(LayerSpec("Dropout", {"rate": rate}))
    return replace(spec, layers=tuple(layers))


def _batch_size(base: ModelSpec) -> PresetStudy:
    return PresetStudy("batch_size", "batch size 16 / 128 / 512", base,
                       ("batch_size=16,128,512",), "grid")  # fmt: skip


def _optimizer(base: ModelSpec) -> PresetStudy:
    # Each optimizer at its own Keras default learning rate: one rate for all favours one.
    base = replace(base, train=replace(base.train, learning_rate=None))
    return PresetStudy("optimizer", "SGD vs RMSprop vs Adam", base,
                       ("optimizer=sgd,rmsprop,adam",), "grid")  # fmt: skip


def _learning_rate(base: ModelSpec) -> PresetStudy:
    return PresetStudy("learning_rate", "learning rate from 1e-4 to 0.1 (log scale)", base,
                       ("learning_rate=1e-4..1e-1:log",), "tpe", trials=8)  # fmt: skip


def _capacity(base: ModelSpec) -> PresetStudy:
    base = with_dense(base)
    units = ",".join(map(str, GRID_UNITS))
    depths = ",".join(map(str, GRID_DEPTHS))
    return PresetStudy("capacity", f"capacity: {GRID_UNITS[0]}–{GRID_UNITS[-1]} units × "
                       f"{GRID_DEPTHS[0]}–{GRID_DEPTHS[-1]} hidden layers", base,
                       (f"layer {_first_dense(base)}.units={units}",
                        f"hidden_dense_layers={depths}"), "grid")  # fmt: skip


def _l2(base: ModelSpec) -> PresetStudy:
    return PresetStudy("l2", "L2 weight decay on the Dense layers", with_dense(base),
                       ("Dense.l2=0,1e-4,1e-3,1e-2",), "grid")  # fmt: skip


def _dropout(base: ModelSpec) -> PresetStudy:
    return PresetStudy("dropout", "dropout rate", with_dropout(base),
                       ("Dropout.rate=0,0.2,0.4,0.5",), "grid")  # fmt: skip


_MAKERS = {"batch_size": _batch_size, "optimizer": _optimizer,
           "learning_rate": _learning_rate, "capacity": _capacity, "l2": _l2,
           "dropout": _dropout}  # fmt: skip
STUDY_PRESETS: dict[str, str] = {name: make(ModelSpec((LayerSpec("Flatten"),))).title
                                 for name, make in _MAKERS.items()}  # fmt: skip


def preset_study(name: str, base: ModelSpec) -> PresetStudy:
    """The one-click study ``name`` (see :data:`STUDY_PRESETS`) from ``base``."""
    if name not in _MAKERS:
        raise StudyError(f"Unknown study preset {name!r}; use one of {', '.join(_MAKERS)}.")
    return _MAKERS[name](base)
