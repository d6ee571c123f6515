"""Streamlit caches around mnist_core: what is loaded or computed once and shared."""

from __future__ import annotations

import json

import streamlit as st

from mnist_core import embeddings
from mnist_core.data import stats
from mnist_core.data.datasets import NAMED_DATASETS, Dataset, DatasetError, fetch, load_dataset
from mnist_core.paths import uploads_dir

UPLOAD_PREFIX = "upload:"


def source_of(dataset_key: str) -> str:
    """What :func:`load_dataset` takes for a picker key: a dataset name or an upload path."""
    if dataset_key.startswith(UPLOAD_PREFIX):
        relative = dataset_key.removeprefix(UPLOAD_PREFIX)
        path = (uploads_dir() / relative).resolve()
        if not path.is_relative_to(uploads_dir().resolve()):
            raise DatasetError(f"{relative}: not a file in the uploads folder.")
        return str(path)
    return dataset_key


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def dataset(dataset_key: str) -> Dataset:
    """The dataset for a picker key; shared read-only by all sessions. Never downloads."""
    return load_dataset(source_of(dataset_key), download=False)


@st.cache_resource(show_spinner=False, ttl=600)
def download_error(name: str) -> str | None:
    """Download a named dataset in a child process (so this server never imports
    TensorFlow); the error sentence, or None. A failure is remembered for ten minutes,
    so reruns and other sessions do not retry it on every click."""
    try:
        fetch(name, in_subprocess=True)
    except DatasetError as exc:
        return str(exc)
    return None


@st.cache_data(show_spinner="Computing pixel statistics…", max_entries=16)
def pixel_stats(dataset_key: str, split: str, fingerprint: str) -> stats.PixelStats:
    # ``fingerprint`` is part of the key so a replaced file is never served stale.
    return stats.dataset_pixel_stats(dataset(dataset_key), split)


def title_of(dataset_key: str) -> str:
    if dataset_key in NAMED_DATASETS:
        return NAMED_DATASETS[dataset_key].title
    return "upload: " + dataset_key.removeprefix(UPLOAD_PREFIX)


@st.cache_resource(show_spinner="Reading the embedding…", max_entries=8)
def embedding(request_json: str) -> embeddings.EmbeddingResult:
    """A computed embedding, read once from disk and shared (read-only) by all sessions.

    Raises LookupError when it is not stored (yet), so that absence is never cached."""
    request = embeddings.EmbeddingRequest.from_json(json.loads(request_json))
    result = embeddings.load_cached(request)
    if result is None:
        raise LookupError(f"No stored embedding for {request.key}.")
    return result
