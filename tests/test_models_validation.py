"""Every spec field's type and range checked up front in one sentence (issue 9, item 17), and
the size budget: parameters, training memory, layers, epochs (item 18). No TensorFlow."""

from __future__ import annotations

import json
import math
import time

import pytest

from mnist_core.models import (
    MAX_LAYERS,
    PRESETS,
    LayerSpec,
    ModelSpec,
    SpecError,
    TrainSpec,
    analyze,
    with_train,
)
from mnist_core.models.analysis import VALUES_PER_WEIGHT

FLAT = {"type": "Flatten"}


def _errors(data: dict, shape=(28, 28)) -> list[str]:
    """The sentences a JSON spec gets, from reading it or from analysing it."""
    try:
        spec = ModelSpec.from_json(json.loads(json.dumps(data)))
    except SpecError as exc:
        return [str(exc)]
    return [str(e) for e in analyze(spec, input_shape=shape, n_classes=10).errors]


def _train(**settings) -> dict:
    return {"layers": [FLAT], "train": settings}


def _layer(**layer) -> dict:
    return {"layers": [FLAT, layer]}


@pytest.mark.parametrize(
    "data, message",
    [
        (_layer(type="Dense", l2="x"), "Layer 2 (Dense): L2 must be a number in [0, 1]; got 'x'."),
        (_layer(type="Dense", l2=math.inf), "Layer 2 (Dense): L2 must be a number in [0, 1]; got inf."),
        (_layer(type="Dense", l2=math.nan), "Layer 2 (Dense): L2 must be a number in [0, 1]; got nan."),
        (_layer(type="Dense", units="64"),
         "Layer 2 (Dense): units must be a whole number from 1 to 1,000,000; got '64'."),
        (_layer(type="Dense", units=True),
         "Layer 2 (Dense): units must be a whole number from 1 to 1,000,000; got True."),
        (_layer(type="Dense", activation=["relu"]),
         "Layer 2 (Dense): activation must be one of relu, sigmoid, tanh, elu, selu, gelu, swish, "
         "softplus, linear; got ['relu']."),
        (_layer(type="Dropout", rate="x"),
         "Layer 2 (Dropout): the dropout rate must be a number in [0, 1); got 'x'."),
        ({"layers": [{"type": "Conv2D", "kernel_size": 10**6, "padding": "same"}]},
         "Layer 1 (Conv2D): the kernel size must be a whole number from 1 to 64; got 1000000."),
        ({"layers": [{"type": ["Dense"]}]},
         "Layer 1: Unknown layer type ['Dense']; use one of Flatten, Dense, Dropout, Conv2D, "
         "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization, "
         "LayerNormalization, RandomRotation, RandomTranslation, RandomZoom."),
        (_train(learning_rate="x"), "The learning rate must be a finite number greater than 0; got 'x'."),
        (_train(learning_rate=math.inf), "The learning rate must be a finite number greater than 0; got inf."),
        (_train(momentum="x"), "Momentum must be a number in [0, 1); got 'x'."),
        (_train(validation_split="x"),
         "The validation split must be 0 (none) or a number in [0.01, 0.9]; got 'x'."),
        (_train(validation_split=0.99999),
         "The validation split must be 0 (none) or a number in [0.01, 0.9]; got 0.99999."),
        (_train(validation_split=0.001),
         "The validation split must be 0 (none) or a number in [0.01, 0.9]; got 0.001."),
        (_train(seed=-1), "The seed must be a whole number from 0 to 4,294,967,295; got -1."),
        (_train(seed=2**40),
         "The seed must be a whole number from 0 to 4,294,967,295; got 1099511627776."),
        (_train(seed=1.5), "The seed must be a whole number from 0 to 4,294,967,295; got 1.5."),
        (_train(batch_size="32"), "The batch size must be a whole number from 1 to 65,536; got '32'."),
        (_train(epochs=10**9), "Epochs must be a whole number from 1 to 1,000; got 1000000000."),
        (_train(optimizer=["adam"]),
         "The optimizer must be one of sgd, rmsprop, adam, adamw, adagrad, adadelta, nadam; got "
         "['adam']."),
        (_train(lr_schedule="linear"),
         "The learning-rate schedule must be one of constant, cosine; got 'linear'."),
        (_train(lr_schedule=None),
         "The learning-rate schedule must be one of constant, cosine; got None."),
        (_train(lr_schedule="cosine", reduce_lr={}),
         "A cosine learning-rate schedule sets the rate at every step, so it cannot be "
         "combined with reduce LR on plateau; turn one of them off."),
        (_train(nesterov="yes"), "Nesterov must be true or false; got 'yes'."),
        (_train(nesterov=1), "Nesterov must be true or false; got 1."),
        (_train(early_stopping={"restore_best_weights": "no"}),
         "Early stopping restore_best_weights must be true or false; got 'no'."),
        (_train(early_stopping={"patience": "x"}),
         "Early stopping patience must be a whole number from 0 to 1,000; got 'x'."),
        (_train(early_stopping={"min_delta": "x"}),
         "Early stopping min_delta must be a number in [0, 1]; got 'x'."),
        (_train(early_stopping={"monitor": ["val_loss"]}),
         "Early stopping monitor must be one of val_loss, val_accuracy, loss, accuracy; got "
         "['val_loss']."),
        (_train(reduce_lr={"patience": "x"}),
         "Reduce LR on plateau patience must be a whole number from 0 to 1,000; got 'x'."),
        (_train(reduce_lr={"factor": "x"}), "Reduce LR on plateau factor must be a number in (0, 1); got 'x'."),
        (_train(reduce_lr={"min_lr": "x"}), "Reduce LR on plateau min_lr must be a number in [0, 1]; got 'x'."),
        (_train(early_stopping=[1, 2]),
         "'early_stopping' must be null or an object with monitor, patience, min_delta, "
         "restore_best_weights; got [1, 2]."),
        (_train(reduce_lr={"cooldown": 2}),
         "'reduce_lr' has no setting cooldown; it takes monitor, patience, factor, min_lr."),
        ({"layers": [FLAT], "train": [["epochs", 3]]},
         "'train' must be an object of training settings; got [['epochs', 3]]."),
        ({"name": {"a": 1}, "layers": [FLAT]},
         "The model name must be text of 1 to 100 printable characters; got {'a': 1}."),
        ({"name": "", "layers": [FLAT]},
         "The model name must be text of 1 to 100 printable characters; got ''."),
        ({"name": "two\nlines", "layers": [FLAT]},
         "The model name must be text of 1 to 100 printable characters; got 'two\\nlines'."),
        ({"layers": "Dense"}, "'layers' must be a list of objects, one per layer."),
        ([1, 2], "A model spec must be a JSON object."),
    ],
    ids=["l2-text", "l2-inf", "l2-nan", "units-text", "units-bool", "activation-list",
         "rate-text", "huge-kernel", "type-list", "lr-text", "lr-inf", "momentum-text",
         "split-text", "split-0.99999", "split-tiny", "seed-negative", "seed-2**40", "seed-float",
         "batch-text", "epochs-1e9", "optimizer-list", "schedule-linear", "schedule-none",
         "cosine-and-reduce-lr", "nesterov-yes", "nesterov-1",
         "restore-no", "patience-text", "min-delta-text", "monitor-list", "rl-patience-text",
         "factor-text", "min-lr-text", "es-list", "rl-unknown", "train-list", "name-object",
         "name-empty", "name-newline", "layers-text", "spec-list"],
)  # fmt: skip
def test_every_bad_value_is_one_sentence(data, message):
    assert _errors(data) == [message]


@pytest.mark.parametrize("name", ["My model (v2)", "Modèle à deux couches", "x" * 100, "数字 [7]"])
def test_any_printable_name_up_to_100_characters_is_accepted(name):
    spec = ModelSpec.from_json({"name": name, "layers": [FLAT]})
    assert spec.name == name
    assert analyze(spec, input_shape=(8, 8), n_classes=10).ok


def test_a_string_where_a_number_belongs_never_raises_type_error_anywhere():
    """Every field at once: all reported, each next to its layer or setting."""
    data = {
        "name": 3,
        "layers": [FLAT, {"type": "Dense", "units": "x", "l2": "x"}, {"type": "Dropout", "rate": []}],
        "train": {"optimizer": {}, "learning_rate": "x", "momentum": "x", "batch_size": "x",
                  "epochs": "x", "validation_split": "x", "seed": "x", "nesterov": "x",
                  "early_stopping": {"patience": "x", "min_delta": "x", "monitor": 1,
                                     "restore_best_weights": "x"},
                  "reduce_lr": {"patience": "x", "factor": "x", "min_lr": "x", "monitor": 1}},
    }  # fmt: skip
    analysis = analyze(ModelSpec.from_json(data), input_shape=(28, 28), n_classes=10)
    assert [(e.layer, e.field) for e in analysis.errors] == [
        (None, "name"), (None, "optimizer"), (None, "learning_rate"), (None, "momentum"),
        (None, "nesterov"), (None, "batch_size"), (None, "epochs"), (None, "validation_split"),
        (None, "seed"), *[(None, "early_stopping")] * 4, *[(None, "reduce_lr")] * 4,
        (2, "units"), (3, "rate"),
    ]  # fmt: skip
    assert analysis.total_params is None and analysis.memory_mb is None
    assert [r.name for r in analysis.rows] == ["Input", "Flatten", "Dense", "Dropout"]


# --------------------------------------------------------------------------- size (item 18)


def test_ten_dense_layers_of_a_million_units_are_refused_with_the_numbers():
    data = {"layers": [FLAT, *[{"type": "Dense", "units": 10**6}] * 10]}
    assert _errors(data) == [
        "The model has 9,000,804,000,010 parameters, more than the limit of 50,000,000 "
        "(MNIST_MAX_PARAMS); use fewer or smaller layers.",
        "Training would need about 240,349,838 MB of memory (7 values per weight with adam, and "
        "a batch of 32 images' activations), more than the limit of 4,096 MB "
        "(MNIST_MAX_TRAINING_MEMORY_MB); use fewer or smaller layers or a smaller batch size.",
    ]


def test_two_dense_layers_of_20000_units_are_refused_with_the_numbers():
    # 785×20,000 + 20,001×20,000 + 20,001×10 parameters; the issue saw a 13.8 GB worker.
    data = {"layers": [FLAT, *[{"type": "Dense", "units": 20_000}] * 2]}
    assert _errors(data) == [
        "The model has 415,920,010 parameters, more than the limit of 50,000,000 "
        "(MNIST_MAX_PARAMS); use fewer or smaller layers.",
        "Training would need about 11,116 MB of memory (7 values per weight with adam, and a "
        "batch of 32 images' activations), more than the limit of 4,096 MB "
        "(MNIST_MAX_TRAINING_MEMORY_MB); use fewer or smaller layers or a smaller batch size.",
    ]
    with pytest.raises(SpecError, match=r"^The model has 415,920,010 parameters"):
        analyze(ModelSpec.from_json(data), input_shape=(28, 28), n_classes=10).raise_first()


def test_activations_of_a_large_batch_exceed_the_memory_budget_alone():
    conv = {"type": "Conv2D", "filters": 512, "padding": "same"}
    small = {"layers": [conv, conv], "train": {"batch_size": 256}}
    assert _errors(small) == []
    big = {"layers": [conv, conv], "train": {"batch_size": 1024}}
    assert _errors(big) == [
        "Training would need about 6,449 MB of memory (7 values per weight with adam, and a "
        "batch of 1,024 images' activations), more than the limit of 4,096 MB "
        "(MNIST_MAX_TRAINING_MEMORY_MB); use fewer or smaller layers or a smaller batch size."
    ]


def test_memory_estimate_counts_weights_by_optimizer_and_one_batch_of_activations():
    spec = with_train(PRESETS["ff64"].spec, batch_size=32)  # 8×8: 4,810 parameters
    analysis = analyze(spec, input_shape=(8, 8), n_classes=10)
    # Input 64, Flatten is a view, Dense 64, softmax 10: (64 + 64 + 10) values per image.
    values = 4_810 * VALUES_PER_WEIGHT["adam"] + 2 * 32 * (64 + 64 + 10)
    assert analysis.memory_mb == pytest.approx(values * 4 / 2**20)
    sgd = analyze(with_train(spec, optimizer="sgd"), input_shape=(8, 8), n_classes=10)
    momentum = analyze(with_train(spec, optimizer="sgd", momentum=0.9), input_shape=(8, 8),
                       n_classes=10)  # fmt: skip
    assert sgd.memory_mb < momentum.memory_mb < analysis.memory_mb


def test_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_MAX_PARAMS", "1000")
    errors = [str(e) for e in analyze(PRESETS["ff64"].spec, input_shape=(8, 8), n_classes=10).errors]
    assert errors == ["The model has 4,810 parameters, more than the limit of 1,000 "
                      "(MNIST_MAX_PARAMS); use fewer or smaller layers."]  # fmt: skip
    monkeypatch.delenv("MNIST_MAX_PARAMS")
    monkeypatch.setenv("MNIST_MAX_TRAINING_MEMORY_MB", "10")
    dense512 = analyze(PRESETS["dense512"].spec, input_shape=(28, 28), n_classes=10)
    # 407,050 weights × 7 values, and a batch of 128 × (784 + 512 + 10) outputs × 2, 4 B each
    assert dense512.memory_mb == pytest.approx((407_050 * 7 + 2 * 128 * 1306) * 4 / 2**20)
    assert [str(e) for e in dense512.errors] == [
        "Training would need about 12 MB of memory (7 values per weight with rmsprop, and a "
        "batch of 128 images' activations), more than the limit of 10 MB "
        "(MNIST_MAX_TRAINING_MEMORY_MB); use fewer or smaller layers or a smaller batch size."
    ]
    monkeypatch.setenv("MNIST_MAX_PARAMS", "lots")
    monkeypatch.delenv("MNIST_MAX_TRAINING_MEMORY_MB")
    with pytest.warns(UserWarning, match=r"MNIST_MAX_PARAMS='lots' is not a whole number"):
        assert analyze(PRESETS["ff64"].spec, input_shape=(8, 8), n_classes=10).ok


def test_more_than_100_layers_are_refused_before_reading_them():
    data = {"layers": [FLAT] + [{"type": "Dropout"}] * MAX_LAYERS}
    assert _errors(data) == ["The spec has 101 layers; at most 100 are allowed."]
    assert _errors({"layers": [FLAT] + [{"type": "Dropout"}] * (MAX_LAYERS - 1)}) == []
    spec = ModelSpec(tuple(LayerSpec("Dropout") for _ in range(150)))
    assert [str(e) for e in analyze(spec, input_shape=(8, 8), n_classes=10).errors] == [
        "The model has 150 layers; at most 100 are allowed."
    ]


@pytest.mark.parametrize(
    "layer, message",
    [(LayerSpec("Dropout"), "The spec has 5,000 layers; at most 100 are allowed."),
     (LayerSpec("Dense"), "The spec in the link is over 256 KB of JSON; it was not read.")],
    ids=["dropout", "dense"],
)  # fmt: skip
def test_a_link_with_5000_layers_is_refused_in_well_under_a_second(layer, message):
    link = ModelSpec(tuple(layer for _ in range(5000)), TrainSpec()).to_url()
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        ModelSpec.from_url(link)
    assert time.perf_counter() - start < 2  # 3 ms measured; the defect took minutes
    assert str(info.value) == message


def test_a_link_that_inflates_to_megabytes_is_not_read():
    import base64
    import zlib

    bomb = json.dumps({"name": "x" * 5_000_000, "layers": []}).encode()
    link = base64.urlsafe_b64encode(zlib.compress(bomb, 9)).decode().rstrip("=")
    assert len(link) < 20_000
    with pytest.raises(SpecError, match=r"^The spec in the link is over 256 KB of JSON; it was not read\.$"):
        ModelSpec.from_url(link)
    nested = base64.urlsafe_b64encode(zlib.compress(b"[" * 200_000, 9)).decode()
    with pytest.raises(SpecError, match=r"^The spec in the link is damaged"):
        ModelSpec.from_url(nested)
