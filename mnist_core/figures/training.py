"""One run's training as it happens: loss, accuracy and learning rate per epoch."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.style import SPLIT_COLORS


def curves_figure(events: list[dict]) -> go.Figure:
    """Loss and accuracy (train and validation) per epoch, the batch-level training loss
    between epochs, and the learning rate, from a run's events (dicts with ``type``
    ``train_begin`` | ``batch`` | ``epoch`` and their metrics)."""
    begin = next((e for e in events if e["type"] == "train_begin"), {})
    steps = begin.get("steps") or 1
    batches = [e for e in events if e["type"] == "batch" and e.get("loss") is not None]
    epochs = [e for e in events if e["type"] == "epoch"]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("loss", "accuracy", "learning rate"),
                        horizontal_spacing=0.08)  # fmt: skip
    x_batch = [e["epoch"] - 1 + e["batch"] / steps for e in batches]
    colors = {"train": SPLIT_COLORS["train"], "validation": SPLIT_COLORS["test"]}
    for col, metric in ((1, "loss"), (2, "accuracy")):
        fig.add_scatter(
            x=x_batch, y=[e.get(metric) for e in batches], mode="lines", name=f"train {metric} (batches)",
            line=dict(color=colors["train"], width=1), opacity=0.35, showlegend=col == 1,
            legendgroup="batches", row=1, col=col,
        )  # fmt: skip
        for label, key in (("train", metric), ("validation", f"val_{metric}")):
            values = [e.get(key) for e in epochs]
            if any(v is not None for v in values):
                fig.add_scatter(
                    x=[e["epoch"] for e in epochs], y=values, mode="lines+markers",
                    name=label, legendgroup=label, showlegend=col == 1,
                    line=dict(color=colors[label]), row=1, col=col,
                )  # fmt: skip
    fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e.get("lr") for e in epochs],
                    mode="lines+markers", name="learning rate", line=dict(color="#59A14F"),
                    showlegend=False, hovertemplate="epoch %{x}: %{y:.3~g}<extra></extra>",
                    row=1, col=3)  # fmt: skip
    fig.update_xaxes(title_text="epoch", rangemode="tozero", automargin=True)
    # Full numbers on every axis: "0.5", never ".5"; "0.05" on the log axis, never "5".
    fig.update_yaxes(tickformat="~g", automargin=True)
    fig.update_yaxes(tickformat=".1~%", row=1, col=2)
    fig.update_yaxes(type="log", tickformat="~g", row=1, col=3)
    fig.update_layout(height=340, margin=dict(t=30, b=10, l=50, r=10),
                      legend=dict(orientation="h", y=-0.25))  # fmt: skip
    return fig
