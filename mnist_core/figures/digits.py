"""Digits as pictures: a mosaic, a clickable grid of digits, one digit's pixel matrix;
and :func:`clicked_digit`, which reads a click on the grid."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from mnist_core.figures.raster import cell_picture, colorscale_rgb, compact_png_uri, png_pixels, png_uri
from mnist_core.figures.selection import selected_points
from mnist_core.figures.style import INK, MIN_FONT

# The grid's traces, in order: the tiles (one PNG image), the clickable cells, the labels.
_CELLS_TRACE = 1


def ink_png(tiles: np.ndarray) -> str:
    """Grey levels (float, NaN where nothing is drawn) as a PNG data URI: dark ink (255) on
    white (0), NaN transparent (the plot's background shows). A grid of 100 digits is
    ~15 KB of PNG that the browser decodes once, instead of 84,000 heat-map cells as JSON
    (~0.5 MB) that plotly.js colours one by one."""
    values = np.nan_to_num(np.asarray(tiles, dtype=float), nan=0.0)
    grey = (255 - np.clip(np.rint(values), 0, 255)).astype(np.uint8)
    alpha = np.where(np.isnan(np.asarray(tiles, dtype=float)), 0, 255).astype(np.uint8)
    return png_uri(np.stack([grey, alpha], axis=-1))


def png_values(uri: str) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`ink_png` wrote: (grey levels 0..255 as drawn, float; drawn: bool)."""
    image = png_pixels(uri)
    return 255.0 - image[..., 0], image[..., 3] > 0


def mosaic(images: np.ndarray, *, columns: int, gap: int = 1) -> np.ndarray:
    """Tile images (n, h, w) row by row into one float array, NaN in the gaps and empty cells."""
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return out


def grid_figure(
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
    """A grid of digits, each labelled with its class; clicking a digit selects it (read
    the click with :func:`clicked_digit`).

    Args:
        images: uint8 ndarray of shape (n, h, w), in grid order.
        labels: ndarray of shape (n,).
        indices: ndarray of shape (n,), each image's index in its split (shown on hover).
        class_names: names by label.
        columns: digits per row.
        selected: position (0..n-1) of a digit to outline.
        captions: text written above each digit, in a band of its own, instead of its
            class name in its corner (e.g. "7→1 93%"): longer text stays readable there.
        cell: screen pixels per digit, across (default: fit 500 pixels).
    """
    n, h, w = images.shape
    if not n == len(labels) == len(indices):
        raise ValueError(
            f"images, labels and indices differ in length: {n}, {len(labels)}, {len(indices)}."
        )
    gap = 1
    # Captions get a band above each digit, 0.3 of a cell high (about 20 px at 72 px cells).
    band = int(np.ceil(0.3 * h)) if captions is not None else 0
    if band:
        images = np.concatenate([np.full((n, band, w), np.nan), images.astype(float)], axis=1)
    tiles = mosaic(images, columns=columns, gap=gap)
    pos = np.arange(n)
    col, row = pos % columns, pos // columns
    tall = h + band  # a cell's height in image pixels
    cx = col * (w + gap) + (w - 1) / 2
    cy = row * (tall + gap) + band + (h - 1) / 2
    names = captions if captions is not None else [class_names[int(label)] for label in labels]
    fig = go.Figure(go.Image(source=ink_png(tiles), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
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
    rows = -(-n // columns)
    cell = cell or max(20, min(48, 500 // columns))  # screen pixels per digit
    # Labels stay readable (11 px and up) however small the cells; small cells get the
    # smallest readable size so the label covers less of the digit.
    font_size = MIN_FONT if cell >= 36 else MIN_FONT - 1
    if band:  # dark text centred in the band, on the light background, never on the ink
        fig.add_scatter(
            x=cx, y=row * (tall + gap) + (band - 1) / 2, mode="text", text=names,
            textposition="middle center", textfont=dict(color="#1B2631", size=font_size),
            hoverinfo="skip", showlegend=False,
        )  # fmt: skip
    else:
        fig.add_scatter(
            x=col * (w + gap) - 0.5, y=row * (tall + gap) - 0.5, mode="text",
            text=names, textposition="bottom right",
            textfont=dict(color="#C0392B", size=font_size), hoverinfo="skip", showlegend=False,
        )  # fmt: skip
    if selected is not None and 0 <= selected < n:
        x0, y0 = col[selected] * (w + gap) - 0.5, row[selected] * (tall + gap) - 0.5
        fig.add_shape(
            type="rect", x0=x0, y0=y0, x1=x0 + w, y1=y0 + tall,
            line=dict(color="#E67E22", width=3),
        )  # fmt: skip
    fig.update_xaxes(visible=False, range=[-0.5, tiles.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(
        visible=False, autorange="reversed", scaleanchor="x", constrain="domain"
    )
    fig.update_layout(
        plot_bgcolor="#DDE3EA",
        margin=dict(t=2, b=2, l=2, r=2),
        width=columns * cell + 4,
        height=int(np.ceil(rows * cell * (tall + gap) / (w + gap))) + 4,
        dragmode=False,
        clickmode="event+select",
    )
    return fig


def clicked_digit(selection_state: Any, *, n: int | None = None) -> int | None:
    """Grid position (0..n-1) of the digit clicked in a :func:`grid_figure`, or None.

    ``selection_state`` is what Streamlit returns for the chart (or keeps under its key);
    ``n``, when given, is the number of digits in the grid: a position beyond it (a click
    remembered from a larger grid) counts as no click.
    """
    for point in selected_points(selection_state):
        position = point.get("point_index", -1)
        if point.get("curve_number") == _CELLS_TRACE and isinstance(position, int) and position >= 0:
            if n is None or position < n:
                return position
    return None


# The pixel-values picture's cells, in image pixels: twice the ~21.4 screen pixels a cell is
# shown at (600 px for 28), so its numbers stay sharp on a screen of double density.
PIXEL_CELL = 44
SHOWN_CELL = 21.4


def pixels_figure(image: np.ndarray, *, title: str = "") -> go.Figure:
    """One digit enlarged, each pixel's value written in it: one picture (PNG) of the
    coloured cells and their numbers, under an invisible heat map of the values that names
    the pixel under the mouse. (784 numbers as plotly heat-map text cost Chromium ~0.4 CPU-s
    a visit; the picture about nothing.)"""
    h, w = image.shape
    font = MIN_FONT - 1 if w > 16 else 14  # 11 px numbers need about 22 px per pixel
    colors = colorscale_rgb(image, INK, zmin=0, zmax=255)
    picture = cell_picture(colors, cell=PIXEL_CELL, text=np.asarray(image).astype(int).astype(str),
                           font_size=int(np.ceil(font * PIXEL_CELL / SHOWN_CELL)))  # fmt: skip
    fig = go.Figure(go.Heatmap(
        z=image, colorscale=INK, zmin=0, zmax=255, opacity=0, showscale=False,
        hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
    ))  # fmt: skip
    # A layout image, not an image trace: plotly copies an image trace's picture into a
    # canvas of its own to read its pixels for hover; a layout image is only drawn. It fills
    # the plot area, which the axes' ranges make exactly the 28 x 28 pixels.
    fig.add_layout_image(
        source=compact_png_uri(picture), xref="x domain", yref="y domain", x=0, y=1, sizex=1,
        sizey=1, xanchor="left", yanchor="top", sizing="stretch", layer="below",
    )  # fmt: skip
    fig.update_xaxes(side="top", dtick=max(1, w // 7), range=[-0.5, w - 0.5], constrain="domain",
                     showgrid=False, zeroline=False)  # fmt: skip
    fig.update_yaxes(range=[h - 0.5, -0.5], autorange=False, scaleanchor="x",
                     dtick=max(1, h // 7), constrain="domain", showgrid=False, zeroline=False)  # fmt: skip
    fig.update_layout(
        title=dict(text=title, x=0.01, y=0.99, font=dict(size=15)),
        width=640, height=680, margin=dict(t=64, b=6, l=30, r=6),
    )
    return fig
