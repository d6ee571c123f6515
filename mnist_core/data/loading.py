"""``load_dataset(name_or_path)``: the one entry point from a name or a file to a :class:`Dataset`.

- ``"mnist"`` and ``"fashion_mnist"``: the files ``keras.datasets`` uses, read from
  ``<cache>/datasets/`` and downloaded there once when missing (see :mod:`.download`);
- ``"digits"``: scikit-learn's bundled 8x8 digits, always available offline;
- a path: an ``.npz`` with the Keras keys, an IDX file or a folder of them (raw or gzip),
  or a CSV in the Kaggle digit-recognizer layout. A file holding a published dataset's
  images gets that dataset's class names; an upload gets the names its user gave it.

Every unusable source raises :class:`DatasetError` with one sentence naming the file and
the problem. Nothing here imports TensorFlow unless a download is actually needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mnist_core.data import uploads
from mnist_core.data.arrays import (
    DEFAULT_SPLIT_SEED,
    DEFAULT_TEST_SIZE,
    dataset_from_arrays,
    stratified_split,
)
from mnist_core.data.dataset import Dataset
from mnist_core.data.download import fetch
from mnist_core.data.errors import DatasetError, fail
from mnist_core.data.files import ByteBudget
from mnist_core.data.idx import is_idx_name, read_idx_folder
from mnist_core.data.kaggle_csv import read_csv
from mnist_core.data.named import DIGIT_NAMES, NAMED_DATASETS, NamedDataset, is_cached, recognise
from mnist_core.data.npz import read_npz


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    download: bool = True,
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SPLIT_SEED,
) -> Dataset:
    """Load a dataset by name or from a file or folder.

    Args:
        name_or_path: ``"mnist"``, ``"fashion_mnist"``, ``"digits"``, or the path of an
            ``.npz`` file, a CSV file, an IDX file or a folder of IDX files.
        download: fetch a named dataset that is not cached yet (see :func:`fetch`);
            when False, a missing named dataset raises :class:`DatasetError`.
        test_size: share of the images held out, stratified by class, as the test split
            of a file that has no test split of its own (CSV, or train-only npz/IDX).
        seed: seed of that held-out split.

    Returns:
        A :class:`Dataset`.

    Raises:
        DatasetError: with one sentence naming the file and the problem (also when the
            arrays would take more than ``$MNIST_MAX_DATASET_BYTES``).
        StorageError: a download could not be written to the cache folder.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size}.")
    key = os.fspath(name_or_path)
    if key in NAMED_DATASETS:
        return _load_named(NAMED_DATASETS[key], download=download)
    path = Path(key).expanduser()
    if not path.exists():
        raise DatasetError(
            f"{path.name or key}: no such file or folder, and no dataset has this name "
            f"(named datasets: {', '.join(NAMED_DATASETS)})."
        )
    name, source, arrays = _read_path(path, ByteBudget())
    class_names, title = _names(path, arrays)
    return dataset_from_arrays(
        name, arrays, source=source, class_names=class_names, title=title,
        test_size=test_size, seed=seed,
    )  # fmt: skip


def _read_path(path: Path, budget: ByteBudget) -> tuple[str, str, dict[str, np.ndarray]]:
    """``(name, source, arrays)`` of a file or folder."""
    if path.is_dir():
        return path.name, str(path), read_idx_folder(path, budget=budget)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return path.stem, str(path), read_npz(path, budget=budget)
    if suffix == ".csv":
        images, labels = read_csv(path, budget=budget)
        return path.stem, str(path), {"x_train": images, "y_train": labels}
    if is_idx_name(path.name):
        folder = path.parent
        return folder.name, str(folder), read_idx_folder(folder, budget=budget)
    raise fail(
        path,
        "unknown file type; use an .npz archive, a .csv file, or IDX files "
        "named like train-images-idx3-ubyte[.gz]",
    )


def _names(path: Path, arrays: dict[str, np.ndarray]) -> tuple[tuple[str, ...] | None, str]:
    """Class names and title: the user's for a named upload, else the published dataset's
    when the images are one, else numbered classes and the file's (or upload's) name."""
    info = uploads.upload_info(path)
    if info is not None and info.named_by == "user":
        return info.class_names, info.title
    known = recognise(arrays)
    if known is not None:
        return known.class_names, f"{known.title}, {'uploaded' if info else 'from ' + path.name}"
    return None, info.title if info is not None else ""


def _load_named(named: NamedDataset, *, download: bool) -> Dataset:
    if named.name == "digits":
        return _load_digits()
    if not is_cached(named.name):
        if not download:
            raise DatasetError(
                f"{named.name}: not in the cache folder {named.cache_folder()} and "
                "downloading is off."
            )
        fetch(named.name)
    files = named.local_paths()
    if files[0].suffix == ".npz":
        arrays = read_npz(files[0])
    else:
        arrays = read_idx_folder(files[0].parent)
    return dataset_from_arrays(
        named.name, arrays, source=str(files[0].parent if len(files) > 1 else files[0]),
        class_names=named.class_names, title=named.title,
    )  # fmt: skip


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits  # lazy: scikit-learn takes a second to import

    bunch = load_digits()
    # Pixel values are 0..16; scale them to the 0..255 of the other datasets.
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    x_train, y_train, x_test, y_test = stratified_split(
        images, labels, test_size=DEFAULT_TEST_SIZE, seed=DEFAULT_SPLIT_SEED
    )
    named = NAMED_DATASETS["digits"]
    return Dataset(
        "digits", x_train, y_train, x_test, y_test, DIGIT_NAMES,
        source="scikit-learn load_digits() (1,797 8x8 images, bundled)", title=named.title,
    )  # fmt: skip
