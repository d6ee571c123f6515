"""What the exporter writes into an ONNX file and the runtime reads back: the errors, the
names, and the description of every layer (kept as JSON in the file's metadata, so the
server learns a model's layers from onnxruntime alone)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

# The ONNX metadata key holding the model's description (see :func:`describe_json`).
META_KEY = "mnist_core.inside"
INPUT_NAME = "image"  # the graph's input: float32 (n, h, w, 1), pixels / 255
OUTPUT_NAME = "output"  # the softmax layer, the last output (the Keras builder's name)
FORMAT_VERSION = 1


class InsideError(ValueError):
    """A model, image or file that cannot be used; ``str()`` is one sentence for people."""


class NotReady(InsideError):
    """The run's ONNX export (or its cached training-set features) is not there yet:
    :func:`mnist_core.inside.prepare` starts the background job that makes it."""


@dataclass(frozen=True)
class LayerInfo:
    """One Keras layer of an exported model.

    ``output_shape`` has no batch dimension; ``params`` is Keras's ``count_params()``;
    ``shown`` is False for training-only layers (Dropout, random augmentations), which
    pass their input through at inference and have no output of their own in the graph.
    """

    name: str
    type: str
    title: str
    output_shape: tuple[int, ...]
    params: int
    shown: bool = True

    @classmethod
    def from_json(cls, data: dict) -> LayerInfo:
        return cls(name=str(data["name"]), type=str(data["type"]), title=str(data["title"]),
                   output_shape=tuple(int(v) for v in data["output_shape"]),
                   params=int(data["params"]), shown=bool(data.get("shown", True)))  # fmt: skip


@dataclass(frozen=True)
class ModelDescription:
    """What :mod:`mnist_core.inside.export` records about a model in its ONNX file."""

    image_shape: tuple[int, int]
    n_classes: int
    layers: tuple[LayerInfo, ...]
    hidden_layer: str | None  # the last hidden layer; None when it is only the pixels
    class_names: tuple[str, ...] = ()
    source: str = ""  # which weights: "the final model" or "the checkpoint of epoch 3"
    epoch: int | None = None
    versions: dict | None = None
    export_seconds: float | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT_VERSION
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ModelDescription:
        data = json.loads(text)
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown description format {data.get('format')!r}")
        return cls(
            image_shape=tuple(int(v) for v in data["image_shape"]),
            n_classes=int(data["n_classes"]),
            layers=tuple(LayerInfo.from_json(layer) for layer in data["layers"]),
            hidden_layer=data.get("hidden_layer"),
            class_names=tuple(str(n) for n in data.get("class_names") or ()),
            source=str(data.get("source") or ""), epoch=data.get("epoch"),
            versions=data.get("versions"), export_seconds=data.get("export_seconds"),
        )  # fmt: skip


def as_images(images, image_shape: tuple[int, int]) -> tuple:
    """``images`` (h, w) or (n, h, w), grey levels 0..255 (uint8 or float), as float32
    (n, h, w, 1) scaled to 0..1 the way the model was trained, and whether one was given."""
    import numpy as np

    array = np.asarray(images)
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or tuple(array.shape[1:]) != tuple(image_shape):
        h, w = image_shape
        raise InsideError(
            f"The model takes {h}×{w} images; got an array of shape {tuple(np.shape(images))}."
        )
    if array.dtype.kind not in "uif" and array.dtype != bool:
        raise InsideError(f"Images must be numbers (grey levels 0..255), not {array.dtype}.")
    return (array.astype(np.float32) / 255.0)[..., None], single
