"""What the first layer learned, as images, read from the exported ONNX graph (no
TensorFlow): the multinomial model's 10 class templates, a Dense layer's strongest units
(by the norm of their weights), a Conv2D layer's filters.

The first weighted node of the graph (MatMul/Gemm or Conv, in graph order) holds the first
Dense or Conv2D layer's kernel: tf2onnx keeps a Dense kernel as (inputs, units) and turns a
Conv2D kernel into ONNX's (filters, channels, height, width).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.inside.common import OUTPUT_NAME, InsideError

WEIGHTED = ("Dense", "Conv2D")


@dataclass(frozen=True)
class LayerWeights:
    """``images`` float32 (k, kh, kw): signed weights (draw them on a scale centred on 0),
    ``titles`` one per image, ``kind`` "class templates" | "units" | "filters"."""

    layer: str
    type: str
    kind: str
    images: np.ndarray
    titles: tuple[str, ...]
    description: str


def first_kernel(path) -> np.ndarray:
    """The kernel of the first MatMul, Gemm or Conv node of the ONNX graph at ``path``:
    (inputs, units) for a Dense layer, (filters, channels, kh, kw) for a Conv2D."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    for node in graph.node:
        if node.op_type in ("MatMul", "Gemm", "Conv") and node.input[1] in constants:
            kernel = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            return kernel.T if node.op_type == "Gemm" and trans_b else kernel
    raise InsideError(f"{path} has no Dense or Conv2D layer with weights.")


def first_layer_weights(model, *, max_units: int = 16) -> LayerWeights:
    """The first Dense or Conv2D layer's weights of an
    :class:`~mnist_core.inside.runtime.InsideModel` as images."""
    layers = model.layers
    position, info = next(((i, layer) for i, layer in enumerate(layers)
                           if layer.type in WEIGHTED), (None, None))  # fmt: skip
    if info is None:
        raise InsideError("The model has no Dense or Conv2D layer.")
    kernel = first_kernel(model.path)
    if info.type == "Conv2D":
        filters, channels, kh, kw = kernel.shape
        if filters != info.output_shape[-1]:
            raise InsideError(f"{info.name}: the exported kernel has {filters} filters; the "
                              f"layer has {info.output_shape[-1]}.")  # fmt: skip
        images = kernel[:, 0] if channels == 1 else kernel.mean(axis=1)
        titles = tuple(f"filter {i}" for i in range(filters))
        return LayerWeights(info.name, info.type, "filters", images, titles,
                            f"{info.title}: its {filters} filters of {kh}×{kw} weights, as "
                            "images.")  # fmt: skip
    before = next((layer.output_shape for layer in reversed(layers[:position])
                   if layer.output_shape and len(layer.output_shape) == 3), None)  # fmt: skip
    shape = before[:2] if before and before[2] == 1 else model.image_shape
    inputs, units = kernel.shape
    if inputs != shape[0] * shape[1] or units != info.output_shape[-1]:
        raise InsideError(f"{info.name}: the exported kernel is {inputs}×{units}; expected "
                          f"{shape[0] * shape[1]}×{info.output_shape[-1]}.")  # fmt: skip
    columns = kernel.T.reshape(units, *shape)
    if info.name == OUTPUT_NAME:
        names = model.class_names
        return LayerWeights(info.name, info.type, "class templates", columns,
                            tuple(f"class {name}" for name in names),
                            "The weights each class gives every pixel: positive is evidence "
                            "for the class, negative against it.")  # fmt: skip
    norms = np.linalg.norm(kernel, axis=0)
    order = np.argsort(-norms, kind="stable")[:max_units]
    return LayerWeights(
        info.name, info.type, "units", columns[order],
        tuple(f"unit {u} (norm {norms[u]:.2f})" for u in order),
        f"{info.title}: the {len(order)} of its {units} units with the largest weights, each "
        "unit's weights on the pixels as an image.",
    )  # fmt: skip
