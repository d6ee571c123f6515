"""How a model does on the test set, drawn: the confusion matrix (with
:func:`clicked_cell`, which reads a click on it), the mismatches, one digit's top classes."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from mnist_core.figures.selection import customdata_of, selected_points
from mnist_core.figures.style import MIN_FONT, class_color

# The confusion matrix's traces, in order: diagonal, off-diagonal, the clickable cells.
_CELLS_TRACE = 2


def confusion_figure(
    matrix: np.ndarray,
    *,
    class_names: tuple[str, ...],
    normalized: np.ndarray | None = None,
    normalization_label: str = "of true class",
    selected: tuple[int, int] | None = None,
) -> go.Figure:
    """Confusion matrix heat map, rows true and columns predicted. Each cell shows its count
    and, when ``normalized`` is given, its share; the diagonal (green) reads apart from the
    errors (red). Invisible markers over the cells make each cell clickable; read the click
    with :func:`clicked_cell`."""
    k = len(matrix)
    names = [str(n) for n in class_names[:k]]
    diagonal = np.eye(k, dtype=bool)
    shade = normalized if normalized is not None else matrix / max(matrix.max(), 1)
    texts = [
        [f"{matrix[i, j]:,}" + (f"<br>{normalized[i, j]:.1%}" if normalized is not None else "")
         for j in range(k)] for i in range(k)
    ]  # fmt: skip
    fig = go.Figure()
    for mask, scale in ((diagonal, "Greens"), (~diagonal, "Reds")):
        z = np.where(mask, shade, np.nan)
        upper = np.nanmax(z) if np.isfinite(z).any() else 1
        fig.add_heatmap(
            z=z, x=names, y=names, text=texts, texttemplate="%{text}", colorscale=scale,
            # zmax above the largest value keeps the darkest cell light enough to read.
            zmin=0, zmax=1.6 * (upper or 1), showscale=False, hoverinfo="skip", xgap=1, ygap=1,
            textfont=dict(size=MIN_FONT if k <= 10 else 9),
        )  # fmt: skip
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    fig.add_scatter(
        x=[names[j] for j in jj.ravel()], y=[names[i] for i in ii.ravel()], mode="markers",
        marker=dict(size=36 if k <= 10 else 18, color="rgba(0,0,0,0)", symbol="square"),
        customdata=np.stack([ii.ravel(), jj.ravel(), matrix.ravel()], axis=1),
        hovertemplate="true %{y}, predicted %{x}: %{customdata[2]:,} digits<extra></extra>",
        selected=dict(marker=dict(color="rgba(0,0,0,0)")),
        unselected=dict(marker=dict(opacity=1)), showlegend=False,
    )  # fmt: skip
    if selected is not None:
        i, j = selected
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                      line=dict(color="#1F3A93", width=3))  # fmt: skip
    # automargin makes room for the tick labels and axis titles, however long the names.
    fig.update_xaxes(title_text="predicted", side="top", type="category", showgrid=False,
                     automargin=True, tickfont=dict(size=MIN_FONT))  # fmt: skip
    fig.update_yaxes(title_text="true", autorange="reversed", type="category", showgrid=False,
                     automargin=True, tickfont=dict(size=MIN_FONT))  # fmt: skip
    longest = max((len(n) for n in names), default=1)
    fig.update_layout(
        height=110 + 48 * k, width=140 + 7 * longest + 60 * k,
        margin=dict(t=70, b=40, l=30, r=10),
        plot_bgcolor="white", clickmode="event+select", dragmode=False,
        title=dict(text=f"percent {normalization_label}" if normalized is not None else "counts",
                   font=dict(size=MIN_FONT + 1), x=0.5, y=0.01, yanchor="bottom"),
    )  # fmt: skip
    return fig


def clicked_cell(selection_state: Any) -> tuple[int, int] | None:
    """``(true, predicted)`` of the cell clicked in a :func:`confusion_figure`, or None.

    ``selection_state`` is what Streamlit returns for the chart (or keeps under its key)."""
    for point in selected_points(selection_state):
        custom = customdata_of(point)
        if point.get("curve_number") == _CELLS_TRACE and custom is not None and len(custom) >= 2:
            return int(custom[0]), int(custom[1])
    return None


def mismatch_figure(matrix: np.ndarray, *, class_names: tuple[str, ...]) -> go.Figure:
    """Errors only: one bubble per (true, predicted) pair, sized by its count."""
    k = len(matrix)
    ii, jj = np.nonzero((matrix > 0) & ~np.eye(k, dtype=bool))
    counts = matrix[ii, jj]
    size = 12 + 40 * np.sqrt(counts / max(counts.max(initial=1), 1))
    names = [str(n) for n in class_names[:k]]
    fig = go.Figure(go.Scatter(
        x=[names[j] for j in jj], y=[names[i] for i in ii], mode="markers+text",
        marker=dict(size=size, color="#E15759", opacity=0.7, line=dict(width=0)),
        text=[f"{c:,}" for c in counts], textposition="middle center",
        textfont=dict(size=MIN_FONT - 1, color="black"),
        hovertemplate="true %{y} predicted as %{x}: %{text}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title_text="predicted", type="category", categoryorder="array",
                     categoryarray=names, automargin=True)  # fmt: skip
    fig.update_yaxes(title_text="true", type="category", categoryorder="array",
                     categoryarray=names[::-1], automargin=True)  # fmt: skip
    fig.update_layout(height=440, margin=dict(t=10, b=10, l=10, r=10), plot_bgcolor="#FAFAFA")
    return fig


def top_probabilities_figure(probabilities: np.ndarray, *, class_names: tuple[str, ...],
                             top: int = 3) -> go.Figure:
    """The ``top`` most probable classes of one example, as horizontal bars."""
    order = np.argsort(probabilities)[::-1][:top]
    fig = go.Figure(go.Bar(
        x=probabilities[order], y=[str(class_names[i]) for i in order], orientation="h",
        text=[f"{p:.1%}" for p in probabilities[order]], textposition="outside",
        marker_color=[class_color(int(i)) for i in order], cliponaxis=False,
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(height=70 + 34 * top, margin=dict(t=5, b=5, l=5, r=50),
                      xaxis=dict(range=[0, 1.2], tickformat=".0%"),
                      yaxis=dict(type="category", autorange="reversed", automargin=True),
                      font=dict(size=MIN_FONT))  # fmt: skip
    return fig
