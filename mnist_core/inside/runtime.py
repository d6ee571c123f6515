"""A run's exported model served by onnxruntime, without TensorFlow: predictions, every
layer's activations, the last hidden layer's features.

:func:`open_model` keeps one onnxruntime session per run in this process (least recently
used out past :data:`MAX_SESSIONS`), keyed by the ONNX file's path and modification time;
a session's ``run`` is thread-safe, so the Streamlit sessions of one server share it.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.inside.common import (
    INPUT_NAME,
    META_KEY,
    OUTPUT_NAME,
    InsideError,
    LayerInfo,
    ModelDescription,
    NotReady,
    as_images,
)

MAX_SESSIONS = 4
# Values of every layer's output a batch may hold at once (floats, 8 MB): bounds the memory
# of a big batch through a wide CNN (the Keras CNN holds 77,000 values an image: 26 a batch;
# 8 MB rather than 32 took the server from 394 to 279 MB with three people drawing).
BATCH_VALUES = 2_000_000


@dataclass(frozen=True)
class Activation:
    """One layer's output for one image: ``values`` float32 of shape (h, w, channels) for
    feature maps (``kind`` "maps": Conv2D, pooling, normalisation of an image) or (units,)
    for vectors (``kind`` "vector": Flatten, Dense, the softmax ``output``)."""

    name: str
    type: str
    title: str
    values: np.ndarray
    kind: str


class InsideModel:
    """An exported model and its onnxruntime session.

    Attributes: ``path``, ``run_id``, ``description`` (see
    :class:`~mnist_core.inside.common.ModelDescription`), and from it ``image_shape``,
    ``n_classes``, ``class_names``, ``layers``, ``hidden_layer``, ``params``.
    """

    def __init__(self, path: str | Path, *, run_id: str = "", threads: int = 1):
        import onnxruntime as ort

        self.path = Path(path)
        self.run_id = run_id
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: all cores (the CLI's big batches)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # No arena: a server's small, irregular batches gain nothing from it, and each
        # session's arena would keep its largest batch's memory for good (measured: 306 MB
        # against 279 MB for three models and three people drawing).
        options.enable_cpu_mem_arena = False
        if threads == 1:  # the server: no thread pool spinning between requests
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=["CPUExecutionProvider"])  # fmt: skip
            text = self.session.get_modelmeta().custom_metadata_map[META_KEY]
            self.description = ModelDescription.from_json(text)
        except Exception as exc:  # noqa: BLE001 (onnxruntime's errors derive from Exception)
            name = f"Run {run_id}'s exported model" if run_id else str(self.path)
            raise InsideError(f"{name} cannot be used ({_first_line(exc)}).") from None
        per_image = sum(math.prod(layer.output_shape) for layer in self.shown_layers)
        self.batch_size = int(max(1, min(4096, BATCH_VALUES // max(per_image, 1))))

    # ----------------------------------------------------------------- what the model is

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.description.image_shape

    @property
    def n_classes(self) -> int:
        return self.description.n_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        names = self.description.class_names
        return names if len(names) == self.n_classes else tuple(map(str, range(self.n_classes)))

    @property
    def layers(self) -> tuple[LayerInfo, ...]:
        return self.description.layers

    @property
    def shown_layers(self) -> tuple[LayerInfo, ...]:
        return tuple(layer for layer in self.layers if layer.shown)

    @property
    def hidden_layer(self) -> str | None:
        return self.description.hidden_layer

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def layer(self, name: str) -> LayerInfo:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InsideError(f"The model has no layer {name!r}; it has "
                          f"{', '.join(layer.name for layer in self.layers)}.")  # fmt: skip

    # ----------------------------------------------------------------- running it

    def run(self, names: list[str], x: np.ndarray) -> list[np.ndarray]:
        """The outputs ``names`` for the float32 batch ``x`` (n, h, w, 1), in batches."""
        if len(x) <= self.batch_size:
            return self.session.run(names, {INPUT_NAME: x})
        parts = [self.session.run(names, {INPUT_NAME: x[i:i + self.batch_size]})
                 for i in range(0, len(x), self.batch_size)]  # fmt: skip
        return [np.concatenate([part[k] for part in parts]) for k in range(len(names))]

    def predict(self, images) -> np.ndarray:
        """Class probabilities, float32 (n, n_classes) (a 2-D array for one image too), of
        ``images`` (h, w) or (n, h, w), grey levels 0..255 as in the dataset."""
        x, _ = as_images(images, self.image_shape)
        if not len(x):
            return np.zeros((0, self.n_classes), np.float32)
        return self.run([OUTPUT_NAME], x)[0]

    def activations(self, image) -> list[Activation]:
        """Every shown layer's output for one ``image`` (h, w), in order, the softmax last."""
        x, single = as_images(image, self.image_shape)
        if not single:
            raise InsideError("activations() takes one image (h, w); got a batch.")
        layers = self.shown_layers
        values = self.run([layer.name for layer in layers], x)
        return [
            Activation(layer.name, layer.type, layer.title, value[0],
                       "maps" if value.ndim == 4 else "vector")
            for layer, value in zip(layers, values)
        ]  # fmt: skip

    def hidden_features(self, images) -> np.ndarray:
        """The last hidden layer's values, float32 (n, d): what the softmax reads; the
        pixels / 255 when no layer comes before it but a Flatten."""
        x, _ = as_images(images, self.image_shape)
        if self.hidden_layer is None:
            return x.reshape(len(x), -1)
        if not len(x):
            return np.zeros((0, math.prod(self.layer(self.hidden_layer).output_shape)),
                            np.float32)  # fmt: skip
        return self.run([self.hidden_layer], x)[0].reshape(len(x), -1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


_SESSIONS: OrderedDict[tuple, InsideModel] = OrderedDict()
_LOCK = threading.Lock()


def open_model(record, *, threads: int = 1) -> InsideModel:
    """The run's exported model, loaded once per process (and again when the file changes).

    Raises InsideError for a run that has no layers to look inside (a random-forest
    baseline), NotReady when the export is not there yet or is damaged (then it is
    removed, for :func:`mnist_core.inside.prepare` to make again)."""
    if record.kind != "train":
        raise InsideError(f"Run {record.run_id} is a {record.name}: it has no layers to look "
                          "inside.")  # fmt: skip
    path = record.paths.onnx
    try:
        stat = path.stat()
    except OSError:
        raise NotReady(f"Run {record.run_id}'s model is not exported yet.") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size, threads)
    with _LOCK:
        model = _SESSIONS.get(key)
        if model is not None:
            _SESSIONS.move_to_end(key)
            return model
    try:
        model = InsideModel(path, run_id=record.run_id, threads=threads)  # outside the lock
    except InsideError as exc:
        # A damaged file (a truncated copy, say): removed, so that readiness() says so and
        # prepare() exports the model again (an export checks itself with onnxruntime).
        _remove(path, key)
        raise NotReady(f"{exc} It is removed and made again by the background job.") from None
    with _LOCK:
        for old in [k for k in _SESSIONS if k[0] == key[0]]:
            del _SESSIONS[old]  # an older export of the same run
        _SESSIONS[key] = model
        while len(_SESSIONS) > MAX_SESSIONS:
            _SESSIONS.popitem(last=False)
    return model


def _remove(path: Path, key: tuple) -> None:
    try:
        stat = path.stat()
        if (stat.st_mtime_ns, stat.st_size) == key[1:3]:  # not replaced meanwhile
            path.unlink()
    except OSError:
        pass  # gone already, or a read-only folder: the sentence still says what is wrong


def forget_sessions() -> None:
    """Drop every cached session (tests; a run deleted and made again)."""
    with _LOCK:
        _SESSIONS.clear()
