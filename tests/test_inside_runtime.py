"""The exported ONNX model served by onnxruntime gives Keras's numbers: probabilities,
every layer's activations, parameter counts and first-layer weights (issue 12)."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from mnist_core import inside
from mnist_core.data import load_dataset
from mnist_core.inside.export import export_model
from mnist_core.models import ACTIVATIONS, LayerSpec, ModelSpec, TrainSpec, analyze
from mnist_core.models.keras_build import build_model
from mnist_core.runs import open_run
from tests.conftest import ROOT

TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def fresh_sessions():
    inside.forget_sessions()
    yield
    inside.forget_sessions()


def _keras_outputs(model, names, images):
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    x = (np.asarray(images, np.float32) / 255.0)[..., None]
    values = probe.predict(x, batch_size=512, verbose=0)
    return values if isinstance(values, list) else [values]


def test_a_trained_run_is_exported_and_predicts_like_keras(finished_run, digits):
    record = open_run(finished_run.name)
    assert inside.readiness(record).model  # exported at the end of training
    model = inside.open_model(record)
    keras_model = keras.saving.load_model(record.paths.model)
    expected = keras_model.predict(digits.x_test[..., None] / 255.0, verbose=0)
    got = model.predict(digits.x_test)
    assert got.shape == (len(digits.x_test), 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, **TOL)  # the whole test set
    np.testing.assert_allclose(got, record.test_probabilities(), **TOL)
    assert model.description.source == "the final model"
    assert model.description.epoch == record.summary.model_epoch == 3
    assert model.class_names == digits.class_names
    assert model.params == record.summary.params == keras_model.count_params()
    assert [(layer.name, layer.params) for layer in model.layers] == [
        (layer.name, layer.count_params()) for layer in keras_model.layers[1:]  # no input
    ]


def test_activations_match_every_keras_layer(finished_run, digits):
    record = open_run(finished_run.name)
    model = inside.open_model(record)
    keras_model = keras.saving.load_model(record.paths.model)
    names = [layer.name for layer in model.shown_layers]
    assert names == ["l1_flatten", "l2_dense", "output"]
    for image in digits.x_test[:5]:
        activations = model.activations(image)
        expected = _keras_outputs(keras_model, names, image[None])
        assert [a.name for a in activations] == names
        for activation, value in zip(activations, expected):
            assert activation.values.shape == value.shape[1:]
            np.testing.assert_allclose(activation.values, value[0], **TOL)
    assert [a.title for a in activations] == ["Flatten", "Dense 64 relu", "Dense 10 softmax"]
    assert model.hidden_layer == "l2_dense"
    np.testing.assert_allclose(model.hidden_features(digits.x_test[:5]),
                               _keras_outputs(keras_model, ["l2_dense"], digits.x_test[:5])[0],
                               **TOL)  # fmt: skip


EVERY_LAYER = (
    LayerSpec("RandomRotation", {"factor": 0.1}), LayerSpec("RandomTranslation"),
    LayerSpec("RandomZoom"),
    LayerSpec("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}),
    LayerSpec("BatchNormalization"), LayerSpec("MaxPooling2D", {"pool_size": 2}),
    LayerSpec("Conv2D", {"filters": 6, "kernel_size": 2, "activation": "tanh"}),
    LayerSpec("LayerNormalization"), LayerSpec("AveragePooling2D", {"pool_size": 1}),
    LayerSpec("Dropout", {"rate": 0.3}), LayerSpec("GlobalAveragePooling2D"),
    LayerSpec("Dense", {"units": 12, "activation": "gelu"}), LayerSpec("Dropout"),
)  # fmt: skip


def _randomised(model, seed=0):
    """Weights (and batch-norm statistics) away from their initial values."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") if "variance" not in v.path
                       else rng.uniform(0.5, 2.0, w.shape).astype("float32")
                       for w, v in zip(model.get_weights(), model.weights)])  # fmt: skip
    return model


def test_every_layer_type_exports_with_its_activations(tmp_path, digits):
    spec = ModelSpec(EVERY_LAYER, TrainSpec(), "every layer")
    model = _randomised(build_model(spec, input_shape=(8, 8), n_classes=10))
    description = export_model(model, tmp_path / "m.onnx", spec=spec,
                               class_names=digits.class_names)  # fmt: skip
    served = inside.InsideModel(tmp_path / "m.onnx")
    np.testing.assert_allclose(served.predict(digits.x_test),
                               _keras_outputs(model, ["output"], digits.x_test)[0], **TOL)
    hidden = [layer.name for layer in served.layers if not layer.shown]
    assert hidden == ["l1_randomrotation", "l2_randomtranslation", "l3_randomzoom",
                      "l10_dropout", "l13_dropout"]  # training-only: no output of their own
    names = [layer.name for layer in served.shown_layers]
    activations = served.activations(digits.x_test[7])
    for activation, value in zip(activations, _keras_outputs(model, names, digits.x_test[7:8])):
        assert activation.values.shape == value.shape[1:]
        np.testing.assert_allclose(activation.values, value[0], **TOL)
    kinds = {a.name: a.kind for a in activations}
    assert kinds["l4_conv2d"] == "maps" and kinds["l12_dense"] == "vector"
    analysis = analyze(spec, input_shape=(8, 8), n_classes=10)
    assert served.params == model.count_params() == analysis.total_params
    assert description.hidden_layer == served.hidden_layer == "l12_dense"
    titles = {layer.name: layer.title for layer in served.layers}
    assert titles["l4_conv2d"] == EVERY_LAYER[3].describe()
    assert titles["output"] == "Dense 10 softmax"


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_converts(tmp_path, digits, activation):
    """Keras's exact GELU becomes TensorFlow's Erfc, which tf2onnx cannot convert: the
    exporter traces it with erf instead (the export checks itself against Keras)."""
    spec = ModelSpec((LayerSpec("Conv2D", {"filters": 2, "kernel_size": 3, "activation": activation}),
                      LayerSpec("Flatten"), LayerSpec("Dense", {"units": 5, "activation": activation})),
                     TrainSpec(), activation)  # fmt: skip
    model = _randomised(build_model(spec, input_shape=(8, 8), n_classes=10), seed=1)
    export_model(model, tmp_path / "m.onnx", spec=spec)
    served = inside.InsideModel(tmp_path / "m.onnx")
    np.testing.assert_allclose(served.predict(digits.x_test),
                               _keras_outputs(model, ["output"], digits.x_test)[0], **TOL)
    assert model.get_layer("l3_dense").activation is keras.activations.get(activation)


@pytest.mark.parametrize("layers,kind,count", [
    ((LayerSpec("Flatten"),), "class templates", 10),
    ((LayerSpec("Flatten"), LayerSpec("Dense", {"units": 20})), "units", 16),
    ((LayerSpec("Conv2D", {"filters": 5, "kernel_size": 3}), LayerSpec("Flatten")), "filters", 5),
    ((LayerSpec("MaxPooling2D", {"pool_size": 2}), LayerSpec("Flatten"),
      LayerSpec("Dense", {"units": 3})), "units", 3),
])  # fmt: skip
def test_first_layer_weights_are_the_keras_kernel(tmp_path, layers, kind, count):
    spec = ModelSpec(layers, TrainSpec(), "weights")
    model = _randomised(build_model(spec, input_shape=(8, 8), n_classes=10), seed=3)
    export_model(model, tmp_path / "m.onnx", spec=spec)
    weights = inside.first_layer_weights(inside.InsideModel(tmp_path / "m.onnx"))
    assert weights.kind == kind and len(weights.images) == len(weights.titles) == count
    layer = next(lay for lay in model.layers if isinstance(lay, (keras.layers.Dense,
                                                                 keras.layers.Conv2D)))  # fmt: skip
    kernel = layer.get_weights()[0]
    if kind == "filters":  # Keras (kh, kw, 1, filters)
        np.testing.assert_allclose(weights.images, kernel[:, :, 0, :].transpose(2, 0, 1), **TOL)
        assert weights.images.shape == (5, 3, 3)
        return
    side = 4 if layers[0].type == "MaxPooling2D" else 8
    units = kernel.T.reshape(-1, side, side)
    if kind == "class templates":
        np.testing.assert_allclose(weights.images, units, **TOL)
        assert weights.titles[3] == "class 3"
    else:  # the strongest units first, by the norm of their weights
        norms = np.linalg.norm(kernel, axis=0)
        order = np.argsort(-norms)[:count]
        np.testing.assert_allclose(weights.images, units[order], **TOL)
        assert weights.titles[0] == f"unit {order[0]} (norm {norms[order[0]]:.2f})"


def test_sessions_are_cached_per_run_and_renewed_with_the_file(finished_run, tmp_path):
    record = open_run(finished_run.name)
    first = inside.open_model(record)
    assert inside.open_model(record) is first
    path = record.paths.onnx
    data = path.read_bytes()
    path.unlink()
    with pytest.raises(inside.NotReady, match="not exported yet"):
        inside.open_model(record)
    path.write_bytes(data)
    again = inside.open_model(record)
    assert again is not first and again.params == first.params
    path.write_bytes(b"not an onnx file")  # damaged: removed, for the job to make again
    inside.forget_sessions()
    with pytest.raises(inside.NotReady, match=f"Run {record.run_id}'s exported model cannot "
                                              "be used .*made again by the background job"):
        inside.open_model(record)
    assert not path.exists() and not inside.readiness(record).model


def test_images_of_the_wrong_size_are_one_sentence(finished_run):
    model = inside.open_model(open_run(finished_run.name))
    with pytest.raises(inside.InsideError, match=r"takes 8×8 images; got an array of shape \(28, 28\)"):
        model.predict(np.zeros((28, 28)))
    with pytest.raises(inside.InsideError, match="takes one image"):
        model.activations(np.zeros((2, 8, 8)))
    assert model.predict(np.zeros((0, 8, 8))).shape == (0, 10)


def test_the_server_side_never_imports_tensorflow(finished_run, cache_dir):
    """Everything a page calls, in a fresh process: no TensorFlow, Keras or JAX loaded."""
    code = f"""
import json, sys
import numpy as np
from mnist_core import inside
from mnist_core.runs import open_run
from mnist_core.data import load_dataset
record = open_run({finished_run.name!r})
model = inside.open_model(record)
digit = load_dataset("digits").x_test[0]
canvas = np.zeros((200, 200, 4), np.uint8); canvas[40:160, 90:110, 3] = 255
drawn = inside.preprocess_drawing(canvas, size=8)
model.predict(drawn); model.activations(digit); inside.occlusion_saliency(model, digit)
inside.first_layer_weights(model); inside.readiness(record)
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {{"tensorflow", "keras", "jax", "torch", "umap"}})))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
