"""The Embeddings page's gallery of a selection: filtered by label, paged, one digit
enlarged by a click. Its filter, page and enlarged digit live in the page's state."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import streamlit as st

from app.embedding_state import PAGE_STATE, bind
from app.inside_links import model_view_link
from app.sidebar import active_dataset
from app.text import plain
from mnist_core import embeddings, figures
from mnist_core.data import Dataset

GALLERY_COLUMNS = 10
PAGE_SIZE = 100  # digits per gallery page: 10 rows of 10


def label_filter(rows_labels: np.ndarray, class_names) -> dict[str, str]:
    """Gallery filter options {value: text}: all; all but the most common label (the
    digits that do not belong); each label present, most common first."""
    values, counts = np.unique(rows_labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    options = {"all": f"all labels ({len(rows_labels):,})"}
    if len(values) > 1:
        top = values[order[0]]
        options[f"not:{top}"] = (f"all but {class_names[int(top)]} "
                                 f"({len(rows_labels) - counts[order[0]]:,})")  # fmt: skip
    for i in order:
        options[f"is:{values[i]}"] = f"{class_names[int(values[i])]} ({counts[i]:,})"
    return options


def filtered(rows: np.ndarray, labels: np.ndarray, choice: str) -> np.ndarray:
    """The rows a filter value of :func:`label_filter` keeps (``labels`` are the rows')."""
    kind, _, value = choice.partition(":")
    if kind == "is":
        return rows[labels == int(value)]
    if kind == "not":
        return rows[labels != int(value)]
    return rows


def selection_gallery(state: dict, rows: np.ndarray, result, request, dataset: Dataset) -> None:
    labels = result.labels[rows]
    st.subheader(f"{len(rows):,} selected points")
    options = label_filter(labels, dataset.class_names)
    if state["gallery_label"] not in options:
        state["gallery_label"] = "all"
    c_filter, c_page, c_where = st.columns([2, 1, 2], vertical_alignment="bottom")
    bind("gallery_label", state["gallery_label"])
    choice = c_filter.selectbox("Show", list(options), format_func=options.get, key="gallery_label")
    if choice != state["gallery_label"]:
        state["gallery_page"] = 1
        st.session_state.pop("gallery_page", None)
    state["gallery_label"] = choice
    chosen = filtered(rows, labels, choice)
    n_pages = max(1, math.ceil(len(chosen) / PAGE_SIZE))
    state["gallery_page"] = min(max(1, int(state["gallery_page"])), n_pages)
    bind("gallery_page", state["gallery_page"])
    if st.session_state["gallery_page"] > n_pages:
        st.session_state["gallery_page"] = n_pages
    page = c_page.number_input("Page", 1, n_pages, step=1, key="gallery_page")
    state["gallery_page"] = int(page)
    start = (page - 1) * PAGE_SIZE
    shown = chosen[start:start + PAGE_SIZE]
    c_where.caption(f"Page {page:,} of {n_pages:,}: digits {start + 1:,}–{start + len(shown):,} "
                    f"of {len(chosen):,}. Click a digit to enlarge it.")  # fmt: skip
    left, right = st.columns([3, 2], gap="medium")
    with left:
        enlarged = state["enlarged"]
        position = np.flatnonzero(shown == enlarged)
        gallery_key = f"gallery-{request.key}-{choice}-{page}"
        st.plotly_chart(
            figures.digits.grid_figure(
                embeddings.images_at(dataset, request.split, shown), result.labels[shown],
                result.indices[shown], class_names=dataset.class_names,
                columns=GALLERY_COLUMNS, cell=48,
                selected=int(position[0]) if len(position) else None,
            ),
            key=gallery_key, width="content", config={"displayModeBar": False},
            on_select=partial(_remember_enlarged, gallery_key, shown), selection_mode="points",
        )  # fmt: skip
    with right:
        enlarged_digit(state, rows, result, request, dataset)
        values, numbers = np.unique(labels, return_counts=True)
        counts = {dataset.class_names[int(c)]: int(n) for c, n in zip(values, numbers, strict=True)}
        st.plotly_chart(figures.embeddings.label_counts_figure(counts), key="selection_counts")


def _remember_enlarged(gallery_key: str, shown: np.ndarray) -> None:
    position = figures.digits.clicked_digit(st.session_state.get(gallery_key), n=len(shown))
    if position is not None:
        st.session_state[PAGE_STATE]["enlarged"] = int(shown[position])


def enlarged_digit(state: dict, rows: np.ndarray, result, request, dataset: Dataset) -> None:
    row = state["enlarged"]
    if row is None or row not in rows:
        st.caption("No digit enlarged yet: click one in the gallery.")
        return
    split = ("train", "test")[int(result.splits[row])]
    label = dataset.class_names[int(result.labels[row])]
    st.markdown(f"**{split} #{int(result.indices[row]):,}** · label **{plain(label)}**")
    image = embeddings.images_at(dataset, request.split, np.array([row]))
    st.plotly_chart(
        figures.digits.grid_figure(image, result.labels[[row]], result.indices[[row]],
                                   class_names=dataset.class_names, columns=1, cell=220),
        key="enlarged_digit", width="content", config={"displayModeBar": False},
    )  # fmt: skip
    model_view_link(split, int(result.indices[row]), dataset=active_dataset().key)

