"""Presets that reproduce the tutorials this app grew from, and the capacity grid.

Each :class:`Preset` is a :class:`~mnist_core.models.spec.ModelSpec` with the parameter
count its tutorial printed for 28×28 MNIST (the tests check both against Keras).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mnist_core.models.spec import EarlyStoppingSpec, LayerSpec, ModelSpec, ReduceLRSpec, TrainSpec

__all__ = ["GRID_DEPTHS", "GRID_UNITS", "PRESETS", "Preset", "capacity_grid", "with_train"]

def _dense(units: int, activation: str = "relu") -> LayerSpec:
    return LayerSpec("Dense", {"units": units, "activation": activation})


def _conv(filters: int, kernel: int, activation: str = "relu") -> LayerSpec:
    return LayerSpec("Conv2D", {"filters": filters, "kernel_size": kernel, "activation": activation})


_FLAT = LayerSpec("Flatten")


def _drop(rate: float) -> LayerSpec:
    return LayerSpec("Dropout", {"rate": rate})


def _pool(size: int) -> LayerSpec:
    return LayerSpec("MaxPooling2D", {"pool_size": size})


_BN = LayerSpec("BatchNormalization")
# Light augmentation, as in the fast-MNIST recipes: ±9°, ±10 % shifts and zoom.
_AUGMENT = [
    LayerSpec("RandomRotation", {"factor": 0.025}),
    LayerSpec("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1}),
    LayerSpec("RandomZoom", {"factor": 0.1}),
]


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
        # Not from a tutorial: the best found for <= 10 minutes of training on 2 cores
        # (issue 13). Three conv blocks, pooling early so the 2 cores are not spent on 28×28
        # maps; batch normalisation after each; augmented inputs; Adam from 2e-3 along a
        # per-step cosine to 0, on all 60,000 training images (no validation split), 24
        # epochs of ~21 s: 99.52 / 99.48 / 99.52 % on test (seeds 0-2) with a new order of
        # the images each epoch (mnist_core.runs.feed). 18 epochs: 99.47-99.49 % (seed 0);
        # validation split 0.1 and 20 epochs: 99.45 %; ReduceLROnPlateau: 99.23-99.42 %.
        _preset("best_cnn", "best CNN (BN + augmentation)",
                [*_AUGMENT, _conv(32, 3), _BN, _pool(2), _conv(64, 3), _BN, _pool(2),
                 _conv(128, 3), _BN, _FLAT, _dense(128), _BN, _drop(0.3)],
                242_954, optimizer="adam", learning_rate=2e-3, lr_schedule="cosine",
                batch_size=128, epochs=24, validation_split=0.0),
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
