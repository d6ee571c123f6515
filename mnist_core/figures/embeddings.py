"""Embeddings drawn: every point coloured by class, PCA's variance and components, the
labels of a selection; and :func:`selected_rows`, which reads a box or lasso selection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

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
    selected: np.ndarray | None = None,
    outlines: list[dict] | tuple = (),
) -> go.Figure:
    """Every point of an embedding, drawn with WebGL, one trace (and legend entry) per class.

    Each point's ``customdata`` is its index in its split (shown on hover); a selection
    maps back to rows with :func:`selected_rows`.

    Args:
        selected: rows to show as selected (the others dimmed), e.g. a selection kept
            from an earlier visit; None: no selection.
        outlines: box and lasso outlines (as :func:`selection_shapes` gives them) drawn
            as dashed lines.
    """
    if not len(x) == len(y) == len(labels) == len(indices):
        raise ValueError(
            f"x, y, labels and indices differ in length: {len(x)}, {len(y)}, "
            f"{len(labels)}, {len(indices)}."
        )
    chosen = None
    if selected is not None:
        chosen = np.zeros(len(labels), bool)
        chosen[np.asarray(selected, dtype=np.int64)] = True
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
                selectedpoints=None if chosen is None else np.flatnonzero(chosen[mask]),
                unselected=dict(marker=dict(opacity=min(opacity, 0.12))),
            )
        )  # fmt: skip
    for shape in outline_shapes(outlines):
        fig.add_shape(shape)
    fig.update_layout(
        height=640,
        # The top margin keeps the chart's toolbar clear of the legend's title.
        margin=dict(t=48, b=10, l=10, r=10),
        xaxis_title=axis_titles[0],
        yaxis_title=axis_titles[1],
        legend=dict(title=dict(text="class (click: hide)", side="top"), itemsizing="constant",
                    x=1.02, y=1, yanchor="top"),
        dragmode="select",  # box first; the toolbar offers the lasso
        plot_bgcolor="white",
        uirevision="embedding",  # keeps zoom and hidden classes when the figure is redrawn
    )
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)
    return fig


def outline_shapes(outlines: list[dict] | tuple) -> list[dict]:
    """Box and lasso outlines (as :func:`selection_shapes` gives them) as plotly layout
    shapes: dashed dark lines."""
    line = dict(color="#333", width=1.5, dash="dash")
    shapes = []
    for outline in outlines:
        xs, ys = list(outline["x"]), list(outline["y"])
        if outline.get("kind") == "box":
            shapes.append(dict(type="rect", x0=xs[0], x1=xs[1], y0=ys[0], y1=ys[1], line=line))
        elif len(xs) > 2:
            path = "M" + "L".join(f"{a:.6g},{b:.6g}" for a, b in zip(xs, ys)) + "Z"
            shapes.append(dict(type="path", path=path, line=line))
    return shapes


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


def selection_shapes(selection_state: Any) -> list[dict]:
    """The box and lasso outlines of a selection state, as plain dicts
    ``{"kind": "box" | "lasso", "x": [...], "y": [...]}`` (a box by its two corners)."""
    if not isinstance(selection_state, Mapping):
        return []
    selection = selection_state.get("selection") or {}
    shapes = []
    for kind in ("box", "lasso"):
        for shape in selection.get(kind) or []:
            xs, ys = list(shape.get("x") or []), list(shape.get("y") or [])
            if len(xs) == len(ys) and len(xs) >= 2:
                shapes.append({"kind": kind, "x": [float(v) for v in xs], "y": [float(v) for v in ys]})
    return shapes


def rows_in_shapes(x: np.ndarray, y: np.ndarray, shapes: list[dict]) -> np.ndarray:
    """Rows of the points (x, y) inside any of ``shapes`` (boxes: edges included; lassos:
    even-odd rule, as plotly.js selects); sorted."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    inside = np.zeros(len(x), bool)
    for shape in shapes:
        xs, ys = np.asarray(shape["x"], float), np.asarray(shape["y"], float)
        if shape["kind"] == "box":
            inside |= (x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max())
            continue
        crossing = np.zeros(len(x), bool)
        for i in range(len(xs)):
            x0, y0, x1, y1 = xs[i - 1], ys[i - 1], xs[i], ys[i]
            if y0 == y1:
                continue
            spans = (y0 > y) != (y1 > y)
            crossing ^= spans & (x < x0 + (y - y0) * (x1 - x0) / (y1 - y0))
        inside |= crossing
    return np.flatnonzero(inside)


def shapes_to_text(shapes: list[dict], *, max_vertices: int = 40) -> str:
    """``shapes`` written compactly for a URL: ``b:x0,x1,y0,y1`` or ``l:x,y;x,y;...``
    joined by ``_``, numbers to 4 significant digits; a lasso keeps at most
    ``max_vertices`` of its vertices (evenly spaced)."""
    parts = []
    for shape in shapes:
        xs, ys = list(shape["x"]), list(shape["y"])
        if shape["kind"] == "box":
            parts.append("b:" + ",".join(f"{v:.4g}" for v in (*xs[:2], *ys[:2])))
        else:
            keep = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), max_vertices)).round().astype(int))
            parts.append("l:" + ";".join(f"{xs[i]:.4g},{ys[i]:.4g}" for i in keep))
    return "_".join(parts)


def shapes_from_text(text: str) -> list[dict]:
    """The shapes :func:`shapes_to_text` wrote; ValueError (one sentence) for anything else."""
    shapes = []
    for part in filter(None, text.split("_")):
        kind, _, body = part.partition(":")
        try:
            if kind == "b":
                x0, x1, y0, y1 = (float(v) for v in body.split(","))
                shapes.append({"kind": "box", "x": [x0, x1], "y": [y0, y1]})
                continue
            if kind == "l":
                pairs = [tuple(float(v) for v in p.split(",")) for p in body.split(";")]
                if len(pairs) >= 3 and all(len(p) == 2 for p in pairs):
                    shapes.append({"kind": "lasso", "x": [p[0] for p in pairs],
                                   "y": [p[1] for p in pairs]})  # fmt: skip
                    continue
        except ValueError:
            pass
        raise ValueError(
            f"The selection {part[:40]!r} is neither a box (b:x0,x1,y0,y1) nor a lasso "
            "(l:x,y;x,y;x,y...)."
        )
    if not all(np.isfinite(v).all() for s in shapes for v in (s["x"], s["y"])):
        raise ValueError("The selection in the link has a coordinate that is not a finite number.")
    return shapes


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
    """The first ``n`` principal components as images side by side (red positive, blue
    negative, one scale for all: each component is a unit vector, so their weights
    compare). One heat map with a NaN column between two images, not ``n`` subplots (each
    subplot costs the browser its own axes and layout); hover gives the component, row,
    column and weight."""
    from mnist_core.figures.data import tile_row

    n = min(n, len(components))
    h, w = image_shape
    images = np.asarray(components[:n], dtype=float).reshape(n, h, w)
    limit = float(np.abs(images).max()) if images.size else 1.0
    x: list[str] = []
    for i in range(n):
        if i:
            x.append(" " * i)  # a gap column: unique and blank
        x += [f"PC{i + 1} · column {c}" for c in range(w)]
    fig = go.Figure(go.Heatmap(
        z=tile_row(images, n), x=x, y=[f"row {r}" for r in range(h)], colorscale="RdBu_r",
        zmin=-(limit or 1.0), zmax=limit or 1.0, showscale=False, hoverongaps=False,
        hovertemplate="%{x}, %{y}: weight %{z:.3f}<extra></extra>",
    ))  # fmt: skip
    for i in range(n):
        fig.add_annotation(text=f"PC{i + 1}", x=(i + 0.5) / n, y=1.0, xref="paper", yref="paper",
                           yanchor="bottom", showarrow=False, font=dict(size=13))  # fmt: skip
    fig.update_xaxes(visible=False, type="category")
    fig.update_yaxes(visible=False, autorange="reversed", type="category", scaleanchor="x")
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
