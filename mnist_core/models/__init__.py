"""Models: the layer registry, the spec schema, shape and size analysis, presets, and the
Keras builder (:mod:`mnist_core.models.keras_build`, imported on its own: it imports Keras).

- :mod:`~mnist_core.models.fields`: a typed setting (kind, range, default, its sentence).
- :mod:`~mnist_core.models.layers`: the layer registry, one entry per layer type.
- :mod:`~mnist_core.models.spec`: ModelSpec / TrainSpec, JSON and URL codec.
- :mod:`~mnist_core.models.analysis`: shapes, parameter counts, memory, every problem.
- :mod:`~mnist_core.models.presets`: the tutorials' models and the capacity grid.
"""

from mnist_core.models.analysis import (
    Analysis,
    LayerRow,
    analyze,
    format_shape,
    max_params,
    max_training_memory_mb,
)
from mnist_core.models.fields import Field, SpecError
from mnist_core.models.layers import (
    ACTIVATIONS,
    LAYER_TYPES,
    LayerType,
    ShapeError,
    register,
    unregister,
)
from mnist_core.models.presets import (
    GRID_DEPTHS,
    GRID_UNITS,
    PRESETS,
    Preset,
    capacity_grid,
    with_train,
)
from mnist_core.models.spec import (
    EARLY_STOPPING_FIELDS,
    MAX_LAYERS,
    MONITORS,
    OPTIMIZERS,
    REDUCE_LR_FIELDS,
    TRAIN_FIELDS,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLRSpec,
    TrainSpec,
)

__all__ = [
    "ACTIVATIONS", "EARLY_STOPPING_FIELDS", "GRID_DEPTHS", "GRID_UNITS", "LAYER_TYPES",
    "MAX_LAYERS", "MONITORS", "OPTIMIZERS", "PRESETS", "REDUCE_LR_FIELDS", "TRAIN_FIELDS",
    "Analysis", "EarlyStoppingSpec", "Field", "LayerRow", "LayerSpec", "LayerType",
    "ModelSpec", "Preset", "ReduceLRSpec", "ShapeError", "SpecError", "TrainSpec", "analyze",
    "capacity_grid", "format_shape", "max_params", "max_training_memory_mb", "register",
    "unregister", "with_train",
]  # fmt: skip
