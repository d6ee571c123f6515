"""Embeddings drawn: every point coloured by class, PCA's variance and components, the
labels of a selection; and :func:`selected_rows`, which reads a box or lasso selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.selection import selected_points
from mnist_core.figures.style import class_color


def scatter_figure(
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    *,
    class_names: tuple[str, ...],
    marker_size: float = 3,
    opacity: float = 0.6,
    axis_titles: tuple[str, str] = ("", ""),
    index_title: str = "index",
) -> go.Figure:
    """Every point of an embedding, drawn with WebGL, one trace (and legend entry) per class.

    Each point's ``customdata`` is its index in its split (shown on hover); a selection
    maps back to rows with :func:`selected_rows`.
    """
    if not len(x) == len(y) == len(labels) == len(indices):
        raise ValueError(
            f"x, y, labels and indices differ in length: {len(x)}, {len(y)}, "
            f"{len(labels)}, {len(indices)}."
        )
    fig = go.Figure()
    for label in np.unique(labels):
        mask = labels == label
        name = class_names[int(label)]
        fig.add_trace(
            go.Scattergl(
                x=x[mask], y=y[mask], mode="markers", name=name,
                marker=dict(size=marker_size, opacity=opacity, color=class_color(int(label))),
                customdata=indices[mask],
                hovertemplate=f"label {name}<br>{index_title} %{{customdata}}<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(
        height=640,
        margin=dict(t=10, b=10, l=10, r=10),
        xaxis_title=axis_titles[0],
        yaxis_title=axis_titles[1],
        legend=dict(title="class<br>(click: hide)", itemsizing="constant", x=1.02, y=1),
        dragmode="select",
        plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)
    return fig


def selected_rows(selection_state: Any, labels: np.ndarray) -> np.ndarray:
    """Rows (positions in the arrays given to :func:`scatter_figure`) of the points
    selected in it; sorted, unique. ``labels`` are the labels that figure was drawn with
    (its traces are the classes in sorted order)."""
    by_trace = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    rows = []
    for p in selected_points(selection_state):
        trace, index = p.get("curve_number", -1), p.get("point_index", -1)
        if isinstance(trace, int) and 0 <= trace < len(by_trace) and isinstance(index, int) \
                and 0 <= index < len(by_trace[trace]):  # fmt: skip
            rows.append(by_trace[trace][index])
    return np.unique(np.asarray(rows, dtype=np.int64))


def scree_figure(explained_variance_ratio: np.ndarray) -> go.Figure:
    """Explained variance per principal component (bars) and cumulated (line)."""
    ratio = np.asarray(explained_variance_ratio)
    components = np.arange(1, len(ratio) + 1)
    fig = go.Figure()
    fig.add_bar(x=components, y=ratio, name="per component",
                hovertemplate="PC%{x}: %{y:.2%}<extra></extra>")  # fmt: skip
    fig.add_scatter(
        x=components, y=np.cumsum(ratio), name="cumulative", mode="lines+markers",
        hovertemplate="PC1–PC%{x}: %{y:.2%}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(
        height=320, margin=dict(t=10, b=10, l=10, r=10),
        xaxis_title="principal component", yaxis_title="share of variance",
        yaxis_tickformat=".0%", yaxis_range=[0, 1], legend=dict(orientation="h", y=1.1),
    )  # fmt: skip
    return fig


def components_figure(components: np.ndarray, image_shape: tuple[int, int], *, n: int = 10) -> go.Figure:
    """The first ``n`` principal components as images (red positive, blue negative)."""
    n = min(n, len(components))
    fig = make_subplots(rows=1, cols=n, column_titles=[f"PC{i + 1}" for i in range(n)],
                        horizontal_spacing=0.01)  # fmt: skip
    for i in range(n):
        image = components[i].reshape(image_shape)
        limit = float(np.abs(image).max()) or 1.0
        fig.add_trace(
            go.Heatmap(z=image, colorscale="RdBu_r", zmin=-limit, zmax=limit, showscale=False,
                       hovertemplate=f"PC{i + 1} weight at row %{{y}}, column %{{x}}: "
                       "%{z:.3f}<extra></extra>"),
            row=1, col=i + 1,
        )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    for i in range(1, n + 1):
        fig.update_yaxes(scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_layout(height=170, margin=dict(t=30, b=5, l=5, r=5))
    return fig


def label_counts_figure(counts: dict[str, int]) -> go.Figure:
    """Horizontal bars: how many selected points carry each label."""
    names = list(counts)
    fig = go.Figure(
        go.Bar(x=[counts[n] for n in names], y=names, orientation="h",
               text=[f"{counts[n]:,}" for n in names], textposition="outside",
               marker_color="#4E79A7", hovertemplate="%{y}: %{x:,}<extra></extra>")
    )  # fmt: skip
    fig.update_layout(
        height=40 + 24 * len(names), margin=dict(t=5, b=5, l=5, r=30),
        yaxis=dict(type="category", autorange="reversed"), xaxis_title="selected points",
        xaxis_range=[0, max(counts.values(), default=1) * 1.35],
    )  # fmt: skip
    return fig
