"""Model specs without TensorFlow: JSON round trip, shape inference, every rejection.
(Type and range checks of every field: test_models_validation.py; the registry:
test_models_registry.py.)"""

from __future__ import annotations

import sys

import pytest

from mnist_core.models import (
    PRESETS,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLRSpec,
    SpecError,
    TrainSpec,
    analyze,
    format_shape,
)


def _analyze(layers, shape=(28, 28), **train):
    return analyze(ModelSpec(tuple(layers), TrainSpec(**train)), input_shape=shape, n_classes=10)


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_parameter_counts_match_the_tutorials(name):
    preset = PRESETS[name]
    analysis = analyze(preset.spec, input_shape=(28, 28), n_classes=10)
    assert analysis.ok, analysis.errors
    assert analysis.total_params == preset.params_mnist


@pytest.mark.parametrize("name", list(PRESETS))
def test_spec_json_and_url_round_trip(name):
    spec = PRESETS[name].spec
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert ModelSpec.from_url(spec.to_url()) == spec
    assert len(spec.to_url()) < 600


def test_shapes_and_counts_of_a_cnn():
    analysis = _analyze([
        LayerSpec("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same", "strides": 2}),
        LayerSpec("BatchNormalization"),
        LayerSpec("MaxPooling2D", {"pool_size": 3}),
        LayerSpec("Dropout", {"rate": 0.5}),
    ])  # fmt: skip
    assert [(r.name, format_shape(r.output_shape), r.params) for r in analysis.rows] == [
        ("Input", "28×28×1", 0),
        ("Conv2D 8@3×3 relu", "14×14×8", 80),
        ("BatchNormalization", "14×14×8", 32),
        ("MaxPooling2D 3", "4×4×8", 0),
        ("Dropout 0.5", "4×4×8", 0),
        ("Flatten (added)", "128", 0),
        ("Dense 10 softmax (output)", "10", 1290),
    ]
    assert analysis.total_params == 80 + 32 + 1290


@pytest.mark.parametrize(
    "layers, shape, message, layer",
    [
        ([LayerSpec("Conv2D", {"kernel_size": 9})], (8, 8),
         "Layer 1 (Conv2D 32@9×9 relu): the 9×9 kernel is larger than its 8×8 input; use a "
         "smaller kernel or padding 'same'.", 1),
        ([LayerSpec("MaxPooling2D", {"pool_size": 4}), LayerSpec("MaxPooling2D", {"pool_size": 4})],
         (8, 8), "Layer 2 (MaxPooling2D 4): pooling 4×4 over a 2×2 input leaves nothing; use a "
         "smaller pool size or fewer layers before it.", 2),
        ([LayerSpec("Flatten"), LayerSpec("Conv2D")], (28, 28),
         "Layer 2 (Conv2D 32@3×3 relu) needs an image (height × width × channels) but gets a "
         "flat vector of 784; move it before the Flatten.", 2),
        ([LayerSpec("Dense", {"units": 0})], (28, 28),
         "Layer 1 (Dense): units must be a whole number from 1 to 1,000,000; got 0.", 1),
        ([LayerSpec("Dense")], (28, 28),
         "Layer 1 (Dense 64 relu) needs a flat input but gets 28×28×1; put a Flatten before it.", 1),
        ([LayerSpec("Flatten"), LayerSpec("Dropout", {"rate": 1.0})], (28, 28),
         "Layer 2 (Dropout): the dropout rate must be in [0, 1); got 1.0.", 2),
        ([LayerSpec("Flatten"), LayerSpec("Dropout", {"rate": -0.1})], (28, 28),
         "Layer 2 (Dropout): the dropout rate must be in [0, 1); got -0.1.", 2),
        ([LayerSpec("Conv2D", {"padding": "full"})], (28, 28),
         "Layer 1 (Conv2D): padding must be one of valid, same; got 'full'.", 1),
        ([LayerSpec("Flatten"), LayerSpec("Dense", {"activation": "relu6x"})], (28, 28),
         "Layer 2 (Dense): activation must be one of relu, sigmoid, tanh, elu, selu, gelu, "
         "swish, softplus, linear; got 'relu6x'.", 2),
    ],
    ids=["kernel", "pooling", "conv-after-flatten", "units", "dense-on-image", "dropout-1",
         "dropout-neg", "padding", "activation"],
)  # fmt: skip
def test_impossible_layers_are_named(layers, shape, message, layer):
    analysis = _analyze(layers, shape)
    assert [str(e) for e in analysis.errors] == [message]
    assert analysis.errors[0].layer == layer
    assert analysis.total_params is None
    with pytest.raises(SpecError, match="^Layer"):
        analysis.raise_first()


@pytest.mark.parametrize(
    "train, message, field",
    [
        ({"learning_rate": 0.0}, "The learning rate must be greater than 0; got 0.0.", "learning_rate"),
        ({"learning_rate": -1e-3}, "The learning rate must be greater than 0; got -0.001.", "learning_rate"),
        ({"batch_size": 0}, "The batch size must be a whole number from 1 to 65,536; got 0.",
         "batch_size"),
        ({"epochs": 0}, "Epochs must be a whole number from 1 to 1,000; got 0.", "epochs"),
        ({"validation_split": 1.0},
         "The validation split must be 0 (none) or a number in [0.01, 0.9]; got 1.0.",
         "validation_split"),
        ({"validation_split": -0.2},
         "The validation split must be 0 (none) or a number in [0.01, 0.9]; got -0.2.",
         "validation_split"),
        ({"optimizer": "lbfgs"},
         "The optimizer must be one of sgd, rmsprop, adam, adamw, adagrad, adadelta, nadam; got "
         "'lbfgs'.", "optimizer"),
        ({"validation_split": 0.0, "early_stopping": EarlyStoppingSpec()},
         "Early stopping monitors val_loss but there is no validation split; set one or monitor "
         "the training loss.", "early_stopping"),
        ({"reduce_lr": ReduceLRSpec(factor=1.5)},
         "Reduce LR on plateau factor must be in (0, 1); got 1.5.", "reduce_lr"),
        ({"lr_schedule": "step"},
         "The learning-rate schedule must be one of constant, cosine; got 'step'.", "lr_schedule"),
        ({"lr_schedule": "cosine", "reduce_lr": ReduceLRSpec()},
         "A cosine learning-rate schedule sets the rate at every step, so it cannot be combined "
         "with reduce LR on plateau; turn one of them off.", "lr_schedule"),
    ],
)  # fmt: skip
def test_impossible_training_settings_are_named(train, message, field):
    analysis = _analyze([LayerSpec("Flatten")], **train)
    assert [str(e) for e in analysis.errors] == [message]
    assert analysis.errors[0].field == field and analysis.errors[0].layer is None


def test_several_errors_are_all_reported_next_to_their_layers():
    analysis = _analyze(
        [LayerSpec("Flatten"), LayerSpec("Dense", {"units": -3}), LayerSpec("Dropout", {"rate": 2.0})],
        batch_size=0,
    )
    assert [e.layer for e in analysis.errors] == [None, 2, 3]
    assert len(analysis.errors_for(2)) == 1 and len(analysis.errors_for(1)) == 0


def test_unknown_layer_type_and_parameter():
    with pytest.raises(SpecError, match=r"^Unknown layer type 'LSTM'; use one of Flatten, Dense"):
        LayerSpec("LSTM")
    with pytest.raises(SpecError) as info:
        ModelSpec.from_json({"layers": [{"type": "Flatten"}, {"type": "Dense", "neurons": 3}]})
    assert str(info.value) == "Layer 2: Dense has no parameter neurons; it takes units, activation, l2."
    assert info.value.layer == 2


def test_damaged_url_is_one_sentence():
    with pytest.raises(SpecError, match=r"^The spec in the link is damaged; it could not be read\.$"):
        ModelSpec.from_url("not-a-spec")


def test_the_lr_schedule_round_trips_and_its_default_stays_out_of_json_and_links():
    constant = ModelSpec((LayerSpec("Flatten"),), TrainSpec(epochs=3), "s")
    assert constant.train.lr_schedule == "constant"
    assert "lr_schedule" not in constant.to_json()["train"]  # old specs and links read as before
    old = {"name": "s", "layers": [{"type": "Flatten"}], "train": {"epochs": 3}}
    assert ModelSpec.from_json(old) == constant
    cosine = ModelSpec((LayerSpec("Flatten"),), TrainSpec(epochs=3, lr_schedule="cosine"), "s")
    assert cosine.to_json()["train"]["lr_schedule"] == "cosine"
    assert ModelSpec.from_json(cosine.to_json()) == cosine
    assert ModelSpec.from_url(cosine.to_url()) == cosine
    assert ModelSpec.from_url(constant.to_url()).train.lr_schedule == "constant"
    assert analyze(cosine, input_shape=(8, 8), n_classes=10).ok


def test_learning_rate_defaults_follow_the_optimizer():
    assert TrainSpec(optimizer="sgd").effective_learning_rate == 0.01
    assert TrainSpec(optimizer="adam").effective_learning_rate == 0.001
    assert PRESETS["keras_cnn"].spec.train.effective_learning_rate == 1.0


def test_analysis_does_not_import_tensorflow():
    import subprocess

    code = ("import sys; from mnist_core.models import PRESETS, analyze; "
            "[analyze(p.spec, input_shape=(28, 28), n_classes=10) for p in PRESETS.values()]; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")  # fmt: skip
    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr
