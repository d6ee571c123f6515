"""From the arrays a file holds to a :class:`Dataset`: images and labels checked and brought
to uint8 / int64, and a stratified test split held out when the file has none."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_core.data.dataset import Dataset
from mnist_core.data.errors import DatasetError

MAX_CLASSES = 256
DEFAULT_TEST_SIZE = 0.2
DEFAULT_SPLIT_SEED = 0


def stratified_split(
    images: np.ndarray, labels: np.ndarray, *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, y_train, x_test, y_test``: ``test_size`` of each class held out, seeded.

    Each class keeps at least one training image; order within a split follows the input.
    """
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n_test = min(int(round(test_size * len(members))), len(members) - 1)
        is_test[rng.choice(members, size=n_test, replace=False)] = True
    return images[~is_test], labels[~is_test], images[is_test], labels[is_test]


def dataset_from_arrays(
    name: str,
    arrays: dict[str, np.ndarray],
    *,
    source: str,
    class_names: tuple[str, ...] | None = None,
    title: str = "",
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SPLIT_SEED,
) -> Dataset:
    """A :class:`Dataset` from ``x_train, y_train`` (and ``x_test, y_test`` if present).

    Images may be (n, h, w), (n, h, w, 1) or flat (n, side*side), of any numeric dtype with
    values in 0..255 (or floats in 0..1, scaled); labels integers 0..255. Without a test
    split, ``test_size`` of each class is held out with ``seed``.

    Raises:
        DatasetError: one sentence naming the file (``source``'s last part) and the problem.
    """
    where = Path(source).name
    x_train = _as_images(arrays["x_train"], where, "x_train")
    y_train = _as_labels(arrays["y_train"], where, "y_train")
    _check_lengths(where, "x_train", x_train, "y_train", y_train)
    if "x_test" in arrays:
        x_test = _as_images(arrays["x_test"], where, "x_test")
        y_test = _as_labels(arrays["y_test"], where, "y_test")
        _check_lengths(where, "x_test", x_test, "y_test", y_test)
        if x_test.shape[1:] != x_train.shape[1:]:
            raise DatasetError(
                f"{where}: test images are {_size(x_test)} but training images are "
                f"{_size(x_train)}."
            )
    else:
        if len(x_train) < 2:
            raise DatasetError(f"{where}: needs at least 2 images to hold out a test split.")
        x_train, y_train, x_test, y_test = stratified_split(
            x_train, y_train, test_size=test_size, seed=seed
        )
    n_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    if class_names is None:
        class_names = tuple(str(i) for i in range(n_classes))
    elif n_classes > len(class_names):
        raise DatasetError(
            f"{where}: labels go up to {n_classes - 1} but the dataset has "
            f"{len(class_names)} classes."
        )
    return Dataset(
        name, x_train, y_train, x_test, y_test, tuple(class_names), source=source, title=title
    )


def _size(images: np.ndarray) -> str:
    return f"{images.shape[1]}x{images.shape[2]}"


def _check_lengths(where: str, x_key: str, x, y_key: str, y) -> None:
    if len(x) != len(y):
        raise DatasetError(
            f"{where}: {x_key} has {len(x):,} images but {y_key} has {len(y):,} labels."
        )


def _as_images(array: np.ndarray, where: str, key: str) -> np.ndarray:
    """uint8 images (n, side, side) from (n, h, w), (n, h, w, 1) or flat (n, side*side)."""
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        side = int(np.sqrt(array.shape[1]))
        if side * side != array.shape[1]:
            raise DatasetError(
                f"{where}: {key} rows have {array.shape[1]} pixels, which is not a square image."
            )
        array = array.reshape(len(array), side, side)
    if array.ndim != 3:
        raise DatasetError(
            f"{where}: {key} has shape {array.shape}; expected images of shape (n, height, width)."
        )
    if array.shape[0] == 0:
        raise DatasetError(f"{where}: {key} holds no images.")
    if array.shape[1] != array.shape[2]:
        raise DatasetError(
            f"{where}: {key} images are {array.shape[1]}x{array.shape[2]}; "
            "only square images are supported."
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "iuf" and array.dtype != np.bool_:
        raise DatasetError(f"{where}: {key} has dtype {array.dtype}; expected numeric pixels.")
    if array.dtype.kind == "f":
        if np.isnan(array).any():
            raise DatasetError(f"{where}: {key} contains NaN pixel values.")
        # Images already scaled to [0, 1] are scaled back to 0..255.
        if array.max() <= 1.0 and array.min() >= 0.0:
            array = array * 255.0
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise DatasetError(
            f"{where}: {key} has pixel values from {low:g} to {high:g}; they must lie in 0..255."
        )
    return np.rint(array).astype(np.uint8) if array.dtype.kind == "f" else array.astype(np.uint8)


def _as_labels(array: np.ndarray, where: str, key: str) -> np.ndarray:
    """int64 labels (n,), each an integer in 0..255."""
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DatasetError(f"{where}: {key} has shape {array.shape}; expected labels of shape (n,).")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise DatasetError(
                f"{where}: {key} holds non-integer labels; labels must be class numbers 0, 1, 2, ..."
            )
    elif array.dtype.kind not in "iub":
        raise DatasetError(f"{where}: {key} has dtype {array.dtype}; labels must be integers.")
    if array.size and (array.min() < 0 or array.max() >= MAX_CLASSES):
        raise DatasetError(
            f"{where}: {key} holds labels from {array.min():g} to {array.max():g}; "
            f"labels must be class numbers from 0 to {MAX_CLASSES - 1}."
        )
    return array.astype(np.int64)
