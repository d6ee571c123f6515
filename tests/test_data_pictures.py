"""The Data explorer's pictures (issue 13, target 6): heat maps drawn server-side as one PNG
must show what plotly would have drawn: each cell the value mapped through the colour
scale, and each pixel's value written in its cell."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image, ImageDraw, ImageFont

from mnist_core import figures
from mnist_core.figures import raster


@pytest.mark.parametrize("name", ["Greys", "Viridis", "Plasma"])
def test_colorscale_rgb_maps_values_as_plotly_stops_say(name):
    stops = go.Heatmap(colorscale=name).colorscale
    from plotly.colors import unlabel_rgb

    first, last = (np.array(unlabel_rgb(c)) if c.startswith("rgb") else None for c in (stops[0][1], stops[-1][1]))
    got = raster.colorscale_rgb(np.array([0.0, 255.0, -5.0, 300.0, np.nan]), name, zmin=0, zmax=255)
    if first is not None:
        np.testing.assert_array_equal(got[0, :3], first)
        np.testing.assert_array_equal(got[2, :3], first)  # below zmin: clipped
    if last is not None:
        np.testing.assert_array_equal(got[1, :3], last)
        np.testing.assert_array_equal(got[3, :3], last)
    assert list(got[:, 3]) == [255, 255, 255, 255, 0]  # NaN: transparent


def test_colorscale_rgb_interpolates_between_two_stops():
    scale = ((0.0, "rgb(0,0,0)"), (0.5, "rgb(100,200,50)"), (1.0, "rgb(200,0,250)"))
    got = raster.colorscale_rgb(np.array([25.0, 75.0]), scale, zmin=0, zmax=100)
    np.testing.assert_array_equal(got[:, :3], [[50, 100, 25], [150, 100, 150]])


def _written(value: str, background: tuple, cell: int, size: int) -> np.ndarray:
    """One cell with ``value`` written in it, drawn on its own."""
    light = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2] >= 128
    image = Image.new("RGBA", (cell, cell), tuple(int(v) for v in background))
    ImageDraw.Draw(image).text((cell / 2, cell / 2), value, font=ImageFont.load_default(size=size),
                               anchor="mm", fill=(0, 0, 0, 255) if light else (255, 255, 255, 255))  # fmt: skip
    return np.asarray(image)


def test_pixels_figure_cells_are_the_values_through_the_ink_scale_with_the_value_written():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    image[0, 0], image[0, 1], image[1, 0] = 0, 255, 7
    fig = figures.digits.pixels_figure(image, title="train #0")
    picture = raster.png_pixels(fig.layout.images[0].source)
    cell = figures.digits.PIXEL_CELL
    expected = raster.colorscale_rgb(image, "Greys", zmin=0, zmax=255)
    np.testing.assert_array_equal(picture[1::cell, 1::cell], expected)  # each cell's corner
    assert tuple(picture[1, 1, :3]) == (255, 255, 255) and tuple(picture[1, cell + 1, :3]) == (0, 0, 0)
    # Every cell holds exactly its own number, as drawn alone (23 image px: 11 CSS px and up
    # where a cell is shown 21.4 px wide).
    size = 23
    for r, c in [(0, 0), (0, 1), (1, 0), (13, 17), (27, 27)]:
        block = picture[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
        np.testing.assert_array_equal(block, _written(str(image[r, c]), expected[r, c], cell, size))
        assert (block != expected[r, c]).any(), (r, c)  # something is written
    font = ImageFont.load_default(size=size)
    assert max(font.getlength(str(v)) for v in range(256)) < 0.95 * cell  # no number runs over
    # The picture covers the axes' 28 x 28 pixels exactly; hover gives the value there.
    (hover,), (shown,) = fig.data, fig.layout.images
    assert (shown.x, shown.y, shown.sizex, shown.sizey, shown.sizing) == (0, 1, 1, 1, "stretch")
    assert (shown.xref, shown.yref) == ("x domain", "y domain")  # the plot area, which is:
    assert tuple(fig.layout.xaxis.range) == (-0.5, 27.5)
    assert tuple(fig.layout.yaxis.range) == (27.5, -0.5)  # row 0 at the top, as before
    np.testing.assert_array_equal(hover.z, image)


def test_cell_picture_without_text_is_the_colours_enlarged():
    colors = raster.colorscale_rgb(np.array([[0.0, np.nan], [128.0, 255.0]]), "Viridis", zmin=0, zmax=255)
    picture = raster.cell_picture(colors, cell=3)
    assert picture.shape == (6, 6, 4)
    np.testing.assert_array_equal(picture[3:6, 0:3], np.broadcast_to(colors[1, 0], (3, 3, 4)))
    assert (picture[0:3, 3:6, 3] == 0).all()


def test_compact_png_uri_keeps_every_pixel():
    rng = np.random.default_rng(2)
    grey = np.repeat(rng.integers(0, 256, (5, 6, 1), dtype=np.uint8), 3, axis=2)
    for pixels in (np.concatenate([grey, np.full((5, 6, 1), 255, np.uint8)], axis=2),
                   rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)):
        np.testing.assert_array_equal(raster.png_pixels(raster.compact_png_uri(pixels)), pixels)


def test_pixel_stats_pictures_are_each_statistic_through_its_colour_scale():
    from mnist_core.data import stats

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (40, 6, 5), dtype=np.uint8)
    labels = np.arange(40) % 3
    images[labels == 0, 0, 0] = 0  # class a's top-left pixel: mean 0
    result = stats.pixel_stats(images, labels, n_classes=3)
    fig = figures.data.pixel_stats_figure(result, class_names=("a", "b", "c"))
    cell = figures.data.STAT_CELL
    assert len(fig.layout.images) == 3 and all(t.opacity == 0 for t in fig.data)  # hover only
    std_max = float(result.std.max())
    for r, (image, trace, statistic, scale, top) in enumerate(zip(
            fig.layout.images, fig.data, ("mean", "median", "std"),
            ("Viridis", "Viridis", "Plasma"), (255, 255, std_max))):  # fmt: skip
        axis = "" if r == 0 else str(r + 1)
        assert (image.xref, image.yref) == (f"x{axis} domain", f"y{axis} domain")  # its own row
        assert (image.x, image.y, image.sizex, image.sizey, image.sizing) == (0, 1, 1, 1, "stretch")
        picture = raster.png_pixels(image.source)
        assert picture.shape == (6 * cell, (4 * 5 + 3) * cell, 4)
        values = getattr(result, statistic)
        for c in range(4):  # classes a, b, c, then all: tile c starts after c gap columns
            tile = picture[cell // 2::cell, cell // 2::cell][:, c * 6:c * 6 + 5]
            expected = raster.colorscale_rgb(values[c], scale, zmin=0, zmax=top)
            np.testing.assert_array_equal(tile, expected)
            np.testing.assert_allclose(np.asarray(trace.z, float)[:, c * 6:c * 6 + 5], values[c])
        assert (picture[:, 5 * cell:6 * cell, 3] == 0).all()  # the gap: transparent
    # Against the colour scale's own end: a mean of 0 is Viridis' first colour, #440154.
    assert tuple(raster.png_pixels(fig.layout.images[0].source)[0, 0, :3]) == (0x44, 0x01, 0x54)
