"""Figure builders put the right data in the right place."""

from __future__ import annotations

import numpy as np

from mnist_core import figures
from mnist_core.data import stats


def test_mosaic_places_images_row_by_row_with_nan_gaps():
    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    tiles = figures.digits.mosaic(images, columns=2, gap=1)
    assert tiles.shape == (5, 5)
    np.testing.assert_array_equal(tiles[0:2, 0:2], images[0])
    np.testing.assert_array_equal(tiles[0:2, 3:5], images[1])
    np.testing.assert_array_equal(tiles[3:5, 0:2], images[2])
    assert np.isnan(tiles[2]).all() and np.isnan(tiles[:, 2]).all()
    assert np.isnan(tiles[3:5, 3:5]).all()  # the empty fourth cell


def test_digit_grid_points_carry_index_and_label_at_cell_centres():
    images = np.zeros((4, 28, 28), np.uint8)
    fig = figures.digits.grid_figure(
        images, np.array([7, 1, 7, 0]), np.array([10, 11, 12, 13]),
        class_names=tuple("0123456789"), columns=2, selected=3,
    )  # fmt: skip
    picture, clickable, labels = fig.data
    assert picture.type == "image" and (picture.x0, picture.y0, picture.dx, picture.dy) == (0, 0, 1, 1)
    grey, drawn = figures.digits.png_values(picture.source)
    assert grey.shape == (57, 57) and not drawn[28].any() and drawn[:28, :28].all()
    np.testing.assert_array_equal(clickable.customdata, [[10, 7], [11, 1], [12, 7], [13, 0]])
    np.testing.assert_allclose(clickable.x, [13.5, 42.5, 13.5, 42.5])
    np.testing.assert_allclose(clickable.y, [13.5, 13.5, 42.5, 42.5])
    assert list(labels.text) == ["7", "1", "7", "0"]
    (outline,) = fig.layout.shapes
    assert (outline.x0, outline.y0) == (28.5, 28.5)


def test_digit_grid_picture_holds_the_real_grey_levels():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    fig = figures.digits.grid_figure(images, np.arange(5) % 2, np.arange(5), class_names=("a", "b"),
                                     columns=3)  # fmt: skip
    grey, drawn = figures.digits.png_values(fig.data[0].source)
    tiles = figures.digits.mosaic(images, columns=3)
    np.testing.assert_array_equal(drawn, ~np.isnan(tiles))  # gaps and the empty cell: nothing
    np.testing.assert_array_equal(grey[drawn], tiles[drawn])  # every pixel's exact grey level


def test_class_balance_bars_show_count_and_share():
    balance = stats.class_balance(np.array([0, 0, 0, 1]), np.array([1]), class_names=("a", "b"))
    fig = figures.data.class_balance_figure(balance)
    train, test = fig.data
    assert (train.name, test.name) == ("train", "test")
    assert list(train.text) == ["3<br>75.0%", "1<br>25.0%"]
    assert list(test.text) == ["0<br>0.0%", "1<br>100.0%"]


def _tile(fig_trace, column: int, w: int) -> np.ndarray:
    """Tile ``column`` (0..) of a pixel-statistics row: its w columns after ``column`` gaps."""
    z = np.asarray(fig_trace.z, dtype=float)
    return z[:, column * (w + 1): column * (w + 1) + w]


def test_pixel_stats_figure_has_one_heat_map_per_statistic_with_every_class():
    images = np.random.default_rng(0).integers(0, 256, (30, 5, 5), dtype=np.uint8)
    labels = np.arange(30) % 3
    result = stats.pixel_stats(images, labels, n_classes=3)
    fig = figures.data.pixel_stats_figure(result, class_names=("a", "b", "c"))
    assert len(fig.data) == 3  # mean, median, sd: one heat map each (not 3 x 4)
    mean, median, sd = fig.data
    assert np.asarray(mean.z).shape == (5, 4 * 5 + 3)  # 4 tiles, 3 NaN gap columns
    for c, expected in enumerate(result.mean):  # classes a, b, c, then all
        np.testing.assert_allclose(_tile(mean, c, 5), expected)
        np.testing.assert_allclose(_tile(median, c, 5), result.median[c])
        np.testing.assert_allclose(_tile(sd, c, 5), result.std[c])
    assert np.isnan(np.asarray(mean.z, dtype=float)[:, 5]).all()  # the gap
    assert {(t.zmin, t.zmax) for t in (mean, median)} == {(0, 255)}  # one grey-level scale
    assert sd.zmax == float(np.nanmax(result.std))
    assert [t.showscale for t in fig.data].count(True) == 2
    # Hover names the class, row and column of the pixel under the mouse, and its value.
    assert mean.x[5 + 1 + 2] == "b · column 2" and mean.y[4] == "row 4"
    assert mean.hovertemplate.startswith("mean of %{x}, %{y}: %{z:.1f}")
    assert [a.text for a in fig.layout.annotations if a.text in ("a", "b", "c", "all")] == \
        ["a", "b", "c", "all"]  # fmt: skip


def test_pixel_stats_figure_tells_apart_classes_named_alike():
    arrays = {name: np.ones((3, 2, 2)) for name in ("mean", "median", "std")}
    from types import SimpleNamespace

    fig = figures.data.pixel_stats_figure(SimpleNamespace(**arrays), class_names=("x", "x"))
    assert len(set(fig.data[0].x)) == len(fig.data[0].x) == 3 * 2 + 2


def test_digit_pixels_figure_is_a_picture_with_the_values_under_the_mouse():
    image = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    fig = figures.digits.pixels_figure(image, title="#0")
    (hover,), (picture,) = fig.data, fig.layout.images  # the hover layer over the picture
    assert (picture.xref, picture.yref, picture.sizex, picture.sizey) == ("x domain", "y domain", 1, 1)
    cell = figures.digits.PIXEL_CELL
    assert figures.raster.png_pixels(picture.source).shape == (8 * cell, 8 * cell, 4)
    np.testing.assert_array_equal(hover.z, image)
    assert hover.opacity == 0 and hover.hovertemplate.startswith("row %{y}, column %{x}: %{z}")


def _click(fig, trace: int, index: int) -> dict:
    """The selection state Streamlit returns for a click on point ``index`` of ``trace``,
    with the fields the frontend sends (customdata as plotly.js reports it)."""
    data = fig.data[trace]
    point = {"curve_number": trace, "point_number": index, "point_index": index,
             "x": None if getattr(data, "x", None) is None else data.x[index],
             "y": None if getattr(data, "y", None) is None else data.y[index]}  # fmt: skip
    if getattr(data, "customdata", None) is not None:
        point["customdata"] = list(np.asarray(data.customdata)[index])
    return {"selection": {"points": [point], "point_indices": [index], "box": [], "lasso": []}}


def test_clicked_digit_reads_the_cell_under_the_click():
    images = np.zeros((6, 8, 8), np.uint8)
    fig = figures.digits.grid_figure(images, np.arange(6) % 3, np.arange(100, 106),
                                     class_names=("a", "b", "c"), columns=3)  # fmt: skip
    # The clickable trace is the one whose customdata names each digit.
    trace = next(i for i, t in enumerate(fig.data) if getattr(t, "customdata", None) is not None)
    for position in (0, 4, 5):
        state = _click(fig, trace, position)
        assert figures.digits.clicked_digit(state) == position
        assert state["selection"]["points"][0]["customdata"][0] == 100 + position
    assert figures.digits.clicked_digit(_click(fig, trace, 5), n=5) is None  # a smaller grid now
    assert figures.digits.clicked_digit(_click(fig, 0, 2)) is None  # the tiles are not cells
    assert figures.digits.clicked_digit(None) is None
    assert figures.digits.clicked_digit({"selection": {"points": []}}) is None


def test_pixel_stats_figure_takes_any_object_with_the_arrays():
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    arrays = {name: rng.random((3, 4, 4)) * 255 for name in ("mean", "median", "std")}
    fig = figures.data.pixel_stats_figure(SimpleNamespace(**arrays), class_names=("a", "b"),
                                          statistics=("std",))  # fmt: skip
    assert len(fig.data) == 1
    np.testing.assert_allclose(_tile(fig.data[0], 2, 4), arrays["std"][-1])
    assert fig.data[0].zmax == float(arrays["std"].max())
    try:
        figures.data.pixel_stats_figure(SimpleNamespace(**arrays), class_names=("a", "b"),
                                        statistics=("max",))  # fmt: skip
    except ValueError as exc:
        assert str(exc) == "Unknown statistic 'max'; pass some of mean, median, std."
    else:
        raise AssertionError("an unknown statistic was accepted")


def test_figures_package_holds_modules_only_and_imports_no_engine():
    """Figures take plain data: the package neither re-exports flat names nor imports the
    engine's computation (runs, data statistics, evaluation, embeddings)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys, mnist_core.figures as f; "
            "print(sorted(m for m in sys.modules if m.startswith('mnist_core.') "
            "and not m.startswith('mnist_core.figures'))); print(sorted(f.__all__))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.splitlines()  # fmt: skip
    assert out[0] == "[]"
    assert out[1] == str(sorted(["data", "digits", "embeddings", "evaluation", "inside",
                                 "inside_map", "raster", "runs", "selection", "studies", "style",
                                 "training"]))  # fmt: skip
    assert not hasattr(figures, "digit_grid_figure") and not hasattr(figures, "confusion_figure")


def test_captions_sit_in_a_band_above_each_digit_never_on_its_ink():
    images = np.full((4, 10, 10), 255, np.uint8)
    fig = figures.digits.grid_figure(images, np.array([1, 2, 3, 4]), np.arange(4),
                                     class_names=tuple("01234"), columns=2, cell=72,
                                     captions=["1→7 93%", "2→3 80%", "3→5 71%", "4→9 66%"])  # fmt: skip
    tiles, cells, captions = fig.data
    z, drawn = figures.digits.png_values(tiles.source)
    assert z.shape == (2 * 13 + 1, 21)  # each cell: a 3-row band, then the 10-row digit
    assert not drawn[0:3].any() and drawn[3:13, 0:10].all() and (z[3:13, 0:10] == 255).all()
    np.testing.assert_allclose(captions.y, [1, 1, 15, 15])  # band centres: rows 0-2, 14-16
    np.testing.assert_allclose(cells.y, [7.5, 7.5, 21.5, 21.5])  # digit centres
    assert list(captions.text) == ["1→7 93%", "2→3 80%", "3→5 71%", "4→9 66%"]
    assert captions.textfont.size >= 11 and captions.textposition == "middle center"
    assert fig.layout.height == int(np.ceil(2 * 72 * 14 / 11)) + 4
