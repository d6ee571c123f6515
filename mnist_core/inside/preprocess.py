"""A drawing made into a digit the way MNIST's were made (LeCun et al.): the ink's bounding
box scaled, keeping its aspect ratio, into a 20×20 box (anti-aliased: grey levels), then
placed in a 28×28 field so that its centre of mass is at the field's centre.

Any image size works: by default the box keeps MNIST's proportion (20/28 of the side: 6
pixels of 8×8); :func:`measure_framing` reads a dataset's own framing from its images (the
8×8 ``digits`` fill their frame). Needs NumPy and Pillow only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.inside.common import InsideError

BOX_FRACTION = 20 / 28  # MNIST: a 20×20 box in a 28×28 field
INK_THRESHOLD = 0.0  # of full ink: any ink counts in the bounding box, as in MNIST
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def ink(canvas) -> np.ndarray:
    """The ink of a drawing or picture as float32 (H, W) in 0..1, light ink on dark like MNIST.

    ``canvas``: RGBA (H, W, 4), RGB (H, W, 3) or grey (H, W); uint8 (0..255) or float (0..1).
    With RGBA on a transparent background (a drawing canvas's strokes) the ink is the
    opacity; otherwise it is the lightness, inverted when the picture is dark on light
    (its border is mostly light), as for a digit written on paper, less the background's
    level (the border's strongest value, when it is under half)."""
    array = np.asarray(canvas)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InsideError(f"A drawing must be grey (H, W), RGB or RGBA (H, W, 3 or 4); got an "
                          f"array of shape {array.shape}.")  # fmt: skip
    if array.dtype == bool:
        array = array.astype(np.float32)
    elif array.dtype.kind not in "uif":
        raise InsideError(f"A drawing must hold numbers, not {array.dtype}.")
    scale = 255.0 if array.dtype.kind in "ui" or float(np.nanmax(array, initial=0)) > 1 else 1.0
    values = np.nan_to_num(array.astype(np.float32) / scale).clip(0, 1)
    if values.ndim == 3 and values.shape[2] == 4:
        alpha = values[..., 3]
        if alpha.min() < alpha.max() or alpha.max() == 0:  # strokes on a transparent canvas
            return alpha
        values = values[..., :3]
    grey = values @ _LUMA if values.ndim == 3 else values
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    light = 1.0 - grey if np.median(border) > 0.5 else grey
    # The paper's own level (the border's strongest "ink", unless the drawing reaches the
    # border) is no ink: a grey, slightly noisy sheet does not stretch the bounding box.
    background = float(np.where(np.median(border) > 0.5, 1 - border, border).max())
    if not 0 < background < 0.5:  # a clean background, or a border mostly of ink
        return light
    return ((light - background) / (1 - background)).clip(0, 1)


@dataclass(frozen=True)
class Framing:
    """Where a digit sits in its ``size``×``size`` image: its ink's bounding box is scaled
    so that its longer side is ``box`` pixels, and its centre of mass goes to ``centre``
    (row, column, in pixel indices)."""

    size: int
    box: int
    centre: tuple[float, float]

    @classmethod
    def mnist(cls, size: int = 28) -> Framing:
        """MNIST's: a 20×20 box in 28×28, centre of mass at (14, 14) (their average in
        MNIST's images); other sizes in the same proportion (a 6-pixel box in 8×8)."""
        return cls(size, max(1, min(size, round(size * BOX_FRACTION))), (size / 2, size / 2))


def measure_framing(images: np.ndarray) -> Framing:
    """The framing of a dataset's digits (n, h, w): the median longer side of their ink's
    bounding box, the mean centre of mass. MNIST's is :meth:`Framing.mnist`; the 8×8
    ``digits`` fill their frame (box 8, centre (3.5, 3.6)), so drawings for a model trained
    on them should be framed the same way."""
    images = np.asarray(images, np.float32)
    if images.ndim != 3 or not len(images):
        raise InsideError(f"measure_framing takes images (n, h, w); got shape {images.shape}.")
    size = images.shape[1]
    any_rows, any_cols = images.any(axis=2), images.any(axis=1)
    sides = [max(np.ptp(np.flatnonzero(r)) + 1, np.ptp(np.flatnonzero(c)) + 1)
             for r, c in zip(any_rows, any_cols) if r.any()]  # fmt: skip
    totals = images.sum(axis=(1, 2))
    keep = totals > 0
    index = np.arange(size, dtype=np.float32)
    cy = (images.sum(axis=2)[keep] @ index) / totals[keep]
    cx = (images.sum(axis=1)[keep] @ index) / totals[keep]
    box = int(np.median(sides)) if sides else Framing.mnist(size).box
    return Framing(size, box, (float(cy.mean()), float(cx.mean())) if keep.any() else (size / 2,) * 2)


def preprocess_drawing(canvas, *, size: int = 28, framing: Framing | None = None,
                       threshold: float = INK_THRESHOLD):
    """``canvas`` (see :func:`ink`) as MNIST would have it: uint8 (size, size), white digit
    on black; None when nothing is drawn.

    The ink's bounding box (pixels above ``threshold`` of the strongest ink) is cropped,
    scaled so its longer side fills the framing's box (aspect kept; Pillow's box filter
    averages the area each pixel covers: grey edges, no ringing), its brightest pixel set
    to 255, and placed so that its centre of mass
    falls on the framing's centre (whole pixels, clipped at the edges). ``framing``
    defaults to :meth:`Framing.mnist` of ``size``; pass :func:`measure_framing` of a
    dataset's training images to frame drawings like its digits."""
    from PIL import Image

    framing = framing or Framing.mnist(int(size))
    size = framing.size
    if size < 1 or not 1 <= framing.box <= size:
        raise InsideError(f"A framing needs a box of 1..{size} pixels in a positive size; got "
                          f"box {framing.box} in size {size}.")  # fmt: skip
    values = ink(canvas)
    peak = float(values.max(initial=0.0))
    if peak <= 0:
        return None
    rows = np.flatnonzero((values > threshold * peak).any(axis=1))
    cols = np.flatnonzero((values > threshold * peak).any(axis=0))
    crop = values[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box = framing.box
    scale = box / max(crop.shape)
    height = min(size, max(1, round(crop.shape[0] * scale)))
    width = min(size, max(1, round(crop.shape[1] * scale)))
    if (height, width) != crop.shape:
        resized = Image.fromarray(np.ascontiguousarray(crop, np.float32), mode="F").resize(
            (width, height), Image.Resampling.BOX
        )
        crop = np.asarray(resized, np.float32).clip(0, None)
    top_peak = float(crop.max(initial=0.0))
    if top_peak <= 0:
        return None
    digit = crop / top_peak
    total = float(digit.sum())
    cy = float((digit.sum(axis=1) * np.arange(height)).sum() / total)
    cx = float((digit.sum(axis=0) * np.arange(width)).sum() / total)
    top, left = round(framing.centre[0] - cy), round(framing.centre[1] - cx)
    field = np.zeros((size, size), np.float32)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + height, size), min(left + width, size)
    field[r0:r1, c0:c1] = digit[r0 - top:r1 - top, c0 - left:c1 - left]
    return np.round(field * 255).astype(np.uint8)
