"""Inside a model: class probabilities, a layer's units, the first layer's weights as
charts; a layer's feature maps and an occlusion saliency map over its digit as pictures
(uint8 arrays for ``st.image``: many small images draw far faster than heat maps)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.figures.digits import mosaic
from mnist_core.figures.style import MIN_FONT

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


def feature_maps_image(values: np.ndarray, *, columns: int = 16, scale: int = 2,
                       max_maps: int = 64) -> np.ndarray:  # fmt: skip
    """A convolution or pooling layer's feature maps as one picture: a grid of grey
    images, one per channel, on one scale for the whole layer (dark: strong activation),
    white between them. A picture, not a chart: dozens of maps draw at once in a browser.

    Args:
        values: ndarray of shape (h, w, channels).
        columns: maps per row.
        scale: screen pixels per activation (whole pixels: the maps stay sharp).
        max_maps: the first this many channels are drawn.

    Returns:
        uint8 ndarray of shape (rows * (h + 1) * scale - scale, columns * (w + 1) * scale
        - scale): 255 white, 0 the layer's strongest activation.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 3:
        raise ValueError(f"feature maps must be (h, w, channels); got shape {values.shape}.")
    shown = min(values.shape[2], max_maps)
    maps = np.moveaxis(values[..., :shown], -1, 0)
    low, high = float(maps.min()), float(maps.max())
    level = (maps - low) / (high - low) if high > low else np.zeros_like(maps)
    tiles = mosaic(255.0 * (1.0 - level), columns=max(1, min(columns, shown)), gap=1)
    picture = np.nan_to_num(tiles, nan=255.0).round().astype(np.uint8)
    return np.kron(picture, np.ones((scale, scale), np.uint8))


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
    # One dict, validated once: go.Bar then update_layout costs ~10x more, once per digit.
    return go.Figure({
        "data": [{"type": "bar", "x": x, "y": values,
                  "marker": {"color": np.where(values >= 0, "#4E79A7", "#E15759"),
                             "line": {"width": 0}},
                  "hovertemplate": f"{what} %{{x}}: %{{y:.3f}}<extra></extra>"}],
        "layout": {"height": height, "margin": {"t": 10, "b": 10, "l": 10, "r": 10},
                   "font": {"size": MIN_FONT}, "bargap": 0.1 if len(values) <= 64 else 0,
                   "xaxis": {"type": "category" if class_names is not None else "linear",
                             "title": None if class_names is not None
                             else f"{what} (0–{len(values) - 1})"}},
    })  # fmt: skip


# RdBu's ends: the colour of the strongest drop (red) and rise (blue) of the probability.
_RED, _BLUE = np.array([178, 24, 43], np.float32), np.array([33, 102, 172], np.float32)


def saliency_image(image: np.ndarray, saliency: np.ndarray, *, scale: int = 10,
                   ink: float = 96) -> np.ndarray:  # fmt: skip
    """A saliency map as a picture: red where hiding the pixel lowers the prediction, blue
    where it raises it, white where it changes nothing (one diverging scale, centred on
    0, up to the largest absolute value), the digit's outline drawn over it in black.

    Args:
        image: ndarray of shape (h, w), grey levels 0..255 (its outline: pixels >= ``ink``).
        saliency: ndarray of shape (h, w), signed.
        scale: screen pixels per pixel.

    Returns:
        uint8 RGB ndarray of shape (h * scale, w * scale, 3).
    """
    image, saliency = np.asarray(image, np.float32), np.asarray(saliency, np.float32)
    if image.shape != saliency.shape or image.ndim != 2:
        raise ValueError(f"image and saliency must be (h, w) of one shape; got {image.shape} "
                         f"and {saliency.shape}.")  # fmt: skip
    bound = float(np.abs(saliency).max()) or 1.0
    level = (saliency / bound)[..., None]
    colour = np.where(level >= 0, 255 + level * (_RED - 255), 255 - level * (_BLUE - 255))
    big = np.kron(colour, np.ones((scale, scale, 1), np.float32))
    stroke = np.kron(image >= ink, np.ones((scale, scale), bool))
    edge = np.zeros_like(stroke)
    edge[1:] |= stroke[1:] != stroke[:-1]
    edge[:, 1:] |= stroke[:, 1:] != stroke[:, :-1]
    big[edge] = 0
    return big.round().astype(np.uint8)


def scale_text(bound: float) -> str:
    """How much the strongest colour of :func:`saliency_image` stands for: "2.4%"."""
    return f"{bound:.{_decimals(bound)}%}"


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
