"""The :class:`Dataset` value object: images and labels of a train and a test split, the
class names, and where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

Split = Literal["train", "test"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one dataset, train and test splits.

    Attributes:
        name: short name (``"mnist"``, or the file name for files).
        x_train, x_test: uint8 ndarrays of shape (n, h, w), h == w.
        y_train, y_test: int64 ndarrays of shape (n,), values in ``range(len(class_names))``.
        class_names: one name per class, indexed by label.
        source: where it came from, for people (a path or a description).
        title: what people call it ("MNIST handwritten digits", an upload's file name);
            defaults to ``name``.
        fingerprint: hex digest of the arrays (computed on first use); equal data gives an
            equal fingerprint, whatever the name or source, so it keys caches of results.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    title: str = ""

    def __post_init__(self) -> None:
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            array.setflags(write=False)  # shared between sessions: nobody may mutate it
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @cached_property
    def fingerprint(self) -> str:
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(repr((array.shape, array.dtype.str)).encode())
            digest.update(np.ascontiguousarray(array).data)
        return digest.hexdigest()

    @property
    def nbytes(self) -> int:
        """Memory the four arrays take."""
        return sum(a.nbytes for a in (self.x_train, self.y_train, self.x_test, self.y_test))

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def split(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of ``"train"`` or ``"test"``."""
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"Unknown split {split!r}; pass 'train' or 'test'.")

    def class_counts(self, split: Split) -> np.ndarray:
        """Number of images per class in ``split``, shape (n_classes,)."""
        return np.bincount(self.split(split)[1], minlength=self.n_classes)

    def summary(self) -> dict:
        """The plain facts the CLI and the overview show."""
        pixels = (self.x_train, self.x_test)
        return {
            "name": self.name,
            "title": self.title,
            "train_shape": list(self.x_train.shape),
            "test_shape": list(self.x_test.shape),
            "train_class_counts": self.class_counts("train").tolist(),
            "test_class_counts": self.class_counts("test").tolist(),
            "pixel_min": int(min(p.min() for p in pixels if p.size)),
            "pixel_max": int(max(p.max() for p in pixels if p.size)),
            "class_names": list(self.class_names),
            "source": self.source,
        }
