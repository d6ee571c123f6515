"""Inside a model: class probabilities, a layer's feature maps or units, an occlusion
saliency map over its digit, the first layer's weights as images."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.digits import mosaic
from mnist_core.figures.style import INK, MIN_FONT

# Signed values (weights, saliency): red for positive, blue for negative, white at 0.
DIVERGING = "RdBu_r"
TOP_COLOR = "#E15759"
OTHER_COLOR = "#9DB4CF"


def probabilities_figure(probabilities: np.ndarray, *, class_names: tuple[str, ...],
                         height: int = 240) -> go.Figure:  # fmt: skip
    """Every class's probability as a bar, the most probable one coloured.

    Args:
        probabilities: ndarray of shape (n_classes,), summing to 1.
        class_names: names by class.
        height: screen pixels.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if len(probabilities) != len(class_names):
        raise ValueError(f"probabilities has {len(probabilities)} values but class_names "
                         f"{len(class_names)}.")  # fmt: skip
    top = int(np.argmax(probabilities)) if len(probabilities) else -1
    fig = go.Figure(go.Bar(
        x=[str(n) for n in class_names], y=probabilities,
        text=[f"{p:.0%}" if p >= 0.005 else "" for p in probabilities], textposition="outside",
        marker_color=[TOP_COLOR if i == top else OTHER_COLOR for i in range(len(probabilities))],
        cliponaxis=False, textfont=dict(size=MIN_FONT),
        hovertemplate="class %{x}: %{y:.2%}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(height=height, margin=dict(t=24, b=10, l=10, r=10),
                      xaxis=dict(type="category", title=None, tickfont=dict(size=MIN_FONT + 2)),
                      yaxis=dict(range=[0, 1.12], tickformat=".0%", title=None),
                      font=dict(size=MIN_FONT), bargap=0.25)  # fmt: skip
    return fig


def feature_maps_figure(values: np.ndarray, *, columns: int = 8, cell: int = 64,
                        max_maps: int = 64) -> go.Figure:  # fmt: skip
    """A convolution or pooling layer's feature maps, one small image per channel, on one
    scale for the whole layer (dark: strong activation).

    Args:
        values: ndarray of shape (h, w, channels).
        columns: maps per row.
        cell: screen pixels per map, across.
        max_maps: the first this many channels are drawn.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 3:
        raise ValueError(f"feature maps must be (h, w, channels); got shape {values.shape}.")
    h, w, channels = values.shape
    shown = min(channels, max_maps)
    maps = np.moveaxis(values[..., :shown], -1, 0)
    columns = max(1, min(columns, shown))
    tiles = mosaic(maps, columns=columns, gap=1)
    low, high = float(np.nanmin(maps)), float(np.nanmax(maps))
    if high <= low:
        high = low + 1.0
    rows = math.ceil(shown / columns)
    channel = np.full(tiles.shape, -1)
    for i in range(shown):
        r, c = divmod(i, columns)
        channel[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = i
    fig = go.Figure(go.Heatmap(
        z=tiles, customdata=channel, colorscale=INK, zmin=low, zmax=high, showscale=False,
        hovertemplate="map %{customdata}: %{z:.3f}<extra></extra>", hoverongaps=False,
    ))  # fmt: skip
    scale = cell / w
    fig.update_layout(
        width=int(columns * (w + 1) * scale) + 20, height=int(rows * (h + 1) * scale) + 20,
        margin=dict(t=10, b=10, l=10, r=10), plot_bgcolor="white",
        xaxis=dict(visible=False, constrain="domain"),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"),
    )  # fmt: skip
    return fig


def units_figure(values: np.ndarray, *, class_names: tuple[str, ...] | None = None,
                 height: int = 200) -> go.Figure:  # fmt: skip
    """A dense layer's activations as bars, one per unit (or per class for the output).

    Args:
        values: ndarray of shape (units,).
        class_names: for the output layer: names by class, under the bars.
        height: screen pixels.
    """
    values = np.asarray(values, dtype=float).ravel()
    if class_names is not None and len(class_names) != len(values):
        raise ValueError(f"values has {len(values)} units but class_names {len(class_names)}.")
    x = [str(n) for n in class_names] if class_names is not None else np.arange(len(values))
    what = "class" if class_names is not None else "unit"
    fig = go.Figure(go.Bar(
        x=x, y=values, marker_color=np.where(values >= 0, "#4E79A7", "#E15759"),
        marker_line_width=0, hovertemplate=f"{what} %{{x}}: %{{y:.3f}}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(
        height=height, margin=dict(t=10, b=10, l=10, r=10), font=dict(size=MIN_FONT),
        bargap=0.1 if len(values) <= 64 else 0,
        xaxis=dict(type="category" if class_names is not None else "linear",
                   title=None if class_names is not None else f"{what} (0–{len(values) - 1})"),
    )  # fmt: skip
    return fig


def saliency_figure(image: np.ndarray, saliency: np.ndarray, *, size: int = 260) -> go.Figure:
    """The digit beside its saliency map (red: the pixels whose hiding lowers the
    prediction, blue: those whose hiding raises it), the digit's outline drawn over the map.

    Args:
        image: ndarray of shape (h, w), grey levels 0..255.
        saliency: ndarray of shape (h, w), signed.
        size: screen pixels of each panel.
    """
    image, saliency = np.asarray(image, dtype=float), np.asarray(saliency, dtype=float)
    if image.shape != saliency.shape or image.ndim != 2:
        raise ValueError(f"image and saliency must be (h, w) of one shape; got {image.shape} "
                         f"and {saliency.shape}.")  # fmt: skip
    bound = float(np.abs(saliency).max()) or 1.0
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06,
                        subplot_titles=("the digit", "occlusion saliency"))  # fmt: skip
    fig.add_trace(go.Heatmap(z=image, colorscale=INK, zmin=0, zmax=255, showscale=False,
                             hovertemplate="row %{y}, column %{x}: %{z:.0f}<extra></extra>"),
                  row=1, col=1)  # fmt: skip
    fig.add_trace(go.Heatmap(
        z=saliency, colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0,
        colorbar=dict(title=dict(text="drop", side="right"), thickness=12, len=0.9,
                      tickformat=f".{_decimals(bound)}~%"),
        hovertemplate="row %{y}, column %{x}: drop %{z:.1%}<extra></extra>",
    ), row=1, col=2)  # fmt: skip
    fig.add_trace(go.Contour(
        z=image, contours=dict(start=96, end=96, size=1, coloring="none"),
        line=dict(color="black", width=1.2), showscale=False, hoverinfo="skip",
    ), row=1, col=2)  # fmt: skip
    for col in (1, 2):
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=col)
        fig.update_yaxes(visible=False, autorange="reversed", constrain="domain",
                         scaleanchor="x" if col == 1 else "x2", row=1, col=col)  # fmt: skip
    fig.update_annotations(font_size=MIN_FONT + 1)
    fig.update_layout(width=2 * size + 110, height=size + 40, font=dict(size=MIN_FONT),
                      margin=dict(t=30, b=5, l=5, r=5), plot_bgcolor="white")  # fmt: skip
    return fig


def _decimals(bound: float) -> int:
    """Decimals a percentage needs so that ticks up to ``bound`` (a fraction) differ."""
    return int(min(4, max(0, math.ceil(-math.log10(bound * 100)) + 1))) if bound > 0 else 0


def weights_figure(images: np.ndarray, *, titles: tuple[str, ...], columns: int = 8,
                   cell: int = 90) -> go.Figure:  # fmt: skip
    """Signed weights as images on one diverging scale centred on 0 (red: positive, blue:
    negative), each titled.

    Args:
        images: ndarray of shape (k, h, w).
        titles: one per image.
        columns: images per row.
        cell: screen pixels per image, across.
    """
    images = np.asarray(images, dtype=float)
    if images.ndim != 3 or len(images) != len(titles):
        raise ValueError(f"images must be (k, h, w) with one title each; got shape "
                         f"{images.shape} and {len(titles)} titles.")  # fmt: skip
    k = len(images)
    columns = max(1, min(columns, k))
    rows = math.ceil(k / columns)
    bound = float(np.abs(images).max()) or 1.0
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(titles),
                        horizontal_spacing=0.02, vertical_spacing=min(0.3 / rows, 0.12))  # fmt: skip
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        fig.add_trace(go.Heatmap(z=image, coloraxis="coloraxis",
                                 hovertemplate=f"{titles[i]}<br>row %{{y}}, column %{{x}}: "
                                 "%{z:.3f}<extra></extra>"),
                      row=r + 1, col=c + 1)  # fmt: skip
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for i in range(k):  # square pixels in every panel
        axis = "" if i == 0 else str(i + 1)
        fig.layout[f"yaxis{axis}"].scaleanchor = f"x{axis}"
    fig.update_annotations(font_size=MIN_FONT)
    fig.update_layout(
        coloraxis=dict(colorscale=DIVERGING, cmin=-bound, cmax=bound, cmid=0,
                       colorbar=dict(title=dict(text="weight", side="right"), thickness=12)),
        width=columns * cell + 110, height=rows * (cell + 26) + 20,
        margin=dict(t=26, b=5, l=5, r=5), font=dict(size=MIN_FONT), plot_bgcolor="white",
    )  # fmt: skip
    return fig
