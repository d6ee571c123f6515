"""Datasets: the :class:`Dataset` value object and every place one can come from.

``load_dataset(name_or_path)`` is the one entry point:

- ``"mnist"`` and ``"fashion_mnist"``: the files ``keras.datasets`` uses, read from
  ``<cache>/datasets/`` and downloaded there once (checksum verified, never half-written)
  when missing;
- ``"digits"``: scikit-learn's bundled 8x8 digits, always available offline;
- a path: an ``.npz`` with the Keras keys, an IDX file or a folder of them (raw or gzip),
  or a CSV in the Kaggle digit-recognizer layout.

Every unusable source raises :class:`DatasetError` with one sentence naming the file and
the problem. Nothing here imports TensorFlow unless a download is actually needed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from mnist_core import paths
from mnist_core.data.files import (
    DatasetError,
    fail,
    is_idx_name,
    read_csv,
    read_idx_folder,
    read_npz,
)

__all__ = [
    "Dataset",
    "DatasetError",
    "NAMED_DATASETS",
    "fetch",
    "is_cached",
    "list_uploads",
    "load_dataset",
    "save_upload",
]

Split = Literal["train", "test"]
MAX_CLASSES = 256
DEFAULT_TEST_SIZE = 0.2
DEFAULT_SPLIT_SEED = 0


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one dataset, train and test splits.

    Attributes:
        name: short name (``"mnist"``, or the file name for files).
        x_train, x_test: uint8 ndarrays of shape (n, h, w), h == w.
        y_train, y_test: int64 ndarrays of shape (n,), values in ``range(len(class_names))``.
        class_names: one name per class, indexed by label.
        source: where it came from, for people (a path or a description).
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

    def __post_init__(self) -> None:
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            array.setflags(write=False)  # shared between sessions: nobody may mutate it

    @cached_property
    def fingerprint(self) -> str:
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(repr((array.shape, array.dtype.str)).encode())
            digest.update(np.ascontiguousarray(array).data)
        return digest.hexdigest()

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
            "train_shape": list(self.x_train.shape),
            "test_shape": list(self.x_test.shape),
            "train_class_counts": self.class_counts("train").tolist(),
            "test_class_counts": self.class_counts("test").tolist(),
            "pixel_min": int(min(p.min() for p in pixels if p.size)),
            "pixel_max": int(max(p.max() for p in pixels if p.size)),
            "source": self.source,
        }


# --------------------------------------------------------------------------- named datasets


@dataclass(frozen=True)
class RemoteFile:
    """One file of a named dataset, with the checksum ``keras.utils.get_file`` verifies."""

    name: str
    checksum: str  # sha256 (64 hex digits) or md5 (32), as the publisher gives it


@dataclass(frozen=True)
class NamedDataset:
    """A dataset known by name: where its files come from and where they are cached."""

    name: str
    title: str
    class_names: tuple[str, ...]
    files: tuple[RemoteFile, ...] = ()
    subdir: str = ""  # below <cache>/datasets, as keras.datasets lays it out
    base_url: str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

    @property
    def downloadable(self) -> bool:
        return bool(self.files)

    def local_paths(self) -> list[Path]:
        folder = paths.datasets_dir() / self.subdir
        return [folder / f.name for f in self.files]


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
    ),
    "digits": NamedDataset("digits", "scikit-learn 8x8 digits (bundled, offline)", DIGIT_NAMES),
}

# Points every download at a mirror (or, in tests, a server on 127.0.0.1).
BASE_URL_ENV_VAR = "MNIST_DATASETS_URL"


def is_cached(name: str) -> bool:
    """Whether the named dataset can be loaded without a download."""
    named = _named(name)
    return all(p.is_file() for p in named.local_paths())


def fetch(name: str, *, base_url: str | None = None, in_subprocess: bool = False) -> list[Path]:
    """Download the files of a named dataset into the cache, once; return their paths.

    Files go through ``keras.utils.get_file`` into a temporary folder, are checked against
    their published checksum, and only then move into place, so an interrupted or corrupt
    download leaves nothing behind. Files already cached are not fetched again.

    Args:
        name: a key of :data:`NAMED_DATASETS` that has files (not ``"digits"``).
        base_url: where to fetch from; defaults to ``$MNIST_DATASETS_URL`` or the Keras bucket.
        in_subprocess: run the download in a child Python process, so the calling process
            never imports TensorFlow (the Streamlit server uses this).

    Raises:
        DatasetError: the download failed or a checksum did not match.
    """
    named = _named(name)
    if not named.downloadable:
        raise DatasetError(f"{name}: this dataset is bundled and needs no download.")
    if in_subprocess:
        return _fetch_in_subprocess(named, base_url)
    base_url = base_url or os.environ.get(BASE_URL_ENV_VAR) or named.base_url
    targets = named.local_paths()
    missing = [(f, t) for f, t in zip(named.files, targets) if not t.is_file()]
    if not missing:
        return targets
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    from keras.utils import get_file  # lazy: imports TensorFlow, seconds and hundreds of MB

    with tempfile.TemporaryDirectory(dir=targets[0].parent, prefix=".download-") as tmp:
        downloaded = []
        for remote, target in missing:
            url = base_url.rstrip("/") + "/" + remote.name
            try:
                path = get_file(
                    remote.name, origin=url, file_hash=remote.checksum,
                    cache_dir=tmp, cache_subdir="",
                )  # fmt: skip
            except ValueError:
                raise DatasetError(
                    f"{remote.name}: the file downloaded from {url} does not match its "
                    "published checksum, so it was discarded (nothing was saved)."
                ) from None
            except Exception as exc:  # get_file wraps every network error in Exception
                # get_file words it "URL fetch failure on URL: CODE -- MESSAGE".
                code, _, text = str(exc).split(f"{url}: ", 1)[-1].partition(" -- ")
                reason = f"HTTP {code} {text}" if code.isdigit() else (text or code)
                raise DatasetError(
                    f"{remote.name}: could not download {named.title} from {url} ({reason})."
                ) from None
            downloaded.append((Path(path), target))
        for path, target in downloaded:
            os.replace(path, target)
    return targets


def _fetch_in_subprocess(named: NamedDataset, base_url: str | None) -> list[Path]:
    command = [sys.executable, "-m", "mnist_core", "fetch", named.name]
    if base_url:
        command += ["--base-url", base_url]
    project_root = str(paths.PROJECT_ROOT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [project_root, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise DatasetError(lines[-1] if lines else f"{named.name}: the download process failed.")
    return named.local_paths()


def _named(name: str) -> NamedDataset:
    try:
        return NAMED_DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"{name}: no dataset has this name (named datasets: {', '.join(NAMED_DATASETS)})."
        ) from None


# --------------------------------------------------------------------------- loading


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
        DatasetError: with one sentence naming the file and the problem.
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
    split = {"test_size": test_size, "seed": seed}
    if path.is_dir():
        return _from_arrays(path.name, read_idx_folder(path), source=str(path), **split)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _from_arrays(path.stem, read_npz(path), source=str(path), **split)
    if suffix == ".csv":
        images, labels = read_csv(path)
        return _from_arrays(
            path.stem, {"x_train": images, "y_train": labels}, source=str(path), **split
        )
    if is_idx_name(path.name):
        return _from_arrays(
            path.parent.name, read_idx_folder(path.parent), source=str(path.parent), **split
        )
    raise fail(
        path,
        "unknown file type; use an .npz archive, a .csv file, or IDX files "
        "named like train-images-idx3-ubyte[.gz]",
    )


def _load_named(named: NamedDataset, *, download: bool) -> Dataset:
    if named.name == "digits":
        return _load_digits()
    if not is_cached(named.name):
        if not download:
            folder = paths.datasets_dir() / named.subdir
            raise DatasetError(
                f"{named.name}: not in the cache folder {folder} and downloading is off."
            )
        fetch(named.name)
    files = named.local_paths()
    if named.name == "mnist":
        arrays = read_npz(files[0])
    else:
        arrays = read_idx_folder(files[0].parent)
    return _from_arrays(
        named.name, arrays, source=str(files[0].parent if len(files) > 1 else files[0]),
        class_names=named.class_names,
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
    return Dataset(
        "digits", x_train, y_train, x_test, y_test, DIGIT_NAMES,
        source="scikit-learn load_digits() (1,797 8x8 images, bundled)",
    )  # fmt: skip


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


def _from_arrays(
    name: str,
    arrays: dict[str, np.ndarray],
    *,
    source: str,
    class_names: tuple[str, ...] | None = None,
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SPLIT_SEED,
) -> Dataset:
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
    return Dataset(name, x_train, y_train, x_test, y_test, tuple(class_names), source=source)


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


# --------------------------------------------------------------------------- uploads

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def save_upload(files: list[tuple[str, bytes]]) -> Path:
    """Keep uploaded files in ``<cache>/uploads/<hash>/`` and return the path to load.

    ``files`` is a list of ``(file name, content)``; several files are IDX files of one
    dataset. The folder is named by a hash of the content, so uploading the same files again
    reuses it. Returns the single file's path, or the folder for several files.
    """
    if not files:
        raise DatasetError("No file was uploaded.")
    digest = hashlib.sha256()
    safe = []
    for name, content in sorted(files):
        clean = _SAFE_NAME.sub("_", Path(name).name).lstrip(".") or "upload"
        digest.update(clean.encode() + b"\0" + hashlib.sha256(content).digest())
        safe.append((clean, content))
    folder = paths.uploads_dir() / digest.hexdigest()[:16]
    if not folder.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=_mkdir(paths.uploads_dir()), prefix=".upload-"))
        for clean, content in safe:
            (tmp / clean).write_bytes(content)
        try:
            os.replace(tmp, folder)
        except OSError:  # another session saved the same upload first
            shutil.rmtree(tmp, ignore_errors=True)
    return folder / safe[0][0] if len(safe) == 1 else folder


def list_uploads() -> list[Path]:
    """Loadable paths of earlier uploads, newest first (see :func:`save_upload`)."""
    root = paths.uploads_dir()
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    result = []
    for folder in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True):
        files = [p for p in folder.iterdir() if p.is_file()]
        if len(files) == 1:
            result.append(files[0])
        elif files:
            result.append(folder)
    return result


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
