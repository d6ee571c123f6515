"""A drawing framed the way MNIST's digits were: crop to the ink, scale into 20×20 keeping
the aspect ratio, centre of mass at the centre of 28×28; any size (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import inside
from mnist_core.data import load_dataset
from mnist_core.inside.preprocess import Framing


def _canvas(size=280, *, rows=(40, 240), cols=(120, 160), rgba=True) -> np.ndarray:
    """A vertical bar of ink (a "1") on a transparent canvas."""
    canvas = np.zeros((size, size, 4), np.uint8)
    canvas[rows[0]:rows[1], cols[0]:cols[1]] = (0, 0, 0, 255)
    return canvas


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    image = image.astype(float)
    rows, cols = np.indices(image.shape)
    return (image * rows).sum() / image.sum(), (image * cols).sum() / image.sum()


def test_an_empty_drawing_is_none():
    assert inside.preprocess_drawing(np.zeros((280, 280, 4), np.uint8)) is None
    assert inside.preprocess_drawing(np.full((280, 280, 3), 255, np.uint8)) is None  # white paper
    assert inside.preprocess_drawing(np.zeros((28, 28))) is None


def test_the_ink_is_scaled_into_20_pixels_keeping_its_aspect_and_centred():
    digit = inside.preprocess_drawing(_canvas())  # 200 × 40 pixels of ink
    assert digit.shape == (28, 28) and digit.dtype == np.uint8 and digit.max() == 255
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    assert len(rows) == 20 and len(cols) in (4, 5, 6)  # 20 × 4: the aspect ratio kept
    cy, cx = _centre_of_mass(digit)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_where_and_how_big_it_is_drawn_does_not_matter():
    small = inside.preprocess_drawing(_canvas(rows=(10, 60), cols=(10, 20)))
    big = inside.preprocess_drawing(_canvas(rows=(20, 270), cols=(200, 250)))
    assert np.abs(small.astype(int) - big.astype(int)).mean() < 6


def test_every_kind_of_picture_gives_the_same_digit():
    drawn = inside.preprocess_drawing(_canvas())  # black strokes on a transparent canvas
    ink = _canvas()[..., 3]
    same = [
        inside.preprocess_drawing(ink),  # grey, light on dark (MNIST's way)
        inside.preprocess_drawing(255 - ink),  # grey, dark on light (paper)
        inside.preprocess_drawing(np.repeat((255 - ink)[..., None], 3, axis=2)),  # RGB paper
        inside.preprocess_drawing(ink.astype(np.float32) / 255),  # floats 0..1
        inside.preprocess_drawing(np.dstack([np.repeat(ink[..., None], 3, axis=2),
                                             np.full_like(ink, 255)])),  # opaque RGBA, white ink
    ]  # fmt: skip
    for digit in same:
        np.testing.assert_array_equal(digit, drawn)


def test_a_grey_paper_background_is_not_ink():
    paper = np.full((100, 100), 200, np.uint8)  # grey paper, a little noise
    paper += np.random.default_rng(0).integers(0, 10, paper.shape, dtype=np.uint8)
    paper[20:80, 45:55] = 20  # the stroke
    digit = inside.preprocess_drawing(paper)
    assert len(np.flatnonzero(digit.any(axis=1))) == 20  # the stroke's box, not the paper's


def test_other_sizes_keep_mnists_proportion_or_the_datasets_own():
    assert Framing.mnist(28) == Framing(28, 20, (14.0, 14.0))
    assert Framing.mnist(8).box == 6
    eight = inside.preprocess_drawing(_canvas(), size=8)
    assert eight.shape == (8, 8) and len(np.flatnonzero(eight.any(axis=1))) == 6
    digits = load_dataset("digits")
    framing = inside.measure_framing(digits.x_train)
    assert framing.size == 8 and framing.box == 8  # the 8×8 digits fill their frame
    assert framing.centre == pytest.approx((3.5, 3.5), abs=0.15)
    filled = inside.preprocess_drawing(_canvas(), framing=framing)
    assert len(np.flatnonzero(filled.any(axis=1))) == 8
    # Re-framing the dataset's own digits with its framing changes them little; MNIST's
    # proportion would shrink them into 6 of their 8 pixels.
    own = np.stack([inside.preprocess_drawing(d, framing=framing) for d in digits.x_test])
    mnist_way = np.stack([inside.preprocess_drawing(d, size=8) for d in digits.x_test])
    own_diff = np.abs(own.astype(float) - digits.x_test).mean()
    mnist_diff = np.abs(mnist_way.astype(float) - digits.x_test).mean()
    assert own_diff < 25 < mnist_diff


def test_mnists_own_framing_is_measured_back(mnist_npz):
    with np.load(mnist_npz) as data:
        images = data["x_train"][:2000]
    framing = inside.measure_framing(images)
    assert framing.box == 20 and framing.centre == pytest.approx((14.0, 14.0), abs=0.1)


@pytest.mark.parametrize("canvas,message", [
    (np.zeros((4, 4, 2)), r"grey \(H, W\), RGB or RGBA"),
    (np.zeros((2, 4, 4, 4)), r"grey \(H, W\), RGB or RGBA"),
    (np.array([["a"]]), "must hold numbers"),
])  # fmt: skip
def test_bad_drawings_are_one_sentence(canvas, message):
    with pytest.raises(inside.InsideError, match=message):
        inside.preprocess_drawing(canvas)
