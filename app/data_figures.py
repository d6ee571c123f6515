"""The Data explorer's figures, built once per dataset and choice and shared by every session
(read-only: Streamlit copies a figure to send it). A warm page then only serialises them
(building the pixel statistics, then 33 heat maps, cost ~0.25 s of server CPU a rerun).
What the browser draws is mostly pictures (PNG) under invisible plotly layers for hover and
clicks: the digit grid, the pixel values (built in 0.05-0.07 s, once per digit), the three statistics rows
(~0.14 s, once per dataset and split); pictures cost Chromium far less than plotly's heat-map
cells and text.

Every builder is keyed by the dataset's fingerprint (its arrays' hash), so a replaced file
never gets another's figures; the arrays themselves are passed unhashed (``_``)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core import figures
from mnist_core.data import Dataset, stats


@st.cache_resource(show_spinner=False, max_entries=8)
def overview(fingerprint: str, _dataset: Dataset) -> dict:
    """The dataset's summary (its pixel range reads every pixel once)."""
    return _dataset.summary()


@st.cache_resource(show_spinner=False, max_entries=8)
def class_balance(fingerprint: str, class_names: tuple, _dataset: Dataset) -> go.Figure:
    """``class_names``: in the key, as an upload's classes can be renamed."""
    balance = stats.class_balance(_dataset.y_train, _dataset.y_test, class_names=class_names)
    return figures.data.class_balance_figure(balance)


@st.cache_resource(show_spinner=False, max_entries=64)
def digit_grid(fingerprint: str, grid: tuple, selected: int, _images: np.ndarray,
               _labels: np.ndarray, _indices: np.ndarray, class_names: tuple) -> go.Figure:  # fmt: skip
    """``grid``: (split, order, class, side, seed), the choices that pick the digits."""
    return figures.digits.grid_figure(_images, _labels, _indices, class_names=class_names,
                                      columns=grid[3], selected=selected)  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=32)
def pixels(fingerprint: str, split: str, index: int, title: str, _image: np.ndarray) -> go.Figure:
    return figures.digits.pixels_figure(_image, title=title)


@st.cache_resource(show_spinner=False, max_entries=8)
def pixel_statistics(fingerprint: str, split: str, class_names: tuple,
                     _pixel_stats: stats.CachedPixelStats) -> go.Figure:  # fmt: skip
    return figures.data.pixel_stats_figure(_pixel_stats, class_names=class_names)
