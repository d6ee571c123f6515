"""Small UI pieces shared by pages: the dataset picker in the sidebar, a training run's
live panel."""

from __future__ import annotations

import shutil
from typing import NamedTuple

import streamlit as st

from app import loaders
from mnist_core import figures, jobs, runs
from mnist_core.datasets import (
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


# --------------------------------------------------------------------------- training runs

STATE_ICONS = {
    "queued": ":material/schedule:", "running": ":material/play_circle:",
    "done": ":material/check_circle:", "stopped": ":material/stop_circle:",
    "diverged": ":material/trending_up:", "failed": ":material/error:",
    "damaged": ":material/warning:", "missing": ":material/help:",
}  # fmt: skip


def run_panel(run_id: str) -> None:
    """A run's live view: status, progress bar with time left, curves, Stop button; once
    finished, its test result. Polls the run directory every second while it is active."""
    try:
        directory = runs.run_path(run_id)
    except runs.RunError as exc:
        st.error(str(exc))
        return
    active = runs.status_of(directory)["state"] in jobs.ACTIVE
    st.fragment(run_every=1.0 if active else None)(_run_view)(directory, active)


def _run_view(directory, was_active: bool) -> None:
    status = runs.status_of(directory)
    state = status["state"]
    if was_active and state not in jobs.ACTIVE:
        st.rerun(scope="app")  # finished: draw the final view once, without polling
    info = runs.read_json(directory / "run.json") or {}
    events = runs.read_events(directory)
    st.markdown(
        f"**Run `{directory.name}`** · {info.get('name', '?')} on {info.get('dataset', '?')} · "
        f"{STATE_ICONS.get(state, '')} **{state}**"
    )
    if state == "queued":
        st.info(f"Queued: {status.get('stage', 'waiting for a worker')}.", icon=":material/schedule:")
    progress = runs.progress_of(events)
    if state == "running":
        if progress is None:
            st.progress(0.0, text=f"{status.get('stage', 'starting')}…")
        else:
            left = f", about {_duration(progress.seconds_left)} left" if progress.seconds_left else ""
            st.progress(
                progress.fraction,
                text=f"epoch {progress.epoch}/{progress.epochs} · batch {progress.batch}/"
                f"{progress.steps} · {_duration(progress.elapsed)} elapsed{left}",
            )
    if state in jobs.ACTIVE:
        if runs.stop_requested(directory):
            st.caption("Stopping after the current batch…")
        elif st.button("Stop", key=f"stop-{directory.name}", icon=":material/stop_circle:"):
            runs.request_stop(directory)
            st.caption("Stopping after the current batch…")
    if any(e["type"] in ("batch", "epoch") for e in events):
        st.plotly_chart(figures.training_curves_figure(events), key=f"curves-{directory.name}")
    if state in ("failed", "diverged", "damaged"):
        st.error(status.get("error") or f"The run {state}.")
    summary = runs.read_json(directory / "summary.json")
    if summary and state in ("done", "stopped"):
        _run_result(summary, state)


def _run_result(summary: dict, state: str) -> None:
    cols = st.columns(5)
    cols[0].metric("Test accuracy", f"{summary['test_accuracy']:.2%}")
    cols[1].metric("Test loss", f"{summary['test_loss']:.4f}")
    cols[2].metric("Epochs run", summary.get("epochs_run") or "—")
    cols[3].metric("Parameters", f"{summary['params']:,}" if summary.get("params") else "—")
    per_epoch = summary.get("seconds_per_epoch")
    cols[4].metric("Training time", _duration(summary["wall_seconds"]),
                   help=f"{per_epoch:.2f} s per epoch" if per_epoch else None)  # fmt: skip
    notes = []
    if state == "stopped":
        notes.append("Stopped on request; the weights reached so far were evaluated.")
    if summary.get("restored_best_epoch"):
        notes.append(
            f"Early stopping restored the best weights, from epoch "
            f"{summary['restored_best_epoch']} (Keras does this at the end of training even "
            "when it did not stop early)."
        )
    for note in notes:
        st.caption(note)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
