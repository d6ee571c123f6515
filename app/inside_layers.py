"""One digit, layer by layer (the drawing, or any test or training digit): its prediction,
an occlusion saliency map, each layer's activations; and what the first layer learned."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import inside_state
from app.inside_draw import current_drawing
from app.text import plain
from mnist_core import figures, inside, runs
from mnist_core.data import Dataset

MAX_MAPS = 32  # feature maps drawn per layer
MAX_BARS = 1024  # a longer vector (a wide Flatten) is described, not drawn


@dataclass(frozen=True)
class DigitViews:
    """What the layer-by-layer view draws for one digit (built once per digit and run)."""

    probabilities: np.ndarray
    saliency: inside.Saliency
    pictures: tuple[np.ndarray, np.ndarray]  # the digit, its saliency (RGB), for st.image
    # (Markdown, chart key, a plotly figure, a picture for st.image, or None: text only)
    layers: tuple[tuple[str, str, go.Figure | np.ndarray | None], ...]
    seconds: float  # activations and saliency, on the server


def layers_section(record: runs.RunRecord, model: inside.InsideModel, dataset: Dataset,
                   drawn: np.ndarray | None, *, with_drawing: bool) -> None:  # fmt: skip
    """``drawn``: the drawing as the model sees it (None when nothing is drawn);
    ``with_drawing``: drawn in one fragment with the drawing (only when it shows it)."""
    st.subheader("One digit, layer by layer")
    source, index = inside_state.digit_choice(
        dataset, has_drawing=drawn is not None or not current_drawing().empty)
    if (source == "drawing") != with_drawing:
        st.rerun(scope="app")  # join (or leave) the drawing's fragment
    if source == "drawing":
        if drawn is None:
            return
        image, label, about = drawn, None, "your drawing"
    else:
        images, labels = dataset.split(source)
        image, label = images[index], int(labels[index])
        split = "test" if source == "test" else "training"
        about = f"{split} digit #{index:,}, labelled {dataset.class_names[label]}"
    image = np.ascontiguousarray(image, dtype=np.uint8)
    views = digit_views(record.run_id, inside_state.onnx_stamp(record),
                        hashlib.sha1(image.tobytes()).hexdigest(), model, image)  # fmt: skip
    names = model.class_names
    top = int(np.argmax(views.probabilities))
    verdict = f"The model says {names[top]} ({views.probabilities[top]:.1%})"
    if label is not None:
        verdict += " — right." if top == label else f" — wrong: it is {names[label]}."
    st.markdown(f"**{plain(about[:1].upper() + about[1:])}.** {plain(verdict)}")
    values = views.saliency.values
    rise = max(0.0, -float(values.min()))
    st.image(list(views.pictures), width=260, caption=[
        "the digit", f"occlusion saliency: red up to a drop of "
        f"{figures.inside.scale_text(max(0.0, float(values.max())))}"
        + (f", blue up to a rise of {figures.inside.scale_text(rise)}" if rise else "")])  # fmt: skip
    st.caption(plain(views.saliency.description + " Red pixels supported the prediction; blue "
                     "ones spoke against it; the black line is the digit's outline."))  # fmt: skip
    for text, key, figure in views.layers:
        st.markdown(text)
        if isinstance(figure, np.ndarray):
            st.image(figure)
        elif figure is not None:
            st.plotly_chart(figure, key=key, config={"displayModeBar": False})
    st.caption(plain(f"Activations and saliency of {about} computed in "
                     f"{views.seconds * 1000:.1f} ms on the server."))  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=32)
def digit_views(run_id: str, stamp: tuple, digest: str, _model: inside.InsideModel,
                _image: np.ndarray) -> DigitViews:  # fmt: skip
    """The views of one digit (``digest``: its pixels' hash) through a run's model; shared
    by the sessions (read-only), so a rerun or a second look draws them at once."""
    started = time.perf_counter()
    activations = _model.activations(_image)
    saliency = inside.occlusion_saliency(_model, _image)
    seconds = time.perf_counter() - started
    layers = tuple(activation_view(number, activation, _model.class_names)
                   for number, activation in enumerate(activations, start=1))  # fmt: skip
    scale = max(1, 280 // max(_image.shape))
    digit = np.kron(255 - _image, np.ones((scale, scale), np.uint8))  # dark ink on white
    pictures = (digit, figures.inside.saliency_image(_image, saliency.values, scale=scale))
    return DigitViews(activations[-1].values, saliency, pictures, layers, seconds)


def activation_view(number: int, activation: inside.Activation,
                    class_names) -> tuple[str, str, go.Figure | np.ndarray | None]:  # fmt: skip
    """One layer's heading (Markdown), chart key, and figure or picture (None: text only)."""
    values = activation.values
    title = f"{number}. {activation.title}"
    if activation.kind == "maps":
        h, w, channels = values.shape
        shown = min(channels, MAX_MAPS)
        more = f" (the first {shown})" if shown < channels else ""
        text = (f"**{plain(title)}**: {channels} feature maps of {h}×{w}{plain(more)}, dark "
                "where the layer responds most.")
        scale = max(1, round(64 / w))  # about 64 screen pixels a map
        columns = max(1, min(16, 800 // ((w + 1) * scale)))  # rows of at most 800 pixels
        return (text, f"inside_maps_{activation.name}",
                figures.inside.feature_maps_image(values, max_maps=MAX_MAPS, columns=columns,
                                                  scale=scale))  # fmt: skip
    key = f"inside_units_{activation.name}"
    if activation.name == "output":
        return (f"**{plain(title)}**: the probability of each class.", key,
                figures.inside.units_figure(values, class_names=class_names))  # fmt: skip
    if activation.type == "Flatten" or len(values) > MAX_BARS:
        text = f"**{plain(title)}**: the {len(values):,} values of the layer before it in one row."
        return (text, key, None)
    active = int(np.count_nonzero(values > 0))
    return (f"**{plain(title)}**: {len(values):,} units, {active:,} of them positive.", key,
            figures.inside.units_figure(values))


def weights_section(record: runs.RunRecord, model: inside.InsideModel) -> None:
    st.subheader("What the first layer learned")
    try:
        weights = inside_state.first_layer_weights(record.run_id, inside_state.onnx_stamp(record),
                                                   model)  # fmt: skip
    except (inside.InsideError, OSError) as exc:
        st.caption(plain(exc))
        return
    # The engine's sentence names its own colours; this figure's are said after it.
    about = re.sub(r"\s*\((?:light|dark):[^)]*\)", "", weights.description)
    st.caption(plain(about) + " One colour scale for all, centred on 0: red positive, blue "
               "negative.")  # fmt: skip
    kh = weights.images.shape[1]
    columns = 5 if weights.kind == "class templates" else 8
    cell = 110 if kh >= 16 else 80
    st.plotly_chart(figures.inside.weights_figure(weights.images, titles=weights.titles,
                                                  columns=columns, cell=cell),
                    key="inside_weights", width="content",
                    config={"displayModeBar": False})  # fmt: skip
