"""The Data page's summaries: images per class, and pixel-wise statistics per class."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.raster import cell_picture, colorscale_rgb, compact_png_uri
from mnist_core.figures.style import SPLIT_COLORS

STAT_TITLES = {"mean": "mean", "median": "median", "std": "standard deviation"}
# Image pixels per statistic pixel in the pictures: the browser enlarges a picture smoothly,
# so each pixel is a block already (~3.6 screen pixels a cell at 1,280 px: sharp edges).
STAT_CELL = 8


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

    Each row is ONE heat map of its images side by side (gaps of one NaN column), not one
    per image: 33 heat maps in 33 subplots cost the browser ~0.6 s of CPU per visit, three
    cost about nothing more than one. The heat maps are invisible (``opacity=0``): what
    shows is one picture per row under them (``layout.images``, the values mapped through
    the same colour scale, :data:`STAT_CELL` image pixels a pixel), which the browser
    draws cheaper than plotly colours the cells. Hovering any pixel still gives its value,
    its class, row and column: the x and y coordinates are category names
    (``"3 · column 7"``); the colour bars are the heat maps'.
    """
    unknown = [s for s in statistics if s not in STAT_TITLES]
    if unknown:
        raise ValueError(f"Unknown statistic {unknown[0]!r}; pass some of {', '.join(STAT_TITLES)}.")
    columns = list(class_names) + ["all"]
    std = np.asarray(stats.std)
    std_max = float(np.nanmax(std)) if np.isfinite(std).any() else 1.0
    scales = {
        "grey level": dict(colorscale="Viridis", zmin=0, zmax=255),
        "sd": dict(colorscale="Plasma", zmin=0, zmax=std_max),
    }
    h, w = std.shape[1:]
    x = _tile_categories(columns, w)
    y = [f"row {r}" for r in range(h)]
    fig = make_subplots(rows=len(statistics), cols=1, row_titles=[STAT_TITLES[s] for s in statistics],
                        vertical_spacing=0.02)  # fmt: skip
    bars: set[str] = set()
    for r, statistic in enumerate(statistics, start=1):
        scale_name = "sd" if statistic == "std" else "grey level"
        show_bar = scale_name not in bars
        bars.add(scale_name)
        z = tile_row(np.asarray(getattr(stats, statistic)), len(columns))
        fig.add_layout_image(
            source=compact_png_uri(cell_picture(colorscale_rgb(z, **scales[scale_name]), cell=STAT_CELL)),
            xref=f"x{r if r > 1 else ''} domain", yref=f"y{r if r > 1 else ''} domain", x=0, y=1,
            sizex=1, sizey=1, xanchor="left", yanchor="top", sizing="stretch", layer="below",
        )  # fmt: skip
        fig.add_trace(
            go.Heatmap(
                z=z, x=x, y=y, opacity=0,
                **scales[scale_name], showscale=show_bar, hoverongaps=False,
                colorbar=dict(title=scale_name, thickness=12, len=0.9 / len(statistics),
                              y=1 - (r - 0.5) / len(statistics)),
                hovertemplate=f"{STAT_TITLES[statistic]} of %{{x}}, %{{y}}: %{{z:.1f}}<extra></extra>",
            ),
            row=r, col=1,
        )  # fmt: skip
        fig.update_yaxes(scaleanchor=f"x{r if r > 1 else ''}", row=r, col=1)
    fig.update_xaxes(visible=False, type="category")
    fig.update_yaxes(visible=False, autorange="reversed", type="category")
    # Class names above the first row, centred on their images.
    for c, name in enumerate(columns):
        fig.add_annotation(text=name, x=(c + 0.5) / len(columns), y=1.0, xref="paper", yref="paper",
                           yanchor="bottom", showarrow=False, font=dict(size=14))  # fmt: skip
    fig.update_layout(height=110 * len(statistics) + 80, margin=dict(t=40, b=10, l=10, r=10))
    return fig


def _tile_categories(columns: list[str], w: int) -> list[str]:
    """The x categories of :func:`tile_row`: ``"<class> · column <c>"``, and a unique
    name for each one-column gap."""
    if len(set(columns)) < len(columns):  # two classes named alike: tell them apart
        columns = [f"{name} (#{i})" for i, name in enumerate(columns)]
    x: list[str] = []
    for i, name in enumerate(columns):
        if i:
            x.append(" " * i)  # a gap: unique, blank (never hovered: NaN)
        x += [f"{name} · column {c}" for c in range(w)]
    return x


def tile_row(images: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` images (n, h, w) side by side, a NaN column between two."""
    images = np.asarray(images, dtype=float)[:n]
    h = images.shape[1]
    parts = []
    for i, image in enumerate(images):
        if i:
            parts.append(np.full((h, 1), np.nan))
        parts.append(image)
    return np.concatenate(parts, axis=1)
