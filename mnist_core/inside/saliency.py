"""Which pixels drove a prediction, by occlusion (Zeiler & Fergus, 2014): blank one square
patch of the digit at a time, see how much the predicted class's probability drops, and
give each pixel the mean drop of the patches that covered it. Model-agnostic and exact for
what it measures; every occluded copy goes through onnxruntime in one batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mnist_core.inside.common import InsideError

METHOD = "occlusion"


@dataclass(frozen=True)
class Saliency:
    """``values`` float32 (h, w): the mean drop of the ``target`` class's probability when a
    patch covering the pixel is blanked (positive: the pixel supported the class; negative:
    it spoke against it). ``probability``: the target's probability on the intact image.
    ``method`` is always "occlusion"; ``description`` says it in one sentence."""

    values: np.ndarray
    method: str
    target: int
    probability: float
    patch: int
    stride: int
    fill: float

    @property
    def description(self) -> str:
        return (f"Occlusion: each pixel shows how much the probability of class {self.target} "
                f"({self.probability:.1%}) drops, on average, when a {self.patch}×{self.patch} "
                f"patch over it is blanked (patches every {self.stride} pixels).")  # fmt: skip


def _starts(length: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)  # the last patch reaches the edge
    return starts


def occlusion_map(image: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], *,
                  patch: int, stride: int, target: int | None = None,
                  fill: float = 0.0) -> Saliency:
    """Occlusion saliency of ``image`` (h, w; grey levels 0..255) under ``predict``
    (images (n, h, w) -> probabilities (n, classes)), all occluded copies in one call."""
    image = np.asarray(image, np.float32)
    if image.ndim != 2:
        raise InsideError(f"Saliency takes one image (h, w); got shape {image.shape}.")
    h, w = image.shape
    if not 1 <= patch <= min(h, w) or stride < 1:
        raise InsideError(f"The patch must be 1..{min(h, w)} pixels and the stride at least 1; "
                          f"got patch {patch}, stride {stride}.")  # fmt: skip
    positions = [(r, c) for r in _starts(h, patch, stride) for c in _starts(w, patch, stride)]
    batch = np.repeat(image[None], len(positions) + 1, axis=0)
    for i, (r, c) in enumerate(positions, start=1):
        batch[i, r:r + patch, c:c + patch] = fill
    probabilities = np.asarray(predict(batch))
    target = int(probabilities[0].argmax()) if target is None else int(target)
    if not 0 <= target < probabilities.shape[1]:
        raise InsideError(f"The target class must be 0..{probabilities.shape[1] - 1}; got {target}.")
    drops = probabilities[0, target] - probabilities[1:, target]
    total = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.int32)
    for drop, (r, c) in zip(drops, positions):
        total[r:r + patch, c:c + patch] += drop
        count[r:r + patch, c:c + patch] += 1
    values = (total / np.maximum(count, 1)).astype(np.float32)
    return Saliency(values, METHOD, target, float(probabilities[0, target]), patch, stride, fill)


def default_patch(side: int) -> tuple[int, int]:
    """Patch and stride for a ``side``-pixel image: 4 and 2 for 28×28 (a stroke's width),
    1 and 1 for 8×8."""
    patch = max(1, round(side / 7))
    return patch, max(1, patch // 2)


def occlusion_saliency(model, image, *, patch: int | None = None, stride: int | None = None,
                       target: int | None = None) -> Saliency:
    """Occlusion saliency of ``image`` for an :class:`~mnist_core.inside.runtime.InsideModel`
    (default patch and stride: :func:`default_patch`; target: the predicted class)."""
    side = min(model.image_shape)
    default, default_stride = default_patch(side)
    return occlusion_map(np.asarray(image), model.predict, patch=patch or default,
                         stride=stride or default_stride, target=target)  # fmt: skip
