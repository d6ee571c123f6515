"""Figures of the Inside the model page: arrays in, the same numbers out, on the scales
the captions promise."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.figures import inside
from mnist_core.figures.style import MIN_FONT

NAMES = tuple("0123456789")


def test_probabilities_colour_the_top_class_and_label_every_bar():
    p = np.array([0.01, 0.02, 0.0, 0.0, 0.05, 0.0, 0.0, 0.9, 0.02, 0.0])
    fig = inside.probabilities_figure(p, class_names=NAMES)
    bar = fig.data[0]
    np.testing.assert_allclose(bar.y, p)
    assert list(bar.x) == list(NAMES)
    assert [c == inside.TOP_COLOR for c in bar.marker.color] == [i == 7 for i in range(10)]
    assert bar.text[7] == "90%" and bar.text[2] == ""  # no "0%" clutter on empty bars
    assert bar.textfont.size >= MIN_FONT
    with pytest.raises(ValueError, match="probabilities has 10 values but class_names 3"):
        inside.probabilities_figure(p, class_names=("a", "b", "c"))


def test_feature_maps_tile_each_channel_on_one_scale_dark_where_strong():
    values = np.zeros((2, 3, 3), np.float32)
    values[0, 0, 0], values[1, 2, 1], values[0, 1, 2] = 4.0, 2.0, 1.0  # the rest 0
    picture = inside.feature_maps_image(values, columns=2, scale=2)
    assert picture.dtype == np.uint8 and picture.shape == ((2 * 3 - 1) * 2, (2 * 4 - 1) * 2)
    tile = picture[::2, ::2]  # one value per activation again
    assert tile[0, 0] == 0  # the layer's strongest: black
    assert tile[1, 4 + 2] == 128  # half as strong, in the second map: mid grey
    assert tile[3 + 0, 1] == 191  # a quarter, in the third map (second row)
    assert tile[0, 1] == 255 and (tile[:, 3] == 255).all()  # none, and the gap: white
    assert (tile[3:, 4:] == 255).all()  # no fourth map
    assert inside.feature_maps_image(np.ones((4, 4, 50)), max_maps=8, columns=8).shape == (
        4 * 2, (8 * 5 - 1) * 2)  # fmt: skip
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        inside.feature_maps_image(np.zeros((4, 4)))


def test_units_are_bars_signed_by_colour_and_the_output_names_its_classes():
    values = np.array([0.5, -0.25, 0.0, 2.0])
    bar = inside.units_figure(values).data[0]
    np.testing.assert_allclose(bar.y, values)
    assert list(bar.marker.color) == ["#4E79A7", "#E15759", "#4E79A7", "#4E79A7"]
    out = inside.units_figure(np.full(10, 0.1), class_names=NAMES)
    assert list(out.data[0].x) == list(NAMES) and out.layout.xaxis.type == "category"


def test_saliency_is_red_for_a_drop_blue_for_a_rise_white_at_zero_with_the_outline():
    image = np.zeros((4, 4), np.uint8)
    image[1:3, 1:3] = 255
    saliency = np.zeros((4, 4), np.float32)
    saliency[0, 0], saliency[3, 3], saliency[0, 3] = 0.4, -0.2, -0.4
    picture = inside.saliency_image(image, saliency, scale=3)
    assert picture.dtype == np.uint8 and picture.shape == (12, 12, 3)
    centre = picture[1::3, 1::3]  # the middle screen pixel of each pixel
    assert centre[0, 0].tolist() == [178, 24, 43]  # the strongest drop: RdBu's red
    assert centre[0, 3].tolist() == [33, 102, 172]  # the strongest rise: its blue
    assert centre[3, 3].tolist() == [144, 178, 214]  # half a rise: half way to blue
    assert centre[0, 1].tolist() == [255, 255, 255]  # no change: white
    outline = (picture == 0).all(axis=2)
    assert outline[3, 3:9].all() and outline[3:9, 3].all()  # the ink's top and left edges
    assert not outline[4:8, 4:8].any() and not outline[0, :].any()
    assert inside.scale_text(0.4) == "40%" and inside.scale_text(0.0024) == "0.24%"
    with pytest.raises(ValueError, match=r"got \(4, 4\) and \(2, 2\)"):
        inside.saliency_image(image, np.zeros((2, 2)))


def test_weights_share_one_diverging_scale_centred_on_zero():
    images = np.stack([np.full((3, 3), -2.0), np.eye(3), np.zeros((3, 3))])
    fig = inside.weights_figure(images, titles=("class 0", "class 1", "class 2"), columns=2)
    assert len(fig.data) == 3 and all(t.coloraxis == "coloraxis" for t in fig.data)
    axis = fig.layout.coloraxis
    assert (axis.cmin, axis.cmax, axis.cmid) == (-2.0, 2.0, 0)
    np.testing.assert_array_equal(np.asarray(fig.data[1].z), np.eye(3))
    assert [a.text for a in fig.layout.annotations] == ["class 0", "class 1", "class 2"]
    assert fig.layout.yaxis3.scaleanchor == "x3"  # square pixels in every panel
    with pytest.raises(ValueError, match="one title each"):
        inside.weights_figure(images, titles=("a",))
