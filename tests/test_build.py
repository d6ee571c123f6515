"""Specs built into real Keras models: parameter counts equal the shape inference's."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.models.spec import PRESETS, LayerSpec, ModelSpec, SpecError, TrainSpec, analyze

build = pytest.importorskip("mnist_core.models.keras_build")


@pytest.mark.parametrize("name", list(PRESETS))
def test_keras_parameter_count_equals_the_preset(name):
    spec = PRESETS[name].spec
    model = build.build_model(spec, input_shape=(28, 28), n_classes=10)
    assert model.count_params() == PRESETS[name].params_mnist
    analysis = analyze(spec, input_shape=(28, 28), n_classes=10)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers[1:]]
    inferred = [row.output_shape for row in analysis.rows[1:]]
    assert shapes == inferred


@pytest.mark.parametrize("shape", [(8, 8), (28, 28)])
def test_keras_counts_match_for_batchnorm_strides_and_same_padding(shape):
    spec = ModelSpec((
        LayerSpec("Conv2D", {"filters": 5, "kernel_size": 3, "strides": 2, "padding": "same",
                             "activation": "tanh", "l2": 1e-4}),
        LayerSpec("BatchNormalization"),
        LayerSpec("Conv2D", {"filters": 7, "kernel_size": 2}),
        LayerSpec("MaxPooling2D", {"pool_size": 2}),
        LayerSpec("Flatten"),
        LayerSpec("Dense", {"units": 9, "activation": "gelu"}),
        LayerSpec("BatchNormalization"),
    ))  # fmt: skip
    analysis = analyze(spec, input_shape=shape, n_classes=3)
    model = build.build_model(spec, input_shape=shape, n_classes=3)
    assert model.count_params() == analysis.total_params
    assert model.output.shape[1:] == (3,)


def test_building_an_impossible_spec_raises_the_same_sentence():
    spec = ModelSpec((LayerSpec("Conv2D", {"kernel_size": 9}),))
    with pytest.raises(SpecError, match=r"^Layer 1 \(Conv2D 32@9×9 relu\): the 9×9 kernel"):
        build.build_model(spec, input_shape=(8, 8), n_classes=10)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam"])
def test_every_optimizer_builds_with_its_learning_rate(optimizer):
    train = TrainSpec(optimizer=optimizer, learning_rate=0.05, momentum=0.5, nesterov=True)
    opt = build.build_optimizer(train)
    assert type(opt).__name__.lower() == optimizer
    assert float(np.asarray(opt.learning_rate)) == pytest.approx(0.05)
    if optimizer == "sgd":
        assert opt.momentum == 0.5 and opt.nesterov
