"""The sidebar's dataset picker: named datasets, uploads, the offline fallback.

The picker always shows the dataset the pages show: when MNIST cannot be downloaded or a
file cannot be read, it moves to the bundled 8x8 digits and says why just below itself.
The choice is kept in the URL (``?dataset=``) and read by every page through
:func:`active_dataset`.
"""

from __future__ import annotations

import shutil
from typing import NamedTuple

import streamlit as st

from app import loaders
from app.text import plain
from mnist_core.data import (
    NAMED_DATASETS,
    Dataset,
    DatasetError,
    is_cached,
    list_uploads,
    save_upload,
    upload_info,
)
from mnist_core.data.uploads import remember_title, upload_folder

DATASET_KEY = "dataset"
ACTIVE_KEY = "active_dataset"
NOTICE_KEY = "dataset_notice"
UPLOAD_KEY = "upload"
UPLOAD_ROUND_KEY = "upload_round"
UPLOAD_ERROR_KEY = "upload_error"
DEFAULT = "mnist"
FALLBACK = "digits"


class ActiveDataset(NamedTuple):
    key: str  # picker key: a dataset name or "upload:<folder>/<file>"
    dataset: Dataset


class Notice(NamedTuple):
    """Why the picker shows the fallback instead of what was asked for."""

    wanted: str  # the key asked for
    message: str  # one sentence, plain text
    detail: str  # the error, plain text
    retry: bool  # a download that may work later


def active_dataset() -> ActiveDataset:
    """The dataset the sidebar picker chose for this run (set by the entry script)."""
    return st.session_state[ACTIVE_KEY]


def dataset_picker() -> ActiveDataset:
    """Sidebar: choose a named dataset or an upload, or upload files. The choice lives in
    the URL (``?dataset=...``), so a reload or a shared link keeps it."""
    options = list(NAMED_DATASETS) + [loaders.key_of(p) for p in list_uploads()]
    if DATASET_KEY not in st.session_state:  # a new session: start from the URL
        wanted = st.query_params.get(DATASET_KEY, DEFAULT)
        if wanted not in options:
            st.toast(
                f"The dataset in the link, {plain(wanted)}, is not here; "
                f"showing {plain(loaders.plain_title(DEFAULT))}."
            )
            wanted = DEFAULT
        st.session_state[DATASET_KEY] = wanted
    elif st.session_state[DATASET_KEY] not in options:  # an upload folder was removed
        st.session_state[DATASET_KEY] = DEFAULT
    active = _resolve(st.session_state[DATASET_KEY])
    # Before the widget is drawn, so it shows what the pages will show.
    st.session_state[DATASET_KEY] = active.key
    with st.sidebar:
        st.header("Dataset")
        st.selectbox(
            "Dataset",
            options,
            format_func=loaders.plain_title,
            key=DATASET_KEY,
            on_change=_picked,
            label_visibility="collapsed",
        )
        st.query_params[DATASET_KEY] = active.key
        _show_notice(active.key)
        # A fresh uploader after each upload: files of the last one are not added to the next.
        uploader_key = f"{UPLOAD_KEY}-{st.session_state.get(UPLOAD_ROUND_KEY, 0)}"
        st.file_uploader(
            "Upload .npz, .csv or IDX files",
            accept_multiple_files=True,
            key=uploader_key,
            on_change=_save_upload,
            args=(uploader_key,),
            help="An .npz with x_train, y_train, x_test, y_test; a Kaggle digit-recognizer "
            "CSV (label, pixel0, ...); or the four IDX files (train-images-idx3-ubyte, ...). "
            "Uploads are kept in the cache folder and named after their files.",
        )
        if error := st.session_state.pop(UPLOAD_ERROR_KEY, None):
            st.error(plain(error), icon=":material/error:")
    return active


def _resolve(key: str) -> ActiveDataset:
    """The dataset of ``key``, or the bundled digits with a :class:`Notice` saying why."""
    named = NAMED_DATASETS.get(key)
    if named is not None and named.downloadable and not is_cached(key):
        with st.spinner(f"Downloading {named.title}…"):
            error = loaders.download_error(key)
        if error is not None:
            files = ", ".join(p.name for p in named.local_paths())
            return _fall_back(
                Notice(
                    key,
                    f"{named.title} cannot be downloaded here, so the bundled 8x8 digits "
                    "are shown instead.",
                    f"To use it, put {files} in {named.cache_folder()} or upload it below. "
                    f"The download said: {error}",
                    retry=True,
                )
            )
    try:
        return ActiveDataset(key, loaders.dataset(key))
    except (DatasetError, OSError) as exc:
        if key == FALLBACK:
            raise
        return _fall_back(
            Notice(
                key,
                f"{loaders.plain_title(key)} cannot be read, so the bundled 8x8 digits are "
                "shown instead.",
                str(exc),
                retry=False,
            )
        )


def _fall_back(notice: Notice) -> ActiveDataset:
    st.session_state[NOTICE_KEY] = notice
    return ActiveDataset(FALLBACK, loaders.dataset(FALLBACK))


def _show_notice(active_key: str) -> None:
    notice: Notice | None = st.session_state.get(NOTICE_KEY)
    if notice is None or active_key != FALLBACK:
        return
    st.warning(plain(notice.message), icon=":material/cloud_off:")
    st.caption(plain(notice.detail))
    if notice.retry:
        st.button("Try the download again", on_click=_retry, args=(notice.wanted,))


def _picked() -> None:
    """The user chose a dataset: an earlier fallback notice no longer applies."""
    st.session_state.pop(NOTICE_KEY, None)


def _retry(wanted: str) -> None:
    loaders.forget_download_errors()
    st.session_state.pop(NOTICE_KEY, None)
    st.session_state[DATASET_KEY] = wanted


def _save_upload(uploader_key: str) -> None:
    files = st.session_state.get(uploader_key) or []
    if not files:
        return
    # Whatever happens below, the next upload starts from an empty uploader (and the
    # uploaded bytes are no longer held by this session).
    st.session_state[UPLOAD_ROUND_KEY] = st.session_state.get(UPLOAD_ROUND_KEY, 0) + 1
    try:
        path = save_upload([(f.name, f.getvalue()) for f in files])
    except (DatasetError, OSError) as exc:  # a full or read-only uploads folder
        st.session_state[UPLOAD_ERROR_KEY] = str(exc)
        return
    key = loaders.key_of(path)
    try:
        data = loaders.dataset(key)
    except (DatasetError, OSError) as exc:
        # A file that cannot be read is not kept: it would only clutter the picker.
        shutil.rmtree(upload_folder(path), ignore_errors=True)
        st.session_state[UPLOAD_ERROR_KEY] = str(exc)
        return
    info = upload_info(path)
    if info is not None and info.named_by != "user" and data.title != info.title:
        try:  # a published dataset, recognised by its images: the picker says so too
            remember_title(path, data.title)
        except OSError as exc:
            st.session_state[UPLOAD_ERROR_KEY] = str(exc)
    st.session_state.pop(NOTICE_KEY, None)
    st.session_state[DATASET_KEY] = key
