"""The sidebar's dataset picker: named datasets, uploads, the offline fallback; the
choice is kept in the URL (``?dataset=``) and read by every page through
:func:`active_dataset`."""

from __future__ import annotations

import shutil
from typing import NamedTuple

import streamlit as st

from app import loaders
from mnist_core.data.datasets import (
    NAMED_DATASETS,
    Dataset,
    DatasetError,
    is_cached,
    list_uploads,
    save_upload,
)
from mnist_core.paths import datasets_dir, uploads_dir

DATASET_KEY = "dataset"
ACTIVE_KEY = "active_dataset"
DEFAULT = "mnist"
FALLBACK = "digits"


class ActiveDataset(NamedTuple):
    key: str  # picker key: a dataset name or "upload:<folder>/<file>"
    dataset: Dataset


def active_dataset() -> ActiveDataset:
    """The dataset the sidebar picker chose for this run (set by the entry script)."""
    return st.session_state[ACTIVE_KEY]


def dataset_picker() -> ActiveDataset:
    """Sidebar: choose a named dataset or an upload, or upload files. The choice lives in
    the URL (``?dataset=...``), so a reload or a shared link keeps it."""
    uploads = [
        loaders.UPLOAD_PREFIX + p.relative_to(uploads_dir()).as_posix() for p in list_uploads()
    ]
    options = list(NAMED_DATASETS) + uploads
    if DATASET_KEY not in st.session_state:  # a new session: start from the URL
        wanted = st.query_params.get(DATASET_KEY, DEFAULT)
        if wanted not in options:
            st.toast(f"The dataset in the link, {wanted}, is not here; showing {DEFAULT}.")
            wanted = DEFAULT
        st.session_state[DATASET_KEY] = wanted
    elif st.session_state[DATASET_KEY] not in options:  # an upload folder was removed
        st.session_state[DATASET_KEY] = DEFAULT
    with st.sidebar:
        st.header("Dataset")
        key = st.selectbox(
            "Dataset",
            options,
            format_func=loaders.title_of,
            key=DATASET_KEY,
            label_visibility="collapsed",
        )
        st.query_params[DATASET_KEY] = key
        st.file_uploader(
            "Upload .npz, .csv or IDX files",
            accept_multiple_files=True,
            key="upload",
            on_change=_save_upload,
            help="An .npz with x_train, y_train, x_test, y_test; a Kaggle digit-recognizer "
            "CSV (label, pixel0, ...); or the four IDX files (train-images-idx3-ubyte, ...). "
            "Uploads are kept in the cache folder.",
        )
        if error := st.session_state.pop("upload_error", None):
            st.error(error)
    return _load(key)


def _save_upload() -> None:
    files = st.session_state.get("upload") or []
    if not files:
        return
    path = save_upload([(f.name, f.getvalue()) for f in files])
    key = loaders.UPLOAD_PREFIX + path.relative_to(uploads_dir()).as_posix()
    try:
        loaders.dataset(key)
    except DatasetError as exc:
        # A file that cannot be read is not kept: it would only clutter the picker.
        shutil.rmtree(path if path.is_dir() else path.parent, ignore_errors=True)
        st.session_state["upload_error"] = str(exc)
        return
    st.session_state[DATASET_KEY] = key


def _load(key: str) -> ActiveDataset:
    named = NAMED_DATASETS.get(key)
    if named is not None and named.downloadable and not is_cached(key):
        with st.spinner(f"Downloading {named.title}…"):
            error = loaders.download_error(key)
        if error is not None:
            files = ", ".join(p.name for p in named.local_paths())
            folder = datasets_dir() / named.subdir
            st.warning(
                f"{named.title} is not in the cache and cannot be downloaded here, so the "
                f"bundled 8x8 digits are shown instead: put {files} in `{folder}` "
                "or upload it in the sidebar.",
                icon=":material/cloud_off:",
            )
            st.caption(f"Download error: {error}")
            if st.button("Try the download again"):
                loaders.download_error.clear()
                st.rerun()
            key = FALLBACK
    try:
        return ActiveDataset(key, loaders.dataset(key))
    except DatasetError as exc:
        st.error(f"{exc} The bundled 8x8 digits are shown instead.")
        return ActiveDataset(FALLBACK, loaders.dataset(FALLBACK))
