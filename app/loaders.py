"""Streamlit caches around mnist_core: what is loaded or computed once and shared.

Datasets live in one :class:`~app.memory_cache.ByteBoundedCache` for the whole server,
bounded by bytes (``$MNIST_DATASET_CACHE_MB``, default 1,024 MB), not by count:
``st.cache_resource`` can only bound by count, and eight large datasets would hold gigabytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app.text import plain
from app.memory_cache import ByteBoundedCache
from mnist_core import paths
from mnist_core.data import NAMED_DATASETS, Dataset, DatasetError, fetch, load_dataset, upload_info
from mnist_core.data import stats

UPLOAD_PREFIX = "upload:"
CACHE_MB_ENV_VAR = "MNIST_DATASET_CACHE_MB"
DEFAULT_CACHE_MB = 1024


def source_of(dataset_key: str) -> str:
    """What :func:`load_dataset` takes for a picker key: a dataset name or an upload path."""
    if dataset_key.startswith(UPLOAD_PREFIX):
        relative = dataset_key.removeprefix(UPLOAD_PREFIX)
        path = (paths.uploads_dir() / relative).resolve()
        if not path.is_relative_to(paths.uploads_dir().resolve()):
            raise DatasetError(f"{relative}: not a file in the uploads folder.")
        return str(path)
    return dataset_key


def key_of(path: str | os.PathLike) -> str:
    """The picker key of an upload's path (see :func:`source_of`)."""
    return UPLOAD_PREFIX + Path(path).relative_to(paths.uploads_dir()).as_posix()


def cache_bytes() -> int:
    """The dataset cache's bound: ``$MNIST_DATASET_CACHE_MB`` megabytes, default 1,024."""
    value = os.environ.get(CACHE_MB_ENV_VAR, "").strip()
    try:
        megabytes = float(value) if value else DEFAULT_CACHE_MB
    except ValueError:
        megabytes = -1
    if megabytes < 0:
        raise ValueError(
            f"{CACHE_MB_ENV_VAR} is {value!r}; set it to a number of megabytes "
            f"(default {DEFAULT_CACHE_MB})."
        )
    return int(megabytes * 1024 * 1024)


@st.cache_resource(show_spinner=False)
def dataset_cache() -> ByteBoundedCache[Dataset]:
    """The server's one dataset cache (created on first use, shared by all sessions)."""
    return ByteBoundedCache(cache_bytes(), size_of=lambda d: d.nbytes)


def dataset(dataset_key: str) -> Dataset:
    """The dataset for a picker key (or any path :func:`load_dataset` takes); shared
    read-only by all sessions. Never downloads. Raises :class:`DatasetError`."""
    cache = dataset_cache()
    # The cache folder is part of the key: tests and scripts move it between runs.
    key = (str(paths.cache_dir()), dataset_key)

    def load() -> Dataset:
        with st.spinner("Loading the dataset…"):
            return load_dataset(source_of(dataset_key), download=False)

    return cache.get(key, load)


def dataset_of_source(source: str) -> Dataset:
    """The dataset a run names (what :func:`load_dataset` took: a name or a path), through
    the same shared cache as the picker's, so it is held in memory once."""
    if source in NAMED_DATASETS:
        return dataset(source)
    path = Path(source)
    uploads = paths.uploads_dir().resolve()
    if path.is_absolute() and path.resolve().is_relative_to(uploads):
        return dataset(UPLOAD_PREFIX + path.resolve().relative_to(uploads).as_posix())
    return dataset(source)


def forget_dataset(dataset_key: str) -> None:
    """Drop a dataset from the cache (its upload was renamed)."""
    dataset_cache().pop((str(paths.cache_dir()), dataset_key))


def download_error(name: str) -> str | None:
    """Download a named dataset in a child process (so this server never imports
    TensorFlow); the error sentence, or None. A failure is remembered for ten minutes,
    so reruns and other sessions do not retry it on every click."""
    return _download_error(name, str(paths.cache_dir()))


@st.cache_resource(show_spinner=False, ttl=600)
def _download_error(name: str, cache_folder: str) -> str | None:
    # ``cache_folder`` is part of the key: a failure to write one folder says nothing
    # about another (tests and scripts move it).
    try:
        fetch(name, in_subprocess=True)
    except (DatasetError, OSError) as exc:
        return str(exc)
    return None


def forget_download_errors() -> None:
    """Let the next :func:`download_error` try again (the user asked to)."""
    _download_error.clear()


@st.cache_data(show_spinner="Computing pixel statistics…", max_entries=16)
def pixel_stats(dataset_key: str, split: str, fingerprint: str) -> stats.CachedPixelStats:
    # ``fingerprint`` is part of the key so a replaced file is never served stale.
    return stats.dataset_pixel_stats(dataset(dataset_key), split)


def plain_title(dataset_key: str) -> str:
    """What people call the dataset of a picker key, as plain text (for widgets' options
    and ``st.text``): a named dataset's title, or an upload's name, never its hash."""
    if dataset_key in NAMED_DATASETS:
        return NAMED_DATASETS[dataset_key].title
    try:
        info = upload_info(source_of(dataset_key))
    except DatasetError:
        info = None
    if info is None:
        return dataset_key.removeprefix(UPLOAD_PREFIX)
    return info.title


def title_of(dataset_key: str) -> str:
    """:func:`plain_title`, escaped for Markdown (captions, ``st.markdown``), so a file
    name or a link's ``?dataset=`` is shown as typed and never as an image or a link."""
    return plain(plain_title(dataset_key))
