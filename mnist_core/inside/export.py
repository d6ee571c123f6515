"""Export a trained Keras model to ONNX with every layer's output. Runs in workers only:
it imports Keras, TensorFlow and tf2onnx.

The exported graph has one input, ``image`` (float32 ``(n, h, w, 1)``, pixels / 255), and
one output per layer that computes something at inference, named after the Keras layer
(``l1_conv2d``, ``l2_maxpooling2d``, ..., ``output``, the softmax); training-only layers
(Dropout, random augmentations) pass data through and get no output of their own. The
graph's metadata holds the :class:`~mnist_core.inside.common.ModelDescription` (layer
types, titles, shapes, parameter counts, the last hidden layer, the class names).

Converter: tf2onnx (pinned, see requirements.txt) on a ``tf.function`` over a functional
model whose outputs are the layers' outputs: the same converter Keras's own
``model.export(format="onnx")`` uses, but with outputs named after the layers.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

import keras

from mnist_core.diskcache import storage_error
from mnist_core.inside.common import (
    INPUT_NAME,
    META_KEY,
    OUTPUT_NAME,
    InsideError,
    LayerInfo,
    ModelDescription,
)

OPSET = 17  # onnxruntime 1.31 runs up to opset 23; 17 is tf2onnx's best-tested one


def _training_only_types() -> set[str]:
    from mnist_core.models import LAYER_TYPES

    return {name for name, entry in LAYER_TYPES.items() if entry.training_only}


def describe_model(model: keras.Model, *, spec=None, class_names=()) -> ModelDescription:
    """The layers of a model built by :func:`mnist_core.models.keras_build.build_model`
    (input ``image`` of shape (h, w, 1), softmax ``output`` last), for the ONNX metadata."""
    training_only = _training_only_types()
    titles = {}
    if spec is not None:
        for number, layer in enumerate(spec.layers, start=1):
            titles[f"l{number}_{layer.type.lower()}"] = layer.describe()
    infos = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        kind = type(layer).__name__
        title = titles.get(layer.name) or kind
        if layer.name == OUTPUT_NAME:
            title = f"Dense {layer.units} softmax"
        infos.append(LayerInfo(
            name=layer.name, type=kind, title=title,
            output_shape=tuple(int(v) for v in layer.output.shape[1:]),
            params=int(layer.count_params()), shown=kind not in training_only,
        ))  # fmt: skip
    if not infos or infos[-1].name != OUTPUT_NAME:
        raise InsideError(f"The model's last layer must be named {OUTPUT_NAME!r}.")
    before = [info for info in infos[:-1] if info.shown]
    # The last hidden layer: what the softmax reads. Only Flatten before it: the pixels.
    hidden = before[-1].name if before and any(i.type != "Flatten" for i in before) else None
    h, w = (int(v) for v in model.input_shape[1:3])
    return ModelDescription(
        image_shape=(h, w), n_classes=int(infos[-1].output_shape[-1]), layers=tuple(infos),
        hidden_layer=hidden, class_names=tuple(str(n) for n in class_names),
    )  # fmt: skip


def export_model(model: keras.Model, path: Path, *, spec=None, class_names=(),
                 source: str = "the final model", epoch: int | None = None) -> ModelDescription:
    """Write ``model`` as ONNX to ``path`` (atomically: readers see no file or a whole one),
    with an output per shown layer and its description in the metadata.

    Raises StorageError (one sentence) when the file cannot be written."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    start = time.perf_counter()
    description = describe_model(model, spec=spec, class_names=class_names)
    shown = [model.get_layer(info.name) for info in description.layers if info.shown]
    outputs_model = keras.Model(model.inputs, [layer.output for layer in shown])
    h, w = description.image_shape
    signature = (tf.TensorSpec((None, h, w, 1), tf.float32, name=INPUT_NAME),)

    @tf.function(input_signature=signature)
    def forward(image):
        values = outputs_model(image, training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        return {layer.name: value for layer, value in zip(shown, values)}

    _patch_tf2onnx()
    with warnings.catch_warnings(), _convertible_activations(model):
        warnings.simplefilter("ignore")
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=OPSET)
    _check_against_keras(proto, outputs_model, [layer.name for layer in shown], (h, w))
    description = ModelDescription(**{
        **description.__dict__, "source": source, "epoch": epoch,
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                     "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__, "opset": OPSET},
        "export_seconds": round(time.perf_counter() - start, 3),
    })  # fmt: skip
    onnx.helper.set_model_props(proto, {META_KEY: description.to_json()})
    _write_atomic(path, proto.SerializeToString())
    return description


@contextmanager
def _convertible_activations(model: keras.Model):
    """Keras's exact GELU lowers to TensorFlow's Erfc, which tf2onnx cannot convert: trace
    it as the same function written with erf (Erf in ONNX) while converting."""
    swapped = [layer for layer in model.layers
               if getattr(layer, "activation", None) is keras.activations.gelu]  # fmt: skip
    for layer in swapped:
        layer.activation = _gelu_with_erf
    try:
        yield
    finally:
        for layer in swapped:
            layer.activation = keras.activations.gelu


def _gelu_with_erf(x):
    return 0.5 * x * (1.0 + keras.ops.erf(x / math.sqrt(2.0)))


def _check_against_keras(proto, outputs_model: keras.Model, names: list[str],
                         image_shape: tuple[int, int]) -> None:
    """Run the converted graph on a few seeded images and compare every output with
    Keras's: a converter that drops or mistranslates an op is caught here, not served."""
    import numpy as np
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(proto.SerializeToString(),
                                       providers=["CPUExecutionProvider"])  # fmt: skip
    except Exception as exc:  # noqa: BLE001 (onnxruntime's errors derive from Exception)
        raise InsideError(f"The ONNX converter produced a graph onnxruntime refuses "
                          f"({str(exc).splitlines()[0][:160]}).") from None  # fmt: skip
    rng = np.random.default_rng(0)
    probe = rng.uniform(0, 1, (4, *image_shape, 1)).astype(np.float32)
    probe[0] = 0.0
    served = session.run(names, {INPUT_NAME: probe})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the structure of inputs": a list of one
        expected = outputs_model(probe, training=False)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    for name, got, want in zip(names, served, expected):
        want = keras.ops.convert_to_numpy(want)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-4):
            raise InsideError(f"The ONNX export of layer {name} does not reproduce Keras's "
                              "values; the model cannot be served without TensorFlow.")  # fmt: skip


def _patch_tf2onnx() -> None:
    """tf2onnx 1.17 still names NumPy 1 aliases; Keras ships the patch it applies before its
    own ONNX export (``model.export(format="onnx")``), so use that one when present."""
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:  # a later Keras: tf2onnx then works with NumPy 2 by itself
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        patch_tf2onnx()


def _write_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise storage_error(exc, path) from None


def load_model_of(record) -> tuple[keras.Model, str, int | None]:
    """The Keras model a run's results come from, with words for which weights and their
    epoch: its final model, else (a crashed run) the checkpoint it kept."""
    from mnist_core.data import load_dataset
    from mnist_core.models.keras_build import build_model

    summary = record.summary
    epoch = summary.model_epoch if summary else None
    if record.paths.model.is_file():
        try:
            model = keras.saving.load_model(record.paths.model, safe_mode=True, compile=False)
        except (OSError, ValueError) as exc:
            raise InsideError(f"Run {record.run_id}: its model cannot be loaded ({exc}).") from None
        return model, "the final model", epoch
    kept = record.checkpoint()
    if kept is None or record.spec is None:
        raise InsideError(f"Run {record.run_id} has no trained model to export.")
    path, epoch = kept
    dataset = load_dataset(record.dataset, download=False)
    model = build_model(record.spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes)
    try:
        model.load_weights(path)
    except (OSError, ValueError) as exc:
        raise InsideError(f"Run {record.run_id}: its checkpoint cannot be loaded ({exc}).") from None
    return model, f"the checkpoint of epoch {epoch}", epoch


def export_run(record, *, model: keras.Model | None = None, class_names=(),
               epoch: int | None = None) -> ModelDescription:
    """Export the run's model (``model`` of ``epoch`` when the caller holds it, else loaded
    from the run's folder) to the run's ONNX file."""
    source = "the final model"
    if model is None:
        model, source, epoch = load_model_of(record)
    if not class_names:
        from mnist_core.data import DatasetError, load_dataset

        try:
            class_names = load_dataset(record.dataset, download=False).class_names
        except DatasetError:
            class_names = ()  # the data is gone: classes are named by their numbers
    return export_model(model, record.paths.onnx, spec=record.spec, class_names=class_names,
                        source=source, epoch=epoch)  # fmt: skip


def export_after_training(model: keras.Model, record, *, class_names=(),
                          epoch: int | None = None) -> float | None:
    """The end-of-training export: its seconds, or None when it failed. A failure never
    fails the trained run (the page's background job tries again and shows the sentence);
    the traceback goes to the worker's log."""
    start = time.perf_counter()
    try:
        export_run(record, model=model, class_names=class_names, epoch=epoch)
    except Exception:  # noqa: BLE001 (any converter error: the run itself is fine)
        traceback.print_exc(file=sys.stderr)
        return None
    return time.perf_counter() - start
