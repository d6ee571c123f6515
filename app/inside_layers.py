"""One digit, layer by layer (the drawing, or any test or training digit): its prediction,
an occlusion saliency map, each layer's activations; and what the first layer learned."""

from __future__ import annotations

import re
import time

import numpy as np
import streamlit as st

from app import inside_state
from app.text import plain
from mnist_core import figures, inside, runs
from mnist_core.data import Dataset

MAX_MAPS = 32  # feature maps drawn per layer
MAX_BARS = 1024  # a longer vector (a wide Flatten) is described, not drawn


def layers_section(record: runs.RunRecord, model: inside.InsideModel, dataset: Dataset,
                   drawn: np.ndarray | None) -> None:  # fmt: skip
    """``drawn``: the drawing as the model sees it (None when nothing is drawn)."""
    st.subheader("One digit, layer by layer")
    source, index = inside_state.digit_choice(dataset, has_drawing=drawn is not None)
    if source == "drawing":
        if drawn is None:
            return
        image, label, about = drawn, None, "your drawing"
    else:
        images, labels = dataset.split(source)
        image, label = images[index], int(labels[index])
        split = "test" if source == "test" else "training"
        about = f"{split} digit #{index:,}, labelled {dataset.class_names[label]}"
    started = time.perf_counter()
    activations = model.activations(image)
    probabilities = activations[-1].values
    top = int(np.argmax(probabilities))
    names = model.class_names
    verdict = f"The model says {names[top]} ({probabilities[top]:.1%})"
    if label is not None:
        verdict += " — right." if top == label else f" — wrong: it is {names[label]}."
    st.markdown(f"**{plain(about[:1].upper() + about[1:])}.** {plain(verdict)}")
    saliency = inside.occlusion_saliency(model, image)
    seconds = time.perf_counter() - started
    st.plotly_chart(figures.inside.saliency_figure(image, saliency.values), key="inside_saliency",
                    width="content", config={"displayModeBar": False})  # fmt: skip
    st.caption(plain(saliency.description + " Red pixels supported the prediction; blue ones "
                     "spoke against it."))  # fmt: skip
    for number, activation in enumerate(activations, start=1):
        activation_view(number, activation, names)
    st.caption(plain(f"Activations and saliency of {about} computed in {seconds * 1000:.1f} ms "
                     "on the server."))  # fmt: skip


def activation_view(number: int, activation: inside.Activation, class_names) -> None:
    values = activation.values
    title = f"{number}. {activation.title}"
    if activation.kind == "maps":
        h, w, channels = values.shape
        shown = min(channels, MAX_MAPS)
        more = f" (the first {shown})" if shown < channels else ""
        st.markdown(f"**{plain(title)}**: {channels} feature maps of {h}×{w}{plain(more)}, "
                    "dark where the layer responds most.")  # fmt: skip
        st.plotly_chart(
            figures.inside.feature_maps_figure(values, max_maps=MAX_MAPS, columns=16,
                                               cell=56 if shown > 8 else 80),
            key=f"inside_maps_{activation.name}", width="content",
            config={"displayModeBar": False},
        )  # fmt: skip
        return
    if activation.name == "output":
        st.markdown(f"**{plain(title)}**: the probability of each class.")
        st.plotly_chart(figures.inside.units_figure(values, class_names=class_names),
                        key=f"inside_units_{activation.name}",
                        config={"displayModeBar": False})  # fmt: skip
        return
    if activation.type == "Flatten" or len(values) > MAX_BARS:
        st.markdown(f"**{plain(title)}**: the {len(values):,} values of the layer before it "
                    "in one row.")  # fmt: skip
        return
    active = int(np.count_nonzero(values > 0))
    st.markdown(f"**{plain(title)}**: {len(values):,} units, {active:,} of them positive.")
    st.plotly_chart(figures.inside.units_figure(values), key=f"inside_units_{activation.name}",
                    config={"displayModeBar": False})  # fmt: skip


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
