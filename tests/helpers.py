"""Writers for small test files in the formats the loaders read, and reading text the
app escaped."""

from __future__ import annotations

import gzip
import os
import struct
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = array.astype(">i4")
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_idx_folder(folder: Path, arrays: dict, *, compress: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    names = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, array in arrays.items():
        write_idx(folder / (names[key] + suffix), array, compress=compress)
    return folder


def write_kaggle_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    n, h, w = images.shape
    header = "label," + ",".join(f"pixel{i}" for i in range(h * w))
    rows = [
        ",".join(map(str, [int(label), *image.ravel().tolist()]))
        for image, label in zip(images, labels)
    ]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def as_shown(markdown: str) -> str:
    """A string the app escaped with :func:`app.text.plain`, as the browser shows it."""
    import re

    from app.text import WORD_JOINER

    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


@contextmanager
def cache_at(folder: Path):
    """``MNIST_CACHE_DIR`` pointed at ``folder`` for the block, then put back (for
    session-scoped fixtures, which cannot use ``monkeypatch``)."""
    before = os.environ.get("MNIST_CACHE_DIR")
    os.environ["MNIST_CACHE_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("MNIST_CACHE_DIR", None)
        else:
            os.environ["MNIST_CACHE_DIR"] = before
