"""The model's map of the data drawn: a 2-D map of the test set (in raw pixels or in a
model's last hidden layer), coloured by true label, the model's mistakes marked with their
own symbol; :func:`selected_rows`, which reads a box or lasso selection on it; and the
captions of the selection's gallery."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from mnist_core.figures.selection import customdata_of, selected_points
from mnist_core.figures.style import MIN_FONT, class_color

MISTAKE_SYMBOL = "x"
MISTAKES_NAME = "✕ mistakes"


def map_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None,
    *,
    class_names: tuple[str, ...],
    title: str = "",
    selected: np.ndarray | None = None,
    outlines: list[dict] | tuple = (),
    marker_size: float = 4,
    height: int = 520,
) -> go.Figure:
    """Every test digit at its place in a 2-D map, with WebGL: one trace per class for the
    digits the model got right (circles), then one trace of its mistakes (``✕``, in the
    colour of their true label, drawn on top). Each point's ``customdata`` is
    ``[row, predicted]``, ``row`` being its position in ``coords`` (its test index); a
    selection maps back to rows with :func:`selected_rows`.

    Args:
        coords: float ndarray of shape (n, 2).
        labels: int ndarray of shape (n,), true labels.
        predicted: int ndarray of shape (n,), the model's predictions; None: no mistakes
            marked (all circles).
        selected: rows to show as selected (the others dimmed), e.g. a selection made on
            the other map; None: no selection.
        outlines: box and lasso outlines (``{"kind": "box" | "lasso", "x": [...], "y":
            [...]}``) drawn as dashed lines.
    """
    coords = np.asarray(coords)
    labels = np.asarray(labels)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(labels):
        raise ValueError(f"coords must be (n, 2) for n labels; got coords of shape "
                         f"{coords.shape} and {len(labels)} labels.")  # fmt: skip
    if predicted is not None and len(predicted) != len(labels):
        raise ValueError(f"labels and predicted differ in length: {len(labels)}, "
                         f"{len(predicted)}.")  # fmt: skip
    wrong = np.zeros(len(labels), bool) if predicted is None else predicted != labels
    shown_pred = labels if predicted is None else np.asarray(predicted)
    chosen = None
    if selected is not None:
        chosen = np.zeros(len(labels), bool)
        chosen[np.asarray(selected, dtype=np.int64)] = True
    rows = np.arange(len(labels))
    names = np.asarray([str(n) for n in class_names], dtype=object)
    fig = go.Figure()

    def add(mask, name, marker, about):
        # Per-point hover text only for the mistakes: 10,000 strings would double the JSON.
        fig.add_trace(go.Scattergl(
            x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=name, marker=marker,
            customdata=np.stack([rows[mask], shown_pred[mask]], axis=1),
            text=about, hovertemplate="test #%{customdata[0]}: %{text}<extra></extra>",
            selectedpoints=None if chosen is None else np.flatnonzero(chosen[mask]),
            unselected={"marker": {"opacity": 0.1}},
        ))  # fmt: skip

    for label in np.unique(labels):
        mask = (labels == label) & ~wrong
        verdict = "" if predicted is None else ", predicted right"
        add(mask, names[int(label)], {"size": marker_size, "opacity": 0.6,
                                          "color": class_color(int(label))},
            f"true {names[int(label)]}{verdict}")  # fmt: skip
    if wrong.any():
        colours = [class_color(int(t)) for t in labels[wrong]]
        add(wrong, f"{MISTAKES_NAME} ({int(wrong.sum()):,})",
            {"size": marker_size + 5, "symbol": MISTAKE_SYMBOL, "color": colours, "opacity": 0.95,
                 "line": {"color": "#222", "width": 0.8}},
            [f"true {names[t]}, predicted {names[p]}" for t, p in
             zip(labels[wrong], shown_pred[wrong])])  # fmt: skip
    for outline in outlines:
        xs, ys = list(outline["x"]), list(outline["y"])
        if outline.get("kind") == "box":
            fig.add_shape(type="rect", x0=xs[0], x1=xs[1], y0=ys[0], y1=ys[1],
                          line={"color": "#333", "width": 1.5, "dash": "dash"})  # fmt: skip
        elif len(xs) > 2:
            path = "M" + "L".join(f"{a:.6g},{b:.6g}" for a, b in zip(xs, ys)) + "Z"
            fig.add_shape(type="path", path=path, line={"color": "#333", "width": 1.5, "dash": "dash"})
    fig.update_layout(
        title={"text": title, "font": {"size": 15}, "x": 0.01, "y": 0.98, "yanchor": "top"},
        height=height, margin={"t": 40 if title else 10, "b": 10, "l": 10, "r": 10},
        font={"size": MIN_FONT + 1},
        legend={"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top", "itemsizing": "constant",
                    "font": {"size": MIN_FONT + 1}},
        dragmode="lasso",  # the toolbar offers the box
        plot_bgcolor="white",
        uirevision="model-map",  # keeps zoom and hidden classes when redrawn
    )
    fig.update_xaxes(showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(showgrid=False, zeroline=False, showticklabels=False)
    return fig


def selected_rows(selection_state: Any, n: int) -> np.ndarray:
    """Rows (test indices, 0..n-1) of the points selected in a :func:`map_figure`;
    sorted, unique. Points without a row in range are ignored."""
    rows = []
    for point in selected_points(selection_state):
        custom = customdata_of(point)
        if not custom:
            continue
        try:
            row = int(custom[0])
        except (TypeError, ValueError):
            continue
        if 0 <= row < n:
            rows.append(row)
    return np.unique(np.asarray(rows, dtype=np.int64))


def gallery_captions(labels: np.ndarray, predicted: np.ndarray | None,
                     class_names: tuple[str, ...]) -> list[str]:  # fmt: skip
    """A caption over each digit of a gallery: its true label, or ``true→predicted ✕`` for
    a mistake."""
    if predicted is None:
        return [str(class_names[int(t)]) for t in labels]
    return [str(class_names[int(t)]) if t == p else
            f"{class_names[int(t)]}→{class_names[int(p)]} ✕" for t, p in zip(labels, predicted)]


def quality_caption(quality: dict) -> str:
    """The cluster quality of a map in one line (see
    :func:`mnist_core.embeddings.cluster_quality`)."""
    parts = [f"k-NN accuracy in the map {quality['knn_accuracy']:.1%}"]
    if quality.get("silhouette") is not None:
        parts.append(f"silhouette {quality['silhouette']:.2f}")
    parts.append(f"neighbour purity (k={quality['k']}) {quality['purity_mean']:.1%}")
    return " · ".join(parts)
