"""The Data page's summaries: images per class, and pixel-wise statistics per class."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.style import SPLIT_COLORS

STAT_TITLES = {"mean": "mean", "median": "median", "std": "standard deviation"}


def class_balance_figure(balance: pd.DataFrame) -> go.Figure:
    """Grouped bars of images per class, train beside test, each bar labelled
    ``count (share %)``. ``balance`` has columns ``split``, ``class``, ``count``, ``share``
    (as :func:`mnist_core.data.stats.class_balance` returns)."""
    fig = go.Figure()
    for split, rows in balance.groupby("split", sort=False):
        fig.add_bar(
            name=split,
            x=rows["class"].astype(str),
            y=rows["count"],
            text=[f"{c:,}<br>{s:.1%}" for c, s in zip(rows["count"], rows["share"])],
            textposition="outside",
            # Never shrunk to the bar's width (plotly would go below 11 px at 1,280 px).
            constraintext="none", textfont=dict(size=11), cliponaxis=False,
            marker_color=SPLIT_COLORS.get(split),
            hovertemplate="class %{x}<br>%{y:,} images<br>%{customdata:.2%} of " + split
            + "<extra></extra>",
            customdata=rows["share"],
        )
    fig.update_layout(
        barmode="group",
        xaxis_title="class",
        yaxis_title="images",
        xaxis_type="category",
        legend_title_text="split",
        margin=dict(t=30, b=10, l=10, r=10),
        height=380,
        uniformtext_minsize=11,
    )
    fig.update_yaxes(range=[0, balance["count"].max() * 1.2])
    return fig


def pixel_stats_figure(
    stats: Any,
    *,
    class_names: tuple[str, ...],
    statistics: tuple[str, ...] = ("mean", "median", "std"),
) -> go.Figure:
    """Grid of pixel-wise statistic images: one row per statistic, one column per class and
    a last column for all classes.

    ``stats`` has the arrays ``mean``, ``median`` and ``std``, each of shape
    (n_classes + 1, h, w), the last image over all classes (a
    :class:`mnist_core.data.stats.PixelStats`, or anything with those attributes).
    Mean and median share one colour scale (grey levels, 0..255); the standard deviation,
    in the same unit but a smaller range, has its own scale shared along its row.
    """
    unknown = [s for s in statistics if s not in STAT_TITLES]
    if unknown:
        raise ValueError(f"Unknown statistic {unknown[0]!r}; pass some of {', '.join(STAT_TITLES)}.")
    columns = list(class_names) + ["all"]
    fig = make_subplots(
        rows=len(statistics), cols=len(columns),
        column_titles=columns,
        row_titles=[STAT_TITLES[s] for s in statistics],
        horizontal_spacing=0.006, vertical_spacing=0.02,
    )  # fmt: skip
    std = np.asarray(stats.std)
    std_max = float(np.nanmax(std)) if np.isfinite(std).any() else 1.0
    # Each row's scale is set on every trace (not through layout colour axes, which
    # Streamlit's plotly.js renders wrongly); the last trace of a row shows its bar.
    scales = {
        "grey level": dict(colorscale="Viridis", zmin=0, zmax=255),
        "sd": dict(colorscale="Plasma", zmin=0, zmax=std_max),
    }
    bar_rows = {}
    for r, statistic in enumerate(statistics, start=1):
        scale_name = "sd" if statistic == "std" else "grey level"
        images = np.asarray(getattr(stats, statistic))
        for c in range(len(columns)):
            index = c if c < len(class_names) else -1
            show_bar = c == len(columns) - 1 and scale_name not in bar_rows.values()
            if show_bar:
                bar_rows[r] = scale_name
            fig.add_trace(
                go.Heatmap(
                    z=images[index], **scales[scale_name],
                    showscale=show_bar,
                    colorbar=dict(
                        title=scale_name, thickness=12, len=0.9 / len(statistics),
                        y=1 - (r - 0.5) / len(statistics),
                    ),
                    hovertemplate=f"{STAT_TITLES[statistic]} of {columns[c]}"
                    "<br>row %{y}, column %{x}: %{z:.1f}<extra></extra>",
                ),
                row=r, col=c + 1,
            )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    for i in range(1, len(statistics) * len(columns) + 1):
        fig.update_yaxes(scaleanchor=f"x{i if i > 1 else ''}", row=(i - 1) // len(columns) + 1,
                         col=(i - 1) % len(columns) + 1)  # fmt: skip
    fig.update_layout(height=110 * len(statistics) + 80, margin=dict(t=40, b=10, l=10, r=10))
    return fig
