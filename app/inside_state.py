"""The "Inside the model" page's state: which run (``?run=``), which digit (``?source=``,
``?index=``), the run's model and dataset from the shared caches, and the wait for the
background job that exports a model and indexes its training digits."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from app import loaders
from app.page_state import remember, restore
from app.run_picker import SELECTED_RUN, asked_run, best_run
from app.run_picker import run_picker as shared_picker
from app.text import plain
from mnist_core import inside, runs
from mnist_core.data import Dataset, DatasetError

PICKER = "inside_run"
SOURCES = {"drawing": "your drawing", "test": "a test digit", "train": "a training digit"}
DRAWING = "inside:drawing"  # the app's own key: the last drawing (a drawing_pad.Drawing)
# How far the export job is, by the stage it reports (see mnist_core.inside.job).
STAGES = (("loading the dataset", 0.1), ("exporting", 0.3), ("computing", 0.6),
          ("reducing", 0.8), ("saving", 0.95))  # fmt: skip


def run_picker(records: list[runs.RunRecord], active: Dataset) -> runs.RunRecord:
    """The run to look inside: ``?run=``, else the run the user was looking at on another
    page, else the best finished run that has layers (not a random-forest baseline), on
    the ``active`` dataset if one is. A link to a digit without a run (from the Data or
    Embeddings page) opens a run trained on the active dataset, whose digit it is.
    Kept for the session and in the URL."""
    by_id = {r.run_id: r for r in records}
    asked = asked_run(records, missing="has no trained model to show")
    digit_link = not st.query_params.get("run") and "source" in st.query_params
    models = ([r for r in records if r.kind == "train" and r.fingerprint == active.fingerprint]
              or [r for r in records if r.kind == "train"])  # fmt: skip
    best = best_run(models or records)  # a baseline only when asked for by name
    selected = st.session_state.get(SELECTED_RUN)
    if digit_link and selected in by_id and by_id[selected].fingerprint != active.fingerprint:
        selected = None
    shown = next((c for c in (asked, selected) if c in by_id), best.run_id)
    if digit_link and by_id[shown].fingerprint != active.fingerprint:
        st.warning("No finished run was trained on the dataset of that digit; its index is "
                   "read in this run's own dataset.")  # fmt: skip
    return shared_picker(records, shown, key=PICKER)


def source_choice() -> str:
    """Where the digit shown layer by layer comes from (drawing, test or train): the
    widget's value, else the link's, else the one kept for the session, else "test"."""
    _link_first("inside_source", "source", lambda text: text if text in SOURCES else None)
    restore("inside_source", "test", options=list(SOURCES), url="source")
    return st.session_state["inside_source"]


def digit_choice(dataset: Dataset, *, has_drawing: bool) -> tuple[str, int]:
    """The digit to look at layer by layer: its source (drawing, test or train) and index,
    from the widgets, the session or ``?source=&index=``."""
    source_choice()
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.segmented_control("Digit", list(SOURCES), format_func=SOURCES.get, required=True,
                           key="inside_source")  # fmt: skip
    source = remember("inside_source", url="source")
    if source == "drawing":
        right.caption("The drawing above." if has_drawing else
                      "Nothing drawn yet: draw a digit above.")  # fmt: skip
        return source, 0
    count = len(dataset.x_test if source == "test" else dataset.x_train)
    _link_first("inside_index", "index", int)
    restore("inside_index", 0, url="index", parse=int)
    if not 0 <= st.session_state["inside_index"] < count:
        split = "test" if source == "test" else "training"
        st.warning(f"There is no {split} digit #{plain(st.session_state['inside_index'])}: the "
                   f"{split} set has {count:,} digits (0 to {count - 1:,}); showing #0.")  # fmt: skip
        st.session_state["inside_index"] = 0
    right.number_input(f"Index (0–{count - 1:,})", min_value=0, max_value=count - 1, step=1,
                       key="inside_index")  # fmt: skip
    return source, int(remember("inside_index", url="index"))


def _link_first(key: str, url: str, parse) -> None:
    """On arrival (the widget not drawn yet), a digit named in the link wins over the one
    kept from the last visit: "Open in model view" opens that digit."""
    if key in st.session_state or url not in st.query_params:
        return
    try:
        value = parse(st.query_params[url])
    except (TypeError, ValueError):
        return
    if value is not None:
        st.session_state[key] = value


def run_dataset(record: runs.RunRecord) -> Dataset | None:
    """The run's dataset from the shared cache; None (and a sentence) if it cannot be read
    or has changed since the run was trained."""
    try:
        data = loaders.dataset_of_source(record.dataset)
    except DatasetError as exc:
        st.error(plain(f"Run {record.run_id}: {exc}"))
        return None
    if record.fingerprint and data.fingerprint != record.fingerprint:
        st.error(plain(f"{record.dataset_name}: the data changed since run {record.run_id} was "
                       "trained, so its digits cannot be shown with it."))  # fmt: skip
        return None
    return data


@st.cache_resource(show_spinner=False, max_entries=8)
def framing(fingerprint: str, _dataset: Dataset) -> inside.Framing:
    """How the dataset's digits sit in their frame (drawings are framed the same way)."""
    return inside.measure_framing(_dataset.x_train[:2000])


@st.cache_resource(show_spinner=False, max_entries=8)
def first_layer_weights(run_id: str, stamp: tuple, _model: inside.InsideModel):
    """The first layer's weights of a run's exported model (``stamp``: the file's
    modification time and size, so a new export is read again)."""
    return inside.first_layer_weights(_model)


def onnx_stamp(record: runs.RunRecord) -> tuple:
    stat = record.paths.onnx.stat()
    return (stat.st_mtime_ns, stat.st_size)


def open_model(record: runs.RunRecord) -> inside.InsideModel | None:
    """The run's model (onnxruntime, shared by all sessions); None (and a sentence) if it
    cannot be opened."""
    try:
        return inside.open_model(record)
    except inside.InsideError as exc:
        st.error(plain(exc))
        return None


def wait_until_ready(record: runs.RunRecord) -> inside.Readiness | None:
    """The run's readiness when its model can be shown (its export is there); otherwise
    the job's progress (polled every second until it is), its failure with Retry, or why
    the run cannot be looked inside, and None."""
    state = inside.readiness(record)
    if not state.supported:
        st.info(plain(state.reason), icon=":material/info:")
        return None
    if state.model:  # the page fills in; the nearest digits wait for the index
        if not state.neighbours and not _failed(state):
            _start(record, state)
        return state
    if _failed(state):
        _failure(record, state)
        return None
    _start(record, state)
    st.fragment(run_every=1.0)(_progress)(record.run_id)
    return None


def _failed(state: inside.Readiness) -> bool:
    return state.status is not None and state.status.state == "failed"


def _start(record: runs.RunRecord, state: inside.Readiness) -> None:
    if state.working:
        return
    try:
        inside.prepare(record)
    except (inside.InsideError, OSError) as exc:
        st.error(plain(exc))


def _failure(record: runs.RunRecord, state: inside.Readiness) -> None:
    st.error(plain(state.reason or "Preparing the model failed."), icon=":material/error:")
    if st.button("Retry", key=f"inside-retry-{record.run_id}", icon=":material/refresh:"):
        try:
            inside.prepare(record, retry=True)
        except (inside.InsideError, OSError) as exc:
            st.error(plain(exc))
            return
        st.rerun()


def _progress(run_id: str) -> None:
    """The export job's progress; the whole page again once the model is there."""
    try:
        record = runs.open_run(run_id)
    except runs.RunError as exc:
        st.error(plain(exc))
        return
    state = inside.readiness(record)
    if state.model or not state.working:
        st.rerun(scope="app")
    status = state.status
    stage = (status.stage if status else "") or "waiting for a worker"
    fraction = next((f for word, f in STAGES if stage.startswith(word)), 0.02)
    started = status.started or status.submitted if status else None
    elapsed = f" · {time.time() - started:,.0f} s" if started else ""
    st.progress(fraction, text=plain(f"Preparing the model for this page: {stage}{elapsed}"))
    st.caption("A background job exports the model to ONNX (so this page never loads "
               "TensorFlow) and indexes the training digits; it runs once per run.")  # fmt: skip


def neighbours_or_wait(record: runs.RunRecord, image: np.ndarray):
    """The 8 nearest training digits, or None (and a sentence) while the training digits
    are being indexed, or when indexing them failed (with Retry)."""
    state = inside.readiness(record)
    if not state.neighbours:
        if _failed(state):
            _failure(record, state)
        else:
            st.caption("The training digits are being indexed (once per run); the nearest "
                       "ones show here when that is done.")  # fmt: skip
        return None
    try:
        return inside.nearest_training_digits(record, image, k=8)
    except inside.InsideError as exc:  # NotReady: a damaged index, being made again
        st.caption(plain(exc))
        return None
