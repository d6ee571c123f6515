"""Runs side by side: curves overlaid, accuracy against training time,
and a random forest's pixel importances.

Each run is named by its ``label`` column (a run's name and what sets it apart, written by
the caller); without one, by its ``run`` id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.style import MIN_FONT, class_color


def _labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's run label: the ``label`` column, else the run id."""
    return frame["label"].astype(str) if "label" in frame else frame["run"].astype(str)


def overlay_figure(history: pd.DataFrame) -> go.Figure:
    """Loss and accuracy per epoch of several runs, train solid and validation dashed.

    ``history`` is a long table with columns ``run``, ``epoch``, ``metric`` (loss |
    accuracy), ``split`` (train | validation), ``value``, optionally ``label`` and
    ``smoothed``: when given, the smoothed curve is drawn and the raw one stays faintly
    behind it (the caller smooths; this module computes nothing).
    """
    history = history.assign(label=_labels(history))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"), horizontal_spacing=0.1)
    run_ids = list(dict.fromkeys(history["run"]))
    smoothed = "smoothed" in history
    for number, run_id in enumerate(run_ids):
        color = class_color(number)
        for col, metric in ((1, "loss"), (2, "accuracy")):
            for split, dash in (("train", "solid"), ("validation", "dash")):
                part = history[(history["run"] == run_id) & (history["metric"] == metric)
                               & (history["split"] == split)].sort_values("epoch")  # fmt: skip
                if part.empty:
                    continue
                name = f"{part['label'].iloc[0]} · {split}"
                if smoothed:
                    fig.add_scatter(x=part["epoch"], y=part["value"], mode="lines", opacity=0.25,
                                    line=dict(color=color, dash=dash, width=1), showlegend=False,
                                    hoverinfo="skip", row=1, col=col)  # fmt: skip
                fig.add_scatter(
                    x=part["epoch"], y=part["smoothed" if smoothed else "value"],
                    mode="lines+markers", line=dict(color=color, dash=dash), marker=dict(size=4),
                    name=name, legendgroup=name, showlegend=col == 1, row=1, col=col,
                    hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
                )  # fmt: skip
    fig.update_xaxes(title_text="epoch", automargin=True)
    fig.update_yaxes(tickformat="~g", automargin=True)
    fig.update_yaxes(tickformat=".1~%", row=1, col=2)
    fig.update_layout(height=400, margin=dict(t=30, b=10, l=50, r=10),
                      legend=dict(orientation="h", y=-0.2, yanchor="top"))  # fmt: skip
    return fig


def tradeoff_figure(table: pd.DataFrame) -> go.Figure:
    """Test accuracy against training time, one point (and legend entry) per run.

    ``table`` has columns ``run``, ``seconds``, ``test accuracy`` (percent) and optionally
    ``label``. Runs are named in the legend and on hover, never written beside the points,
    where names overlap and are clipped at the edges.
    """
    data = table.dropna(subset=["seconds", "test accuracy"])
    labels = _labels(data)
    fig = go.Figure()
    for number, (run_id, label, seconds, accuracy) in enumerate(
        zip(data["run"], labels, data["seconds"], data["test accuracy"])
    ):
        fig.add_scatter(
            x=[seconds], y=[accuracy], mode="markers", name=label,
            marker=dict(size=12, color=class_color(number), line=dict(width=1, color="white")),
            customdata=[[run_id]], cliponaxis=False,
            hovertemplate=f"{label} (%{{customdata[0]}})<br>%{{x:.1f}} s, %{{y:.2f}} %<extra></extra>",
        )  # fmt: skip
    fig.update_xaxes(type="log", title_text="training time (log scale)", tickformat="~g",
                     ticksuffix=" s", automargin=True)  # fmt: skip
    fig.update_yaxes(title_text="test accuracy", tickformat="~g", ticksuffix=" %", automargin=True)
    fig.update_layout(height=420, margin=dict(t=20, b=10, l=10, r=10), font=dict(size=MIN_FONT),
                      legend=dict(orientation="h", y=-0.2, yanchor="top", title="run"))  # fmt: skip
    return fig


def importance_figure(importances: np.ndarray) -> go.Figure:
    """A random forest's feature importances, shape (h, w), as an image of the pixels."""
    fig = go.Figure(go.Heatmap(z=importances, colorscale="Viridis", colorbar=dict(title="importance"),
                               hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"))  # fmt: skip
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    fig.update_layout(height=360, width=420, margin=dict(t=10, b=10, l=10, r=10))
    return fig
