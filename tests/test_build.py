"""Specs built into real Keras models: parameter counts and shapes equal the analysis's for
every registered layer type, augmentation is inactive at evaluation, any name builds."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.models import (
    LAYER_TYPES,
    PRESETS,
    LayerSpec,
    ModelSpec,
    SpecError,
    TrainSpec,
    analyze,
)

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


# One spec per new layer type, each with a layer before and after it, so its count and shape
# are checked against Keras in context (8×8 and 28×28 inputs).
NEW_LAYER_SPECS = {
    "AveragePooling2D": [LayerSpec("Conv2D", {"filters": 3}), LayerSpec("AveragePooling2D", {"pool_size": 3})],
    "GlobalAveragePooling2D": [LayerSpec("Conv2D", {"filters": 5, "padding": "same"}),
                               LayerSpec("GlobalAveragePooling2D"), LayerSpec("Dense", {"units": 7})],
    "LayerNormalization": [LayerSpec("Conv2D", {"filters": 6}), LayerSpec("LayerNormalization"),
                           LayerSpec("Flatten"), LayerSpec("Dense", {"units": 9}),
                           LayerSpec("LayerNormalization")],
    "RandomRotation": [LayerSpec("RandomRotation", {"factor": 0.1}), LayerSpec("Conv2D", {"filters": 2})],
    "RandomTranslation": [LayerSpec("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.0}),
                          LayerSpec("MaxPooling2D")],
    "RandomZoom": [LayerSpec("RandomZoom", {"factor": 0.3, "fill_mode": "nearest"}),
                   LayerSpec("Flatten"), LayerSpec("Dense", {"units": 4})],
}  # fmt: skip


def test_every_registered_layer_type_is_covered_here():
    covered = {"Flatten", "Dense", "Dropout", "Conv2D", "MaxPooling2D", "BatchNormalization"}
    assert set(LAYER_TYPES) == covered | set(NEW_LAYER_SPECS)


@pytest.mark.parametrize("shape", [(8, 8), (28, 28)])
@pytest.mark.parametrize("kind", list(NEW_LAYER_SPECS))
def test_new_layer_types_count_and_shape_like_keras(kind, shape):
    spec = ModelSpec(tuple(NEW_LAYER_SPECS[kind]))
    analysis = analyze(spec, input_shape=shape, n_classes=10)
    assert analysis.ok, analysis.errors
    model = build.build_model(spec, input_shape=shape, n_classes=10)
    assert model.count_params() == analysis.total_params
    assert [tuple(layer.output.shape[1:]) for layer in model.layers[1:]] == [
        row.output_shape for row in analysis.rows[1:]
    ]
    built = {type(layer).__name__ for layer in model.layers}
    assert kind in built


def test_normalisation_counts_are_the_documented_ones():
    spec = ModelSpec((LayerSpec("Conv2D", {"filters": 6}), LayerSpec("LayerNormalization"),
                      LayerSpec("BatchNormalization")))  # fmt: skip
    analysis = analyze(spec, input_shape=(8, 8), n_classes=10)
    # gamma and beta per channel; BatchNormalization adds the moving mean and variance.
    assert [row.params for row in analysis.rows[1:4]] == [60, 12, 24]
    assert build.build_model(spec, input_shape=(8, 8), n_classes=10).count_params() == analysis.total_params


@pytest.mark.parametrize("kind", ["RandomRotation", "RandomTranslation", "RandomZoom", "Dropout"])
def test_training_only_layers_pass_images_through_at_evaluation(kind):
    spec = ModelSpec((LayerSpec(kind),))
    model = build.build_model(spec, input_shape=(8, 8), n_classes=10)
    layer = model.get_layer(f"l1_{kind.lower()}")
    assert LAYER_TYPES[kind].training_only
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    changed = np.asarray(layer(x, training=True))
    assert changed.shape == x.shape and np.abs(changed - x).max() > 0.01
    first, again = np.asarray(model(x, training=False)), np.asarray(model(x, training=False))
    np.testing.assert_array_equal(first, again)  # evaluation is deterministic


def test_augmentation_fills_with_zero_background_by_default():
    model = build.build_model(ModelSpec((LayerSpec("RandomTranslation",
                                                   {"height_factor": 0.5, "width_factor": 0.5}),)),
                              input_shape=(8, 8), n_classes=10)  # fmt: skip
    layer = model.get_layer("l1_randomtranslation")
    assert layer.fill_mode == "constant" and layer.fill_value == 0.0


@pytest.mark.parametrize("name, keras_name", [
    ("My model (v2)", "My_model_v2"), ("Modèle à deux couches", "Modele_a_deux_couches"),
    ("数字 [7]", "7"), ("((()))", "model"), ("a/b:c", "a_b_c"),
])  # fmt: skip
def test_any_display_name_builds_under_a_safe_keras_name(name, keras_name):
    spec = ModelSpec((LayerSpec("Flatten"),), TrainSpec(epochs=1), name)
    model = build.compile_model(build.build_model(spec, input_shape=(8, 8), n_classes=3), spec.train)
    assert model.name == keras_name
    x = np.zeros((8, 8, 8, 1), dtype=np.float32)
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)  # TensorFlow accepts its scope names
    assert spec.name == name


# The cosine schedule, trained for real on each backend in a fresh process (the backend is
# chosen when Keras is imported): 50 images, validation split 0.2, batch 8 -> 40 training
# images, 5 steps an epoch, 3 epochs, 15 steps; TensorFlow with 4 steps per compiled call.
COSINE_FIT = """
import json, sys
import numpy as np
import keras
from mnist_core.models import LayerSpec, ModelSpec, TrainSpec
from mnist_core.models.keras_build import build_callbacks, build_model, compile_model

spec = ModelSpec((LayerSpec("Flatten"), LayerSpec("Dense", {"units": 8})), TrainSpec(
    learning_rate=0.01, lr_schedule="cosine", batch_size=8, epochs=3, validation_split=0.2))
model = compile_model(build_model(spec, input_shape=(4, 4), n_classes=3), spec.train,
                      steps_per_execution=int(sys.argv[1]))
seen = []

class Seen(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        seen.append([int(np.asarray(self.model.optimizer.iterations)),
                     float(np.asarray(self.model.optimizer.learning_rate))])

rng = np.random.default_rng(0)
x, y = rng.random((50, 4, 4, 1), dtype="float32"), rng.integers(0, 3, 50)
model.fit(x, y, batch_size=8, epochs=3, validation_split=0.2, verbose=0,
          callbacks=[*build_callbacks(spec.train), Seen()])
schedule = model.optimizer._learning_rate
print(json.dumps({"backend": keras.backend.backend(), "seen": seen,
                  "type": type(schedule).__name__, "decay_steps": schedule.decay_steps,
                  "at": [float(np.asarray(schedule(step))) for step in (0, 3, 7, 12, 15)]}))
"""


@pytest.mark.parametrize("backend, steps_per_execution", [("tensorflow", 4), ("jax", 1)])
def test_the_cosine_schedule_sets_the_rate_of_every_step_on_each_backend(
        backend, steps_per_execution):
    import json
    import math
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", COSINE_FIT, str(steps_per_execution)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["backend"] == backend and out["type"] == "CosineDecay"
    assert out["decay_steps"] == 15  # 5 batches an epoch x 3 epochs, set as training began

    def cosine(step):
        return 0.01 * 0.5 * (1 + math.cos(math.pi * step / 15))

    # What the run logs each epoch (the optimizer's current rate) follows the cosine...
    assert [step for step, _ in out["seen"]] == [5, 10, 15]
    assert [lr for _, lr in out["seen"]] == pytest.approx([cosine(5), cosine(10), 0.0], abs=1e-7)
    # ... and so does the rate of single steps inside an epoch, from 0.01 down to 0.
    assert out["at"] == pytest.approx([cosine(s) for s in (0, 3, 7, 12, 15)], abs=1e-7)
    assert out["at"][0] == pytest.approx(0.01) and out["at"][-1] == pytest.approx(0.0, abs=1e-9)


def test_a_constant_schedule_keeps_a_plain_rate_and_adds_no_callback():
    train = TrainSpec(learning_rate=0.02)
    assert float(np.asarray(build.build_optimizer(train).learning_rate)) == pytest.approx(0.02)
    assert not any(isinstance(c, build.CosineSteps) for c in build.build_callbacks(train))
    cosine = TrainSpec(learning_rate=0.02, lr_schedule="cosine")
    assert sum(isinstance(c, build.CosineSteps) for c in build.build_callbacks(cosine)) == 1

