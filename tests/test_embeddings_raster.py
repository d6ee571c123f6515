"""The embedding drawn as one picture: each point where its coordinates put it, in its
class colour, later classes over earlier ones, a selection dimming the others; the figure
around it (axes, legend, hover layer of real points, outlines); a box or lasso on it
selecting every point inside, not only the hover layer's."""

from __future__ import annotations

import numpy as np

from mnist_core import figures
from mnist_core.figures import raster as R
from mnist_core.figures.style import class_color

E = figures.embeddings


def _rgb(label: int) -> np.ndarray:
    return np.array([int(class_color(label).lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)])


def test_each_point_lands_where_its_coordinates_say_in_its_class_colour():
    x, y, labels = np.array([0.0, 10.0, 0.0]), np.array([0.0, 0.0, 10.0]), np.array([0, 1, 2])
    pixels = R.rasterize(x, y, labels, x_range=(0, 10), y_range=(0, 10), size=(101, 51),
                         marker_size=1, opacity=1.0)  # fmt: skip
    assert pixels.shape == (51, 101, 4) and pixels.dtype == np.uint8
    # Row 0 is the top (y = 10); column 0 is x = 0.
    np.testing.assert_array_equal(pixels[50, 0, :3], _rgb(0))
    np.testing.assert_array_equal(pixels[50, 100, :3], _rgb(1))
    np.testing.assert_array_equal(pixels[0, 0, :3], _rgb(2))
    assert pixels[50, 0, 3] == pixels[50, 100, 3] == pixels[0, 0, 3] == 255
    assert pixels[25, 50, 3] == 0  # nothing drawn: transparent


def test_overlaps_add_up_later_classes_on_top_and_a_selection_dims_the_others():
    x, y = np.zeros(3), np.zeros(3)
    one = R.rasterize(x[:1], y[:1], np.array([0]), x_range=(-1, 1), y_range=(-1, 1), size=(21, 21),
                      marker_size=1, opacity=0.5)  # fmt: skip
    two = R.rasterize(x[:2], y[:2], np.array([0, 0]), x_range=(-1, 1), y_range=(-1, 1),
                      size=(21, 21), marker_size=1, opacity=0.5)  # fmt: skip
    assert one[10, 10, 3] == 128 and two[10, 10, 3] == 191  # 0.5, then 1 - 0.5²
    top = R.rasterize(x[:2], y[:2], np.array([3, 0]), x_range=(-1, 1), y_range=(-1, 1),
                      size=(21, 21), marker_size=1, opacity=1.0)  # fmt: skip
    np.testing.assert_array_equal(top[10, 10, :3], _rgb(3))  # class 3 drawn after class 0
    dimmed = R.rasterize(np.array([-1.0, 1.0]), np.zeros(2), np.array([0, 0]), x_range=(-1, 1),
                         y_range=(-1, 1), size=(21, 21), marker_size=1, opacity=0.6,
                         selected=np.array([1]))  # fmt: skip
    assert dimmed[10, 0, 3] == round(0.12 * 255) and dimmed[10, 20, 3] == round(0.6 * 255)


def test_marker_size_sets_the_disk_in_image_pixels():
    size = (R.SCREEN_PLOT_WIDTH, 101)  # one image pixel per screen pixel
    small = R.rasterize(np.zeros(1), np.zeros(1), np.zeros(1, int), x_range=(-1, 1),
                        y_range=(-1, 1), size=size, marker_size=3, opacity=1.0)  # fmt: skip
    large = R.rasterize(np.zeros(1), np.zeros(1), np.zeros(1, int), x_range=(-1, 1),
                        y_range=(-1, 1), size=size, marker_size=10, opacity=1.0)  # fmt: skip
    assert 5 <= (small[..., 3] > 0).sum() <= 13
    assert 60 <= (large[..., 3] > 0).sum() <= 100  # about pi * 5²


def test_png_round_trip_and_the_palette_keeps_colours_close():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 5000)
    pixels = R.rasterize(rng.normal(size=5000), rng.normal(size=5000), labels, x_range=(-4, 4),
                         y_range=(-4, 4), size=(200, 150))  # fmt: skip
    np.testing.assert_array_equal(R.png_pixels(R.png_uri(pixels)), pixels)
    reduced = R.png_pixels(R.png_uri(pixels, palette=True)).astype(int)
    assert reduced.shape == pixels.shape
    assert np.abs(reduced - pixels).mean() < 3 and np.abs(reduced - pixels).max() < 64


def test_the_figure_holds_one_image_a_hover_grid_of_real_points_and_a_legend():
    rng = np.random.default_rng(1)
    n = 10_000
    x, y, labels = rng.normal(size=n), rng.normal(size=n), rng.integers(0, 10, n)
    indices = np.arange(n) + 500
    box = {"kind": "box", "x": [0.0, 1.0], "y": [0.0, 1.0]}
    fig = R.raster_scatter_figure(x, y, labels, indices, class_names=tuple("abcdefghij"),
                                  axis_titles=("PC1", "PC2"), outlines=[box])  # fmt: skip
    assert [t.type for t in fig.data] == ["heatmap"] + ["scatter"] * 11  # no WebGL
    (image,) = fig.layout.images
    assert image.source.startswith("data:image/png;base64,") and image.sizing == "stretch"
    assert (image.x, image.y) == (fig.layout.xaxis.range[0], fig.layout.yaxis.range[1])
    assert np.isclose(image.sizex, np.diff(fig.layout.xaxis.range)[0])
    grid = fig.data[0]
    z, custom, text = np.asarray(grid.z, float), np.asarray(grid.customdata), np.asarray(grid.text)
    assert np.nansum(z) == n and grid.opacity == 0 and grid.hoverongaps is False
    # Each cell names a real point inside it, with its label.
    (x_lo, _), (y_lo, _) = fig.layout.xaxis.range, fig.layout.yaxis.range
    for r, c in zip(*np.nonzero(np.isfinite(z))):
        row = custom[r, c] - 500
        assert text[r, c] == "abcdefghij"[labels[row]]
        assert int((x[row] - x_lo) // grid.dx) == c and int((y[row] - y_lo) // grid.dy) == r
        assert (x_lo + c * grid.dx <= x[row] <= x_lo + (c + 1) * grid.dx)
    assert np.isclose(grid.x0, x_lo + grid.dx / 2) and np.isclose(grid.y0, y_lo + grid.dy / 2)
    pick = fig.data[1]  # a few real points: plotly offers box and lasso
    assert 0 < len(pick.x) <= R.SELECTABLE and pick.hoverinfo == "skip"
    assert [t.name for t in fig.data[2:]] == list("abcdefghij")
    assert fig.layout.dragmode == "select" and fig.layout.xaxis.title.text == "PC1"
    assert [s.type for s in fig.layout.shapes] == ["rect"]


def test_a_box_or_lasso_on_the_picture_selects_every_point_inside():
    """What Streamlit returns for a box drawn on the figure (the few selectable points,
    and the box): the rows are all points inside the box."""
    rng = np.random.default_rng(2)
    n = 20_000
    x, y = rng.normal(size=n), rng.normal(size=n)
    state = {"selection": {"points": [{"curve_number": 0, "point_index": 3}], "point_indices": [3],
                           "box": [{"xref": "x", "yref": "y", "x": [0.5, -0.5], "y": [-1, 0.25]}],
                           "lasso": []}}  # fmt: skip
    rows = E.rows_in_shapes(x, y, E.selection_shapes(state))
    expected = np.flatnonzero((np.abs(x) <= 0.5) & (y >= -1) & (y <= 0.25))
    np.testing.assert_array_equal(rows, expected)
    assert len(rows) > 50 * len(state["selection"]["points"])


def test_a_selection_keeps_the_axes_ranges_so_the_picture_does_not_move():
    rng = np.random.default_rng(3)
    x, y, labels = rng.normal(size=500), rng.normal(size=500), rng.integers(0, 3, 500)
    args = dict(class_names=("a", "b", "c"))
    plain = R.raster_scatter_figure(x, y, labels, np.arange(500), **args)
    chosen = R.raster_scatter_figure(x, y, labels, np.arange(500), selected=np.arange(10), **args)
    assert plain.layout.xaxis.range == chosen.layout.xaxis.range
    assert plain.layout.images[0].source != chosen.layout.images[0].source
