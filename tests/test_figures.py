"""Figure builders put the right data in the right place."""

from __future__ import annotations

import numpy as np

from mnist_core import figures
from mnist_core.data import stats


def test_mosaic_places_images_row_by_row_with_nan_gaps():
    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    tiles = figures.mosaic(images, columns=2, gap=1)
    assert tiles.shape == (5, 5)
    np.testing.assert_array_equal(tiles[0:2, 0:2], images[0])
    np.testing.assert_array_equal(tiles[0:2, 3:5], images[1])
    np.testing.assert_array_equal(tiles[3:5, 0:2], images[2])
    assert np.isnan(tiles[2]).all() and np.isnan(tiles[:, 2]).all()
    assert np.isnan(tiles[3:5, 3:5]).all()  # the empty fourth cell


def test_digit_grid_points_carry_index_and_label_at_cell_centres():
    images = np.zeros((4, 28, 28), np.uint8)
    fig = figures.digit_grid_figure(
        images, np.array([7, 1, 7, 0]), np.array([10, 11, 12, 13]),
        class_names=tuple("0123456789"), columns=2, selected=3,
    )  # fmt: skip
    heatmap, clickable, labels = fig.data
    assert np.asarray(heatmap.z).shape == (57, 57)
    np.testing.assert_array_equal(clickable.customdata, [[10, 7], [11, 1], [12, 7], [13, 0]])
    np.testing.assert_allclose(clickable.x, [13.5, 42.5, 13.5, 42.5])
    np.testing.assert_allclose(clickable.y, [13.5, 13.5, 42.5, 42.5])
    assert list(labels.text) == ["7", "1", "7", "0"]
    (outline,) = fig.layout.shapes
    assert (outline.x0, outline.y0) == (28.5, 28.5)


def test_class_balance_bars_show_count_and_share():
    balance = stats.class_balance(np.array([0, 0, 0, 1]), np.array([1]), class_names=("a", "b"))
    fig = figures.class_balance_figure(balance)
    train, test = fig.data
    assert (train.name, test.name) == ("train", "test")
    assert list(train.text) == ["3<br>75.0%", "1<br>25.0%"]
    assert list(test.text) == ["0<br>0.0%", "1<br>100.0%"]


def test_pixel_stats_figure_has_one_panel_per_class_and_statistic():
    images = np.random.default_rng(0).integers(0, 256, (30, 5, 5), dtype=np.uint8)
    labels = np.arange(30) % 3
    result = stats.pixel_stats(images, labels, n_classes=3)
    fig = figures.pixel_stats_figure(result, class_names=("a", "b", "c"))
    assert len(fig.data) == 3 * 4
    np.testing.assert_allclose(fig.data[3].z, result.mean[-1])  # row 1, column "all"
    np.testing.assert_allclose(fig.data[4 + 1].z, result.median[1])
    mean_median = {(t.zmin, t.zmax) for t in fig.data[:8]}
    assert mean_median == {(0, 255)}  # one shared grey-level scale
    assert {t.zmax for t in fig.data[8:]} == {float(np.nanmax(result.std))}
    assert [t.showscale for t in fig.data].count(True) == 2


def test_digit_pixels_figure_writes_the_values():
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    fig = figures.digit_pixels_figure(image, title="#0")
    np.testing.assert_array_equal(fig.data[0].text, image)
    assert fig.data[0].texttemplate == "%{text}"
