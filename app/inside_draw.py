"""Draw a digit: the pad, the image the model sees, the class probabilities (again after
every stroke), and the nearest training digits in the model's last hidden layer."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from app import inside_state
from app.components.drawing_pad import EMPTY, Drawing, drawing_pad
from app.text import plain
from mnist_core import figures, inside, runs
from mnist_core.data import Dataset

PAD_KEY = "inside_pad"


def brush_for(framing: inside.Framing) -> int:
    """Canvas pixels of the brush: a stroke about as thick, against its digit, as the
    dataset's own (MNIST's strokes are ~2.5 of 20 pixels; the 8×8 digits' ~2 of 8)."""
    return 22 if framing.size >= 16 else 30


def current_drawing() -> Drawing:
    """The drawing kept for the session (empty until something is drawn)."""
    return st.session_state.get(inside_state.DRAWING, EMPTY)


def model_input(drawing: Drawing, dataset: Dataset) -> np.ndarray | None:
    """The drawing framed like the dataset's digits: uint8 (h, w), or None if empty."""
    if drawing.empty:
        return None
    framing = inside_state.framing(dataset.fingerprint, dataset)
    return inside.preprocess_drawing(drawing.picture, framing=framing)


def draw_section(record: runs.RunRecord, model: inside.InsideModel,
                 dataset: Dataset) -> np.ndarray | None:
    """The drawing section; the drawing as the model sees it (None when nothing is drawn)."""
    st.subheader("Draw a digit")
    h, w = model.image_shape
    if h != w:  # the pad frames drawings in a square
        st.caption(f"Drawing works for square images; this model takes {h}×{w} pixels.")
        return None
    framing = inside_state.framing(dataset.fingerprint, dataset)
    st.caption(f"Draw with the mouse (or a finger). The model answers when a stroke ends, "
               f"seeing the drawing framed the way its training digits were: the ink scaled "
               f"into a box of {framing.box}×{framing.box} and centred by its centre of mass in "
               f"{h}×{w} pixels.")  # fmt: skip
    pad_col, seen_col, bars_col = st.columns([320, 170, 400], gap="medium")
    with pad_col:
        sent = drawing_pad(key=PAD_KEY, strokes=current_drawing().strokes,
                           brush=brush_for(framing))  # fmt: skip
    if sent is not None:
        st.session_state[inside_state.DRAWING] = sent
    drawing = current_drawing()
    started = time.perf_counter()
    image = model_input(drawing, dataset)
    probabilities = None if image is None else model.predict(image)[0]
    seconds = time.perf_counter() - started
    with bars_col:  # first: the answer reaches the page before the pictures
        if probabilities is None:
            st.markdown("**Prediction**: draw a digit.")
        else:
            top = int(np.argmax(probabilities))
            st.markdown(f"**Prediction: {plain(model.class_names[top])}** · "
                        f"{probabilities[top]:.1%}")  # fmt: skip
            strokes = len(drawing.strokes)
            st.caption(f"{strokes} stroke{'s' if strokes != 1 else ''} · framed and predicted "
                       f"in {seconds * 1000:.1f} ms on the server.")  # fmt: skip
        st.plotly_chart(figures.inside.probabilities_figure(
            np.zeros(model.n_classes) if probabilities is None else probabilities,
            class_names=model.class_names),
            key="inside_probabilities", config={"displayModeBar": False})  # fmt: skip
    with seen_col:
        st.markdown("**The model sees**")
        st.image(_picture(np.zeros((h, w), np.uint8) if image is None else image), width=150)
        st.caption(f"{h}×{w} pixels, " + ("once you draw." if image is None else "dark = ink."))
    if image is not None:
        nearest_digits(record, image, dataset)
    return image


def nearest_digits(record: runs.RunRecord, image: np.ndarray, dataset: Dataset) -> None:
    found = inside_state.neighbours_or_wait(record, image)
    if found is None:
        return
    names = dataset.class_names
    st.markdown("**The 8 nearest training digits**")
    st.caption(plain(f"In the model's {found.space}, nearest first; each reads its label and "
                     "its distance. Training digits "
                     + ", ".join(f"#{int(i):,}" for i in found.indices) + "."))  # fmt: skip
    # Pictures, not a chart: they draw at once after every stroke.
    captions = [f"{names[int(label)]} · {distance:.2f}"
                for label, distance in zip(found.labels, found.distances)]  # fmt: skip
    st.image([_picture(dataset.x_train[i], side=84) for i in found.indices], caption=captions,
             width=84)  # fmt: skip


def _picture(image: np.ndarray, *, side: int = 150) -> np.ndarray:
    """A digit as dark ink on white, scaled up by whole pixels so it stays sharp."""
    scale = max(1, side // max(image.shape))
    return np.kron(255 - image, np.ones((scale, scale), dtype=np.uint8))
