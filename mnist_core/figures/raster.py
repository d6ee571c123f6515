"""An embedding's points drawn as one picture (issue 13, target 6).

:func:`raster_scatter_figure` draws every point server-side with numpy into one RGBA image
(PNG), coloured by class as :func:`mnist_core.figures.embeddings.scatter_figure` colours
them, laid under an ordinary plotly plot: its axes, a legend of the classes, the
selection's outlines, and an invisible grid for hover (each cell names one real point in
it and how many are there). The browser decodes one image instead of setting up WebGL for
70,000 points (software GL costs Chromium 1-2 CPU-s per page visit); the hover grid costs
it ~0.1 CPU-s, where 3,000 invisible SVG markers cost ~0.5. Box and lasso still work: plotly reports the outline
drawn, and :func:`mnist_core.figures.embeddings.rows_in_shapes` finds every point inside
it (all of them, not only the hover layer's).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go

from mnist_core.figures.style import class_color

# The raster's size in image pixels: about 1.5 x the plot area on a 1,280 px screen (the
# browser scales it down smoothly), and what a marker size (screen pixels) is scaled by.
RASTER_SIZE = (960, 880)  # width, height
SCREEN_PLOT_WIDTH = 640  # the plot area's width on screen the marker sizes are meant for
HOVER_CELL = 12  # the hover grid's cells, in image pixels (about 8 screen pixels)
SELECTABLE = 10  # real points in an invisible trace that makes plotly offer box and lasso
PAD = 0.04  # each axis' range extends its data by this share on both sides


def png_uri(pixels: np.ndarray, *, palette: bool = False) -> str:
    """An image (h, w) grey, (h, w, 2) grey+alpha, (h, w, 3) RGB or (h, w, 4) RGBA, uint8,
    as a PNG data URI (row 0 at the top). ``palette``: reduced to 256 colours (alpha
    included) first: a scatter of 70,000 points is ~4 x smaller (~0.2 MB instead of 0.8),
    its colours within a few levels."""
    from PIL import Image

    mode = {2: "L", 3: {2: "LA", 3: "RGB", 4: "RGBA"}}[pixels.ndim]
    if isinstance(mode, dict):
        mode = mode[pixels.shape[2]]
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode=mode)
    if palette:
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_pixels(uri: str) -> np.ndarray:
    """What :func:`png_uri` wrote, as RGBA uint8 (h, w, 4)."""
    from PIL import Image

    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def padded_range(values: np.ndarray) -> tuple[float, float]:
    """The axis range drawn for ``values``: their extent, padded by :data:`PAD` each side."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    span = hi - lo or 1.0
    return lo - PAD * span, hi + PAD * span


def _rgb(color: str) -> np.ndarray:
    color = color.lstrip("#")
    return np.array([int(color[i : i + 2], 16) for i in (0, 2, 4)], float) / 255


def _disk(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets (dy, dx) covered by a disk of ``radius`` pixels centred on a pixel."""
    r = max(0.5, radius)
    span = np.arange(-int(np.ceil(r)), int(np.ceil(r)) + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    keep = dx**2 + dy**2 <= r * r + 0.25
    return dy[keep], dx[keep]


def rasterize(
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    size: tuple[int, int] = RASTER_SIZE,
    marker_size: float = 3,
    opacity: float = 0.6,
    selected: np.ndarray | None = None,
) -> np.ndarray:
    """Every point as a disk of its class colour, RGBA uint8 of shape (height, width, 4),
    row 0 at the top (``y_range[1]``), transparent where no point is. Classes are drawn in
    label order, each over the ones before (as the WebGL traces are); overlapping points of
    one class add up as plotly's translucent markers do (alpha ``1 - (1 - opacity)^n``).
    With ``selected`` (rows), the other points are dimmed to opacity 0.12 and the selected
    ones drawn over them."""
    width, height = size
    x, y, labels = np.asarray(x, float), np.asarray(y, float), np.asarray(labels)
    (x0, x1), (y0, y1) = x_range, y_range
    col = np.rint((x - x0) / ((x1 - x0) or 1.0) * (width - 1)).astype(np.int64)
    row = np.rint((y1 - y) / ((y1 - y0) or 1.0) * (height - 1)).astype(np.int64)
    dy, dx = _disk(marker_size / 2 * width / SCREEN_PLOT_WIDTH)
    chosen = None
    if selected is not None:
        chosen = np.zeros(len(x), bool)
        chosen[np.asarray(selected, dtype=np.int64)] = True
    rgb = np.zeros((height * width, 3))  # premultiplied by alpha
    alpha = np.zeros(height * width)
    finite = np.isfinite(x) & np.isfinite(y)
    for label in np.unique(labels):
        color = _rgb(class_color(int(label)))
        layers = [(labels == label, opacity)] if chosen is None else [
            ((labels == label) & ~chosen, min(opacity, 0.12)), ((labels == label) & chosen, opacity)]
        for mask, layer_opacity in layers:
            mask &= finite
            if not mask.any():
                continue
            r = row[mask][:, None] + dy[None, :]
            c = col[mask][:, None] + dx[None, :]
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            count = np.bincount((r * width + c)[inside], minlength=height * width)
            hit = np.flatnonzero(count)  # only the pixels this layer touches
            cover = 1.0 - (1.0 - layer_opacity) ** count[hit]
            rgb[hit] = rgb[hit] * (1.0 - cover)[:, None] + cover[:, None] * color[None, :]
            alpha[hit] = alpha[hit] * (1.0 - cover) + cover
    straight = np.divide(rgb, alpha[:, None], out=np.zeros_like(rgb), where=alpha[:, None] > 0)
    out = np.concatenate([straight, alpha[:, None]], axis=1).reshape(height, width, 4)
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def hover_grid(
    x: np.ndarray, y: np.ndarray, *, x_range: tuple[float, float], y_range: tuple[float, float],
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """The hover grid of ``shape`` (rows, columns) over the axes' ranges, row 0 at the
    bottom: each cell's number of points (float, NaN where none) and the row of its first
    point (-1 where none)."""
    rows, cols = shape
    (x0, x1), (y0, y1) = x_range, y_range
    c = np.clip(((np.asarray(x, float) - x0) / ((x1 - x0) or 1.0) * cols).astype(np.int64), 0, cols - 1)
    r = np.clip(((np.asarray(y, float) - y0) / ((y1 - y0) or 1.0) * rows).astype(np.int64), 0, rows - 1)
    cell = r * cols + c
    count = np.bincount(cell, minlength=rows * cols).astype(float)
    first = np.full(rows * cols, -1, dtype=np.int64)
    first[cell[::-1]] = np.arange(len(cell))[::-1]  # the last write wins: the lowest row
    return np.where(count > 0, count, np.nan).reshape(shape), first.reshape(shape)


def raster_scatter_figure(
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
    selected: np.ndarray | None = None,
    outlines: list[dict] | tuple = (),
    hover: bool = True,
) -> go.Figure:
    """Every point of an embedding as one PNG under a plain plotly plot (arguments as
    :func:`mnist_core.figures.embeddings.scatter_figure`'s).

    Traces: the hover grid (an invisible heat map: each cell gives the label and index of
    one real point in it, and how many points it holds; ``hover=False``: none), a few real
    points, invisible, that make plotly offer box and lasso, then one empty trace per class
    for the legend. A box or lasso drawn on it is read with :func:`mnist_core.figures.embeddings.selection_shapes`
    and mapped to rows with :func:`mnist_core.figures.embeddings.rows_in_shapes`.
    Zooming enlarges the picture: its points do not get sharper.
    """
    from mnist_core.figures.embeddings import outline_shapes

    if not len(x) == len(y) == len(labels) == len(indices):
        raise ValueError(
            f"x, y, labels and indices differ in length: {len(x)}, {len(y)}, "
            f"{len(labels)}, {len(indices)}."
        )
    x_range, y_range = padded_range(x), padded_range(y)
    pixels = rasterize(x, y, labels, x_range=x_range, y_range=y_range, marker_size=marker_size,
                       opacity=opacity, selected=selected)  # fmt: skip
    fig = go.Figure()
    fig.add_layout_image(
        source=png_uri(pixels, palette=True), xref="x", yref="y", x=x_range[0], y=y_range[1],
        sizex=x_range[1] - x_range[0], sizey=y_range[1] - y_range[0], sizing="stretch",
        xanchor="left", yanchor="top", layer="below",
    )  # fmt: skip
    if hover:
        shape = (-(-RASTER_SIZE[1] // HOVER_CELL), -(-RASTER_SIZE[0] // HOVER_CELL))
        count, first = hover_grid(x, y, x_range=x_range, y_range=y_range, shape=shape)
        dx, dy = (x_range[1] - x_range[0]) / shape[1], (y_range[1] - y_range[0]) / shape[0]
        names = np.append(np.asarray(class_names, dtype=object), "")
        fig.add_trace(go.Heatmap(
            z=count, x0=x_range[0] + dx / 2, dx=dx, y0=y_range[0] + dy / 2, dy=dy,
            customdata=np.where(first >= 0, np.asarray(indices)[np.maximum(first, 0)], -1),
            text=names[np.where(first >= 0, np.asarray(labels)[np.maximum(first, 0)], -1)],
            hovertemplate=f"label %{{text}}, {index_title} %{{customdata}}"
                          "<br>points here: %{z:,}<extra></extra>",
            opacity=0, showscale=False, hoverongaps=False, name="",
        ))  # fmt: skip
    pick = np.arange(min(len(x), SELECTABLE))
    fig.add_trace(go.Scatter(
        x=np.asarray(x)[pick], y=np.asarray(y)[pick], mode="markers", showlegend=False,
        marker=dict(color="rgba(0,0,0,0)"), hoverinfo="skip",
        selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
    ))  # fmt: skip
    for label in np.unique(labels):
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name=class_names[int(label)], hoverinfo="skip",
            marker=dict(size=8, color=class_color(int(label)), opacity=max(opacity, 0.6)),
        ))  # fmt: skip
    for shape in outline_shapes(outlines):
        fig.add_shape(shape)
    fig.update_layout(
        height=640,
        margin=dict(t=48, b=10, l=10, r=10),  # the toolbar clear of the legend's title
        xaxis_title=axis_titles[0],
        yaxis_title=axis_titles[1],
        legend=dict(title=dict(text="class", side="top"), itemsizing="constant",
                    itemclick=False, itemdoubleclick=False, x=1.02, y=1, yanchor="top"),
        dragmode="select",  # box first; the toolbar offers the lasso
        plot_bgcolor="white",
        hovermode="closest",
        uirevision="embedding",  # keeps the zoom when the figure is redrawn
    )
    fig.update_xaxes(range=list(x_range), showgrid=False, zeroline=False)
    fig.update_yaxes(range=list(y_range), showgrid=False, zeroline=False)
    return fig


def colorscale_rgb(values: np.ndarray, colorscale, *, zmin: float, zmax: float) -> np.ndarray:
    """``values`` (any shape) coloured as a plotly heat map colours them: mapped linearly
    from [zmin, zmax] onto ``colorscale`` (a name plotly knows, e.g. ``"Viridis"``, or its
    ``((stop, "rgb(...)"), ...)`` list), clipped at both ends, each colour interpolated in
    RGB between its two stops. RGBA uint8 of shape ``values.shape + (4,)``, transparent
    where a value is NaN."""
    import plotly.graph_objects as go
    from plotly.colors import unlabel_rgb

    stops = go.Heatmap(colorscale=colorscale).colorscale  # a name resolved as plotly does
    positions = np.array([float(s) for s, _ in stops])
    colors = np.array([unlabel_rgb(c) if c.startswith("rgb") else tuple(int(c.lstrip("#")[i:i + 2], 16)
                       for i in (0, 2, 4)) for _, c in stops], float)  # fmt: skip
    values = np.asarray(values, float)
    share = np.clip((values - zmin) / ((zmax - zmin) or 1.0), 0.0, 1.0)
    share = np.nan_to_num(share, nan=0.0)
    rgb = np.stack([np.interp(share, positions, colors[:, k]) for k in range(3)], axis=-1)
    alpha = np.where(np.isnan(values), 0, 255)[..., None]
    return np.concatenate([np.clip(np.rint(rgb), 0, 255), alpha], axis=-1).astype(np.uint8)


def cell_picture(colors: np.ndarray, *, cell: int, text: np.ndarray | None = None,
                 font_size: int = 22) -> np.ndarray:
    """A picture of a grid of cells: each of ``colors`` (h, w, 4) RGBA uint8 a square of
    ``cell`` x ``cell`` image pixels, with ``text`` (h, w) strings, if given, written in
    the middle of each cell at ``font_size`` image pixels, black on light cells and white on
    dark ones (as plotly writes a heat map's text). RGBA uint8 (h * cell, w * cell, 4)."""
    from PIL import Image, ImageDraw, ImageFont

    picture = np.repeat(np.repeat(np.asarray(colors, np.uint8), cell, axis=0), cell, axis=1)
    if text is None:
        return picture
    image = Image.fromarray(np.ascontiguousarray(picture), mode="RGBA")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    h, w = colors.shape[:2]
    for r in range(h):
        for c in range(w):
            if not str(text[r][c]):
                continue
            red, green, blue = (int(v) for v in colors[r, c, :3])
            light = 0.299 * red + 0.587 * green + 0.114 * blue >= 128
            draw.text(((c + 0.5) * cell, (r + 0.5) * cell), str(text[r][c]), font=font,
                      anchor="mm", fill=(0, 0, 0, 255) if light else (255, 255, 255, 255))  # fmt: skip
    return np.asarray(image)


def compact_png_uri(pixels: np.ndarray) -> str:
    """An RGBA uint8 picture as a PNG data URI in the smallest exact mode: grey (a third
    of RGB's size) when every pixel is grey and opaque, RGB when opaque, else RGBA."""
    pixels = np.asarray(pixels, np.uint8)
    if (pixels[..., 3] == 255).all():
        rgb = pixels[..., :3]
        grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
        return png_uri(rgb[..., 0] if grey else rgb)
    return png_uri(pixels)
