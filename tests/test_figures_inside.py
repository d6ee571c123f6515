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


def test_feature_maps_tile_each_channel_on_one_scale():
    rng = np.random.default_rng(0)
    values = rng.random((5, 6, 3)).astype(np.float32)
    fig = inside.feature_maps_figure(values, columns=2, cell=60)
    z = np.asarray(fig.data[0].z, float)
    assert z.shape == (2 * 5 + 1, 2 * 6 + 1)
    np.testing.assert_allclose(z[:5, :6], values[..., 0])
    np.testing.assert_allclose(z[:5, 7:], values[..., 1])
    np.testing.assert_allclose(z[6:, :6], values[..., 2])
    assert np.isnan(z[6:, 7:]).all()  # the empty fourth cell
    assert fig.data[0].zmin == pytest.approx(values.min())
    assert fig.data[0].zmax == pytest.approx(values.max())
    channels = np.asarray(fig.data[0].customdata)
    assert channels[0, 0] == 0 and channels[6, 0] == 2 and channels[0, 7] == 1
    assert len(inside.feature_maps_figure(rng.random((4, 4, 50)), max_maps=8).data) == 1
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        inside.feature_maps_figure(np.zeros((4, 4)))


def test_units_are_bars_signed_by_colour_and_the_output_names_its_classes():
    values = np.array([0.5, -0.25, 0.0, 2.0])
    bar = inside.units_figure(values).data[0]
    np.testing.assert_allclose(bar.y, values)
    assert list(bar.marker.color) == ["#4E79A7", "#E15759", "#4E79A7", "#4E79A7"]
    out = inside.units_figure(np.full(10, 0.1), class_names=NAMES)
    assert list(out.data[0].x) == list(NAMES) and out.layout.xaxis.type == "category"


def test_saliency_is_centred_on_zero_beside_the_digit():
    image = np.zeros((8, 8), np.uint8)
    image[2:6, 3:5] = 255
    saliency = np.zeros((8, 8), np.float32)
    saliency[2, 3], saliency[7, 7] = 0.4, -0.1
    fig = inside.saliency_figure(image, saliency)
    digit, heat, outline = fig.data
    np.testing.assert_array_equal(np.asarray(digit.z), image)
    np.testing.assert_allclose(np.asarray(heat.z), saliency)
    assert (heat.zmin, heat.zmax, heat.zmid) == (pytest.approx(-0.4), pytest.approx(0.4), 0)
    assert heat.colorbar.tickformat == ".0~%"  # ticks of 10 % need no decimals
    small = inside.saliency_figure(image, saliency / 100).data[1]
    assert small.colorbar.tickformat == ".2~%"  # ticks of 0.1 % do (0.4 % read "0%" before)
    assert outline.type == "contour" and outline.xaxis == "x2"
    assert [a.text for a in fig.layout.annotations] == ["the digit", "occlusion saliency"]
    with pytest.raises(ValueError, match=r"got \(8, 8\) and \(4, 4\)"):
        inside.saliency_figure(image, np.zeros((4, 4)))


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
