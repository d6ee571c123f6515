"""Datasets known by name: where their files come from, where they are cached, their class
names, and the published checksums by which their images are recognised in any file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core import paths
from mnist_core.data.errors import DatasetError
from mnist_core.data.idx import idx_sha256


@dataclass(frozen=True)
class RemoteFile:
    """One file of a named dataset, with the checksum ``keras.utils.get_file`` verifies."""

    name: str
    checksum: str  # sha256 (64 hex digits) or md5 (32), as the publisher gives it


@dataclass(frozen=True)
class PublishedImages:
    """An images array as its publisher released it: its shape and the SHA-256 of its
    uncompressed IDX file (see :func:`mnist_core.data.idx.idx_sha256`)."""

    shape: tuple[int, ...]
    idx_sha256: str


@dataclass(frozen=True)
class NamedDataset:
    """A dataset known by name: where its files come from and where they are cached."""

    name: str
    title: str
    class_names: tuple[str, ...]
    files: tuple[RemoteFile, ...] = ()
    subdir: str = ""  # below <cache>/datasets, as keras.datasets lays it out
    base_url: str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    published_images: tuple[PublishedImages, ...] = ()

    @property
    def downloadable(self) -> bool:
        return bool(self.files)

    def local_paths(self) -> list[Path]:
        folder = paths.datasets_dir() / self.subdir
        return [folder / f.name for f in self.files]

    def cache_folder(self) -> Path:
        return paths.datasets_dir() / self.subdir


DIGIT_NAMES = tuple(str(i) for i in range(10))

NAMED_DATASETS: dict[str, NamedDataset] = {
    "mnist": NamedDataset(
        "mnist",
        "MNIST handwritten digits",
        DIGIT_NAMES,
        files=(
            RemoteFile(
                "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
            ),
        ),
        # train-images-idx3-ubyte and t10k-images-idx3-ubyte, uncompressed.
        published_images=(
            PublishedImages(
                (60000, 28, 28), "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            ),
            PublishedImages(
                (10000, 28, 28), "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            ),
        ),
    ),
    "fashion_mnist": NamedDataset(
        "fashion_mnist",
        "Fashion-MNIST (Zalando)",
        (
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),  # fmt: skip
        files=(
            RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
            RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ),
        subdir="fashion-mnist",
        published_images=(
            PublishedImages(
                (60000, 28, 28), "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            PublishedImages(
                (10000, 28, 28), "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
        ),
    ),
    "digits": NamedDataset("digits", "scikit-learn 8x8 digits", DIGIT_NAMES),  # works offline
}


def named_dataset(name: str) -> NamedDataset:
    """The registry entry of ``name``, or :class:`DatasetError` listing the names."""
    try:
        return NAMED_DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"{name}: no dataset has this name (named datasets: {', '.join(NAMED_DATASETS)})."
        ) from None


def is_cached(name: str) -> bool:
    """Whether the named dataset can be loaded without a download."""
    return all(p.is_file() for p in named_dataset(name).local_paths())


def recognise(arrays: dict[str, np.ndarray]) -> NamedDataset | None:
    """The named dataset whose published images are in ``arrays`` (``x_train`` or ``x_test``,
    as a file reader returns them), compared by checksum, or None.

    Only arrays with a published shape are hashed, so an unrelated dataset costs nothing.
    """
    known = {
        (p.shape, p.idx_sha256): named
        for named in NAMED_DATASETS.values()
        for p in named.published_images
    }
    shapes = {shape for shape, _ in known}
    for key in ("x_train", "x_test"):
        array = arrays.get(key)
        if array is None or array.shape not in shapes:
            continue
        digest = idx_sha256(array)
        if (array.shape, digest) in known:
            return known[(array.shape, digest)]
    return None
