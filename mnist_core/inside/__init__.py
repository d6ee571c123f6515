"""Inside a trained model, served without TensorFlow: predictions for drawn or chosen
digits, each layer's activations, occlusion saliency, the first layer's weights as images,
the nearest training digits in the last hidden layer, Kaggle ``test.csv`` predictions.

A run's model is exported to ONNX at the end of training (:mod:`.export`, in the worker)
and served by onnxruntime (:mod:`.runtime`); an older run gets its export, and every run
its index of training digits, from one background job (:mod:`.job`: :func:`prepare`,
:func:`readiness`). Importing this package is cheap (NumPy only): onnxruntime is imported
when a model is opened, Pillow when a drawing is framed.

- :mod:`.common`: errors, the names and the model description stored in the ONNX file;
- :mod:`.preprocess`: a drawing framed the way MNIST's digits were;
- :mod:`.saliency`, :mod:`.weights`, :mod:`.neighbours`: the explanations;
- :mod:`.kaggle`: ``test.csv`` -> ``submission.csv``; :mod:`.cli`: the commands;
- :mod:`.code_export` (and its helpers): the run as a standalone Python or R script.
"""

from mnist_core.inside.common import InsideError, LayerInfo, ModelDescription, NotReady
from mnist_core.inside.job import Readiness, prepare, readiness
from mnist_core.inside.neighbours import Neighbours, nearest_training_digits
from mnist_core.inside.preprocess import Framing, ink, measure_framing, preprocess_drawing
from mnist_core.inside.runtime import Activation, InsideModel, forget_sessions, open_model
from mnist_core.inside.saliency import Saliency, occlusion_map, occlusion_saliency
from mnist_core.inside.weights import LayerWeights, first_layer_weights

__all__ = [
    "Activation", "Framing", "InsideError", "InsideModel", "LayerInfo", "LayerWeights",
    "ModelDescription", "Neighbours", "NotReady", "Readiness", "Saliency",
    "first_layer_weights", "forget_sessions", "ink", "measure_framing",
    "nearest_training_digits", "occlusion_map", "occlusion_saliency", "open_model",
    "predict_csv", "prepare", "preprocess_drawing", "readiness", "submission_csv",
]  # fmt: skip


def predict_csv(model, path):
    """See :func:`mnist_core.inside.kaggle.predict_csv` (pandas is imported on first use)."""
    from mnist_core.inside.kaggle import predict_csv as predict

    return predict(model, path)


def submission_csv(frame) -> bytes:
    """See :func:`mnist_core.inside.kaggle.submission_csv`."""
    from mnist_core.inside.kaggle import submission_csv as to_bytes

    return to_bytes(frame)
