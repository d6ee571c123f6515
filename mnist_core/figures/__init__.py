"""Plotly figure builders: data in, ``go.Figure`` out. No computation beyond layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.data.stats import PixelStats

__all__ = [
    "class_balance_figure",
    "class_color",
    "confusion_figure",
    "mismatch_figure",
    "top_probabilities_figure",
    "components_figure",
    "embedding_scatter_figure",
    "grid_heatmap_figure",
    "importance_figure",
    "label_counts_figure",
    "scatter_selection_rows",
    "scree_figure",
    "tradeoff_figure",
    "training_curves_figure",
    "digit_grid_figure",
    "digit_pixels_figure",
    "mosaic",
    "pixel_stats_figure",
    "runs_overlay_figure",
]

SPLIT_COLORS = {"train": "#4C78A8", "test": "#F58518"}
# Dark ink on white paper reads better on a projector than white on black.
INK = "Greys"


def class_balance_figure(balance: pd.DataFrame) -> go.Figure:
    """Grouped bars of images per class, train beside test, each bar labelled
    ``count (share %)``. ``balance`` is the frame :func:`mnist_core.data.stats.class_balance` returns."""
    fig = go.Figure()
    for split, rows in balance.groupby("split", sort=False):
        fig.add_bar(
            name=split,
            x=rows["class"].astype(str),
            y=rows["count"],
            text=[f"{c:,}<br>{s:.1%}" for c, s in zip(rows["count"], rows["share"])],
            textposition="outside",
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
        uniformtext_minsize=8,
    )
    fig.update_yaxes(range=[0, balance["count"].max() * 1.2])
    return fig


def mosaic(images: np.ndarray, *, columns: int, gap: int = 1) -> np.ndarray:
    """Tile images (n, h, w) row by row into one float array, NaN in the gaps and empty cells."""
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return out


def digit_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    *,
    class_names: tuple[str, ...],
    columns: int = 10,
    selected: int | None = None,
    captions: list[str] | None = None,
    cell: int | None = None,
) -> go.Figure:
    """A grid of digits, each labelled with its class; clicking a digit selects it.

    Args:
        images: uint8 ndarray of shape (n, h, w), in grid order.
        labels: ndarray of shape (n,).
        indices: ndarray of shape (n,), each image's index in its split (shown on hover and
            shown on hover).
        class_names: names by label.
        columns: digits per row.
        selected: position (0..n-1) of a digit to outline.
        captions: text written on each digit instead of its class name (e.g. "7→1").
        cell: screen pixels per digit (default: fit 500 pixels).
    """
    n, h, w = images.shape
    gap = 1
    tiles = mosaic(images, columns=columns, gap=gap)
    pos = np.arange(n)
    col, row = pos % columns, pos // columns
    cx = col * (w + gap) + (w - 1) / 2
    cy = row * (h + gap) + (h - 1) / 2
    names = captions if captions is not None else [class_names[int(label)] for label in labels]
    fig = go.Figure(
        go.Heatmap(
            z=tiles, colorscale=INK, zmin=0, zmax=255, showscale=False,
            hoverinfo="skip", xgap=0, ygap=0,
        )  # fmt: skip
    )
    # Invisible markers over the cells carry hover text and make each digit clickable.
    fig.add_scatter(
        x=cx, y=cy, mode="markers",
        marker=dict(size=max(8, 300 // columns), color="rgba(0,0,0,0)", symbol="square"),
        customdata=np.stack([indices, labels], axis=1),
        hovertemplate="index %{customdata[0]}<br>label %{text}<extra></extra>",
        text=names,
        selected=dict(marker=dict(color="rgba(0,0,0,0)")),
        unselected=dict(marker=dict(opacity=1)),
        showlegend=False,
    )  # fmt: skip
    font_size = 12 if columns <= 10 else 10 if columns <= 16 else 8
    fig.add_scatter(
        x=col * (w + gap) - 0.5, y=row * (h + gap) - 0.5, mode="text",
        text=names, textposition="bottom right",
        textfont=dict(color="#C0392B", size=font_size), hoverinfo="skip", showlegend=False,
    )  # fmt: skip
    if selected is not None and 0 <= selected < n:
        x0, y0 = col[selected] * (w + gap) - 0.5, row[selected] * (h + gap) - 0.5
        fig.add_shape(
            type="rect", x0=x0, y0=y0, x1=x0 + w, y1=y0 + h,
            line=dict(color="#E67E22", width=3),
        )  # fmt: skip
    fig.update_xaxes(visible=False, range=[-0.5, tiles.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(
        visible=False, autorange="reversed", scaleanchor="x", constrain="domain"
    )
    rows = -(-n // columns)
    cell = cell or max(20, min(48, 500 // columns))  # screen pixels per digit
    fig.update_layout(
        plot_bgcolor="#DDE3EA",
        margin=dict(t=2, b=2, l=2, r=2),
        width=columns * cell + 4,
        height=rows * cell + 4,
        dragmode=False,
        clickmode="event+select",
    )
    return fig


def digit_pixels_figure(image: np.ndarray, *, title: str = "") -> go.Figure:
    """One digit enlarged as a heat map with each pixel's value written in it."""
    h, w = image.shape
    fig = go.Figure(
        go.Heatmap(
            z=image, text=image, texttemplate="%{text}", colorscale=INK, zmin=0, zmax=255,
            textfont=dict(size=8 if w > 16 else 14),
            hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
            showscale=False,
        )  # fmt: skip
    )
    fig.update_xaxes(side="top", dtick=max(1, w // 7), constrain="domain")
    fig.update_yaxes(autorange="reversed", scaleanchor="x", dtick=max(1, h // 7), constrain="domain")
    fig.update_layout(
        title=dict(text=title, x=0.01, y=0.99, font=dict(size=15)),
        width=600, height=640, margin=dict(t=64, b=6, l=30, r=6),
    )
    return fig


STAT_TITLES = {"mean": "mean", "median": "median", "std": "standard deviation"}


def pixel_stats_figure(
    stats: PixelStats,
    *,
    class_names: tuple[str, ...],
    statistics: tuple[str, ...] = ("mean", "median", "std"),
) -> go.Figure:
    """Grid of pixel-wise statistic images: one row per statistic, one column per class and
    a last column for all classes.

    Mean and median share one colour scale (grey levels, 0..255); the standard deviation,
    in the same unit but a smaller range, has its own scale shared along its row.
    """
    columns = list(class_names) + ["all"]
    fig = make_subplots(
        rows=len(statistics), cols=len(columns),
        column_titles=columns,
        row_titles=[STAT_TITLES[s] for s in statistics],
        horizontal_spacing=0.006, vertical_spacing=0.02,
    )  # fmt: skip
    std_max = float(np.nanmax(stats.std)) if np.isfinite(stats.std).any() else 1.0
    # Each row's scale is set on every trace (not through layout colour axes, which
    # Streamlit's plotly.js renders wrongly); the last trace of a row shows its bar.
    scales = {
        "grey level": dict(colorscale="Viridis", zmin=0, zmax=255),
        "sd": dict(colorscale="Plasma", zmin=0, zmax=std_max),
    }
    bar_rows = {}
    for r, statistic in enumerate(statistics, start=1):
        scale_name = "sd" if statistic == "std" else "grey level"
        for c in range(len(columns)):
            index = c if c < len(class_names) else -1
            show_bar = c == len(columns) - 1 and scale_name not in bar_rows.values()
            if show_bar:
                bar_rows[r] = scale_name
            fig.add_trace(
                go.Heatmap(
                    z=stats.image(statistic, index), **scales[scale_name],
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


# --------------------------------------------------------------------------- embeddings

# Ten well-separated colours (Tableau 10), then plotly's longer qualitative scale.
CLASS_COLORS = [
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
]  # fmt: skip


def class_color(label: int) -> str:
    import plotly.express as px

    palette = CLASS_COLORS if label < len(CLASS_COLORS) else px.colors.qualitative.Alphabet
    return palette[label % len(palette)]


def embedding_scatter_figure(
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
    maps back to rows with :func:`scatter_selection_rows`.
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


def scatter_selection_rows(points: list[dict], labels: np.ndarray) -> np.ndarray:
    """Rows (positions in the arrays given to :func:`embedding_scatter_figure`) of the
    selected points, from plotly's ``curve_number`` and ``point_index``; sorted, unique."""
    by_trace = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    rows = [
        by_trace[p["curve_number"]][p["point_index"]]
        for p in points
        if p.get("curve_number", -1) < len(by_trace)
        and 0 <= p.get("point_index", -1) < len(by_trace[p["curve_number"]])
    ]
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


# --------------------------------------------------------------------------- training


def training_curves_figure(events: list[dict]) -> go.Figure:
    """Loss and accuracy (train and validation) per epoch, the batch-level training loss
    between epochs, and the learning rate, from a run's events."""
    begin = next((e for e in events if e["type"] == "train_begin"), {})
    steps = begin.get("steps") or 1
    batches = [e for e in events if e["type"] == "batch" and e.get("loss") is not None]
    epochs = [e for e in events if e["type"] == "epoch"]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("loss", "accuracy", "learning rate"),
                        horizontal_spacing=0.07)  # fmt: skip
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
                    showlegend=False, row=1, col=3)  # fmt: skip
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(height=330, margin=dict(t=30, b=10, l=10, r=10),
                      legend=dict(orientation="h", y=-0.25))  # fmt: skip
    return fig


# --------------------------------------------------------------------------- evaluation


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
    errors (red). Invisible markers over the cells make each cell clickable: a selected
    point's ``customdata`` is ``[true, predicted]``."""
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
            textfont=dict(size=11 if k <= 10 else 8),
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
    fig.update_xaxes(title_text="predicted", side="top", type="category", showgrid=False)
    fig.update_yaxes(title_text="true", autorange="reversed", type="category", showgrid=False)
    fig.update_layout(
        height=80 + 48 * k, width=110 + 60 * k, margin=dict(t=60, b=10, l=10, r=10),
        plot_bgcolor="white", clickmode="event+select", dragmode=False,
        title=dict(text=f"percent {normalization_label}" if normalized is not None else "counts",
                   font=dict(size=12), x=0.5, y=0.02),
    )  # fmt: skip
    return fig


def mismatch_figure(matrix: np.ndarray, *, class_names: tuple[str, ...]) -> go.Figure:
    """Errors only: one bubble per (true, predicted) pair, sized by its count."""
    k = len(matrix)
    ii, jj = np.nonzero((matrix > 0) & ~np.eye(k, dtype=bool))
    counts = matrix[ii, jj]
    size = 8 + 40 * np.sqrt(counts / max(counts.max(initial=1), 1))
    names = [str(n) for n in class_names[:k]]
    fig = go.Figure(go.Scatter(
        x=[names[j] for j in jj], y=[names[i] for i in ii], mode="markers+text",
        marker=dict(size=size, color="#E15759", opacity=0.7, line=dict(width=0)),
        text=[f"{c:,}" for c in counts], textposition="middle center",
        textfont=dict(size=9, color="white"),
        hovertemplate="true %{y} predicted as %{x}: %{text}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title_text="predicted", type="category", categoryorder="array",
                     categoryarray=names)  # fmt: skip
    fig.update_yaxes(title_text="true", type="category", categoryorder="array",
                     categoryarray=names[::-1])  # fmt: skip
    fig.update_layout(height=420, margin=dict(t=10, b=10, l=10, r=10), plot_bgcolor="#FAFAFA")
    return fig


def top_probabilities_figure(probabilities: np.ndarray, *, class_names: tuple[str, ...],
                             top: int = 3) -> go.Figure:
    """The ``top`` most probable classes of one example, as horizontal bars."""
    order = np.argsort(probabilities)[::-1][:top]
    fig = go.Figure(go.Bar(
        x=probabilities[order], y=[str(class_names[i]) for i in order], orientation="h",
        text=[f"{p:.1%}" for p in probabilities[order]], textposition="outside",
        marker_color=[class_color(int(i)) for i in order],
    ))  # fmt: skip
    fig.update_layout(height=60 + 30 * top, margin=dict(t=5, b=5, l=5, r=40),
                      xaxis=dict(range=[0, 1.15], tickformat=".0%"),
                      yaxis=dict(type="category", autorange="reversed"))  # fmt: skip
    return fig


# --------------------------------------------------------------------------- comparing runs


def runs_overlay_figure(history: pd.DataFrame, *, smoothing: float = 0.0) -> go.Figure:
    """Loss and accuracy per epoch of several runs, train solid and validation dashed; with
    ``smoothing`` > 0 the raw curves stay faintly behind the smoothed ones.

    ``history`` is :func:`mnist_core.runs.store.history_frame`'s long table.
    """
    from mnist_core.runs.store import smooth

    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"), horizontal_spacing=0.08)
    run_ids = list(dict.fromkeys(history["run"]))
    for number, run_id in enumerate(run_ids):
        color = class_color(number)
        for col, metric in ((1, "loss"), (2, "accuracy")):
            for split, dash in (("train", "solid"), ("validation", "dash")):
                part = history[(history["run"] == run_id) & (history["metric"] == metric)
                               & (history["split"] == split)].sort_values("epoch")  # fmt: skip
                if part.empty:
                    continue
                name = f"{run_id} {split}"
                if smoothing > 0:
                    fig.add_scatter(x=part["epoch"], y=part["value"], mode="lines", opacity=0.25,
                                    line=dict(color=color, dash=dash, width=1), showlegend=False,
                                    hoverinfo="skip", row=1, col=col)  # fmt: skip
                fig.add_scatter(
                    x=part["epoch"], y=smooth(part["value"].tolist(), smoothing), mode="lines+markers",
                    line=dict(color=color, dash=dash), marker=dict(size=4), name=name,
                    legendgroup=name, showlegend=col == 1, row=1, col=col,
                    hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
                )  # fmt: skip
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=380, margin=dict(t=30, b=10, l=10, r=10),
                      legend=dict(orientation="h", y=-0.25))  # fmt: skip
    return fig


def tradeoff_figure(table: pd.DataFrame) -> go.Figure:
    """Test accuracy against training time, one point per run (``run``, ``model``,
    ``seconds``, ``test accuracy`` columns; accuracy in percent)."""
    data = table.dropna(subset=["seconds", "test accuracy"])
    fig = go.Figure(go.Scatter(
        x=data["seconds"], y=data["test accuracy"], mode="markers+text", text=data["model"],
        textposition="top center", textfont=dict(size=10), marker=dict(size=10, color="#4E79A7"),
        customdata=data[["run"]], hovertemplate="%{text} (%{customdata[0]})<br>%{x:.1f} s, "
        "%{y:.2f} %<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(height=380, margin=dict(t=10, b=10, l=10, r=10),
                      xaxis_title="training time (s, log)", yaxis_title="test accuracy (%)")  # fmt: skip
    fig.update_xaxes(type="log")
    return fig


def grid_heatmap_figure(cells: pd.DataFrame) -> go.Figure:
    """Best validation loss per (units, hidden layers) cell of a capacity grid."""
    pivot = cells.pivot_table(index="hidden layers", columns="units", values="best val_loss")
    fig = go.Figure(go.Heatmap(
        z=pivot.to_numpy(), x=[str(c) for c in pivot.columns], y=[str(i) for i in pivot.index],
        colorscale="Viridis_r", texttemplate="%{z:.4f}", colorbar=dict(title="val loss"),
        hovertemplate="%{x} units × %{y} layers: %{z:.4f}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title_text="units per hidden layer", type="category")
    fig.update_yaxes(title_text="hidden layers", type="category")
    fig.update_layout(height=300, margin=dict(t=10, b=10, l=10, r=10))
    return fig


def importance_figure(importances: np.ndarray) -> go.Figure:
    """A random forest's feature importances as an image of the pixels."""
    fig = go.Figure(go.Heatmap(z=importances, colorscale="Viridis", colorbar=dict(title="importance"),
                               hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"))  # fmt: skip
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    fig.update_layout(height=360, width=420, margin=dict(t=10, b=10, l=10, r=10))
    return fig
