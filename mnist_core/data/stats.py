"""Descriptive statistics of an image dataset: class balance and pixel-wise images per class."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mnist_core.data.dataset import Dataset, Split

from mnist_core import paths
from mnist_core.diskcache import load_arrays, save_arrays_atomic, storage_error

__all__ = [
    "CachedPixelStats",
    "PixelStats",
    "class_balance",
    "dataset_pixel_stats",
    "pixel_stats",
    "select_digits",
]


def class_balance(
    y_train: np.ndarray, y_test: np.ndarray, *, class_names: tuple[str, ...]
) -> pd.DataFrame:
    """Images per class and split, with relative frequencies.

    Returns:
        DataFrame with one row per (class, split) and columns ``class`` (the class name),
        ``label``, ``split`` (``"train"`` or ``"test"``), ``count`` and ``share`` (the
        class's fraction of its split, 0..1).
    """
    rows = []
    for split, labels in (("train", y_train), ("test", y_test)):
        counts = np.bincount(labels, minlength=len(class_names))
        total = max(int(counts.sum()), 1)
        for label, count in enumerate(counts):
            rows.append(
                {
                    "class": class_names[label],
                    "label": label,
                    "split": split,
                    "count": int(count),
                    "share": count / total,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PixelStats:
    """Pixel-wise statistics per class.

    ``mean``, ``median`` and ``std`` are float64 arrays of shape (n_classes + 1, h, w): one
    image per class, and last the image over all classes. ``counts`` has shape
    (n_classes + 1,). A class with no images has NaN images. ``std`` is the population
    standard deviation (``ddof=0``), as ``np.std`` computes by default.
    """

    mean: np.ndarray
    median: np.ndarray
    std: np.ndarray
    counts: np.ndarray

    def image(self, statistic: str, index: int) -> np.ndarray:
        """The (h, w) image of ``statistic`` (``"mean"``, ``"median"``, ``"std"``) for a class
        index, or ``-1`` for all classes."""
        if statistic not in ("mean", "median", "std"):
            raise ValueError(f"Unknown statistic {statistic!r}; pass 'mean', 'median' or 'std'.")
        return getattr(self, statistic)[index]


def pixel_stats(images: np.ndarray, labels: np.ndarray, *, n_classes: int) -> PixelStats:
    """Mean, median and standard deviation of every pixel, per class and over all classes.

    Works from one histogram of the 256 grey levels per pixel and class, so the median is
    exact and all three statistics cost one pass over the images, without sorting.

    Args:
        images: uint8 ndarray of shape (n, h, w).
        labels: integer ndarray of shape (n,), values in ``range(n_classes)``.
        n_classes: number of classes.
    """
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8; got {images.dtype}.")
    if len(images) != len(labels):
        raise ValueError(
            f"images and labels differ in length: {len(images)} images, {len(labels)} labels."
        )
    n, h, w = images.shape
    n_pixels = h * w
    flat = images.reshape(n, n_pixels)
    # hist[c, p, v]: how many images of class c have grey level v at pixel p.
    hist = np.zeros((n_classes + 1, n_pixels, 256), dtype=np.int64)
    offsets = (np.arange(n_pixels, dtype=np.int32) * 256)[None, :]
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_classes + 1))
    for cls in range(n_classes):
        rows = order[bounds[cls] : bounds[cls + 1]]
        if len(rows):
            index = flat[rows].astype(np.int32) + offsets
            hist[cls] = np.bincount(index.ravel(), minlength=n_pixels * 256).reshape(
                n_pixels, 256
            )
    hist[n_classes] = hist[:n_classes].sum(axis=0)
    mean, median, std = _moments_and_median(hist)
    shape = (n_classes + 1, h, w)
    return PixelStats(
        mean.reshape(shape),
        median.reshape(shape),
        std.reshape(shape),
        counts=hist[:, 0, :].sum(axis=1),
    )


def _moments_and_median(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, median and population std from histograms of shape (..., 256)."""
    levels = np.arange(256, dtype=np.float64)
    n = hist.sum(axis=-1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = hist @ levels / n
        second = hist @ (levels**2) / n
    std = np.sqrt(np.maximum(second - mean**2, 0.0))
    # The median is the mean of the values at sorted positions floor((n-1)/2) and
    # ceil((n-1)/2): the first grey levels whose cumulative count passes each position.
    cumulative = np.cumsum(hist, axis=-1)
    low_rank = (n.astype(np.int64) - 1) // 2
    high_rank = n.astype(np.int64) // 2
    low = (cumulative <= low_rank[..., None]).sum(axis=-1)
    high = (cumulative <= high_rank[..., None]).sum(axis=-1)
    median = np.where(n > 0, (low + high) / 2.0, np.nan)
    return mean, median, std


class CachedPixelStats(NamedTuple):
    """:class:`PixelStats` and, when they could not be kept on disk, why (one sentence)."""

    stats: PixelStats
    cache_error: str | None = None


def dataset_pixel_stats(dataset: Dataset, split: Split) -> CachedPixelStats:
    """:func:`pixel_stats` of one split of ``dataset``, cached on disk under
    ``<cache>/stats/`` by the dataset's fingerprint, so it is computed once per dataset.

    A cache file that is missing or damaged is recomputed; one that cannot be written (a
    full or read-only disk) leaves the statistics computed in memory, with the reason."""
    images, labels = dataset.split(split)
    path = paths.cache_dir() / "stats" / f"pixels-{dataset.fingerprint}-{split}.npz"
    keys = {f.name for f in fields(PixelStats)}
    arrays = load_arrays(path)
    if arrays is not None and set(arrays) == keys:
        return CachedPixelStats(PixelStats(**arrays))
    stats = pixel_stats(images, labels, n_classes=dataset.n_classes)
    try:
        save_arrays_atomic(path, asdict(stats))
    except OSError as exc:
        return CachedPixelStats(stats, str(storage_error(exc, path)))
    return CachedPixelStats(stats)


def select_digits(
    labels: np.ndarray,
    n: int,
    *,
    order: str = "first",
    label: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Indices of up to ``n`` images to show: the first ones or a seeded random sample,
    optionally of one class only.

    Args:
        labels: ndarray of shape (n_images,).
        n: how many indices at most.
        order: ``"first"`` (in dataset order) or ``"random"`` (seeded, without replacement,
            sorted by nothing: the sample's own order).
        label: keep only images of this class; None keeps all.
        seed: seed of the random sample.
    """
    if order not in ("first", "random"):
        raise ValueError(f"Unknown order {order!r}; pass 'first' or 'random'.")
    candidates = np.arange(len(labels)) if label is None else np.flatnonzero(labels == label)
    if order == "first":
        return candidates[:n]
    rng = np.random.default_rng(seed)
    return rng.choice(candidates, size=min(n, len(candidates)), replace=False)
