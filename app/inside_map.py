"""The model's map of the data (Inside the model): the test set's 2-D UMAP in raw pixels
beside the one in the run's last hidden layer, coloured by true label, the mistakes marked;
a box or lasso on either map shows those digits in a paged gallery, and any of them opens
layer by layer above. The maps come from a background job (:mod:`mnist_core.inside.model_map`)
the user starts; its progress is polled here. The selection, the gallery's filter and page
and the chosen digit live in ``st.session_state[STATE]`` and the URL (``?mapon=&mapsel=
&mapshow=&mappage=``), so a page switch or a link keeps them."""

from __future__ import annotations

import hashlib
import math
import time
from functools import partial

import numpy as np
import streamlit as st

from app.page_state import keep_value
from app.text import plain
from mnist_core import figures, inside, runs
from mnist_core.data import Dataset
from mnist_core.inside import model_map

STATE = "inside:map"
MAPS = {"raw": "Raw pixels", "model": "The model's last hidden layer"}
SHOW = {"all": "all", "mistakes": "mistakes only", "right": "right only"}
URL = ("mapon", "mapsel", "mapshow", "mappage")
PAGE_SIZE = 50  # digits per gallery page: 5 rows of 10
COLUMNS = 10
ANCHOR = "one-digit-layer-by-layer"  # the layer view's heading, where a chosen digit shows


def map_section(record: runs.RunRecord, model: inside.InsideModel, dataset: Dataset) -> None:
    """Not a fragment: "Open in model view" sets the layer view's widgets, which a
    fragment's rerun cannot (the browser sends their old values back)."""
    st.subheader("The model's map of the data")
    st.caption("Each test digit placed by UMAP (2-D, seeded) twice: by its raw pixels, and "
               "by the values of the model's last hidden layer, the space its answer is read "
               "from. Colour: the true label; ✕: a digit the model got wrong. Draw a lasso "
               "or a box on either map to see those digits.")  # fmt: skip
    try:
        request = model_map.map_request(record)
    except inside.InsideError as exc:
        st.caption(plain(exc))
        return
    result = _map_or_wait(record, request, len(dataset.y_test))
    if result is not None:
        _maps(record, result, dataset)


def _map_or_wait(record: runs.RunRecord, request: model_map.MapRequest, n: int):
    status = model_map.status_of(record, request)
    result = _load(record, request) if status.state in ("done", None) else None
    if result is not None:
        return result
    if status.state == "done":  # its result was removed or damaged: computed again
        status = _submit(record)
    if status is None:
        return None
    if status.active:
        st.fragment(run_every=1.0)(_progress)(record.run_id, request.key)
    elif status.state == "failed":
        st.error(plain(status.error or "Computing the map failed."), icon=":material/error:")
        retry = st.button("Retry", key=f"map-retry-{request.key}", icon=":material/refresh:")
        if retry and _submit(record, retry=True) is not None:
            st.rerun()
    elif status.state is None:
        st.button("Compute the map", key=f"map-go-{request.key}", icon=":material/scatter_plot:",
                  type="primary", on_click=_submit, args=(record,),
                  help=f"A background job puts the {n:,} test digits through the model and "
                  "lays both maps out with UMAP; once per run (about a minute for 10,000 "
                  "digits), kept for every later visit.")  # fmt: skip
    return None


def _submit(record: runs.RunRecord, *, retry: bool = False):
    try:
        return model_map.submit(record, retry=retry)
    except (inside.InsideError, OSError) as exc:
        st.error(plain(exc))
        return None


def _progress(run_id: str, key: str) -> None:
    """The job's stage, polled every second; the section again once the maps are there."""
    try:
        record = runs.open_run(run_id)
        request = model_map.map_request(record)
    except (runs.RunError, inside.InsideError) as exc:
        st.error(plain(exc))
        return
    status = model_map.status_of(record, request)
    if request.key != key or not status.active:
        st.rerun(scope="app")
    stage = status.stage or "waiting for a worker"
    steps = ("loading", "computing", "the model's map", "the model's map: measuring",
             "the raw-pixel map", "saving")  # fmt: skip
    done = max((i for i, word in enumerate(steps) if stage.startswith(word)), default=-1)
    since = status.started or status.submitted
    elapsed = f" · {time.time() - since:,.0f} s" if since else ""
    st.progress((done + 1) / (len(steps) + 1),
                text=plain(f"Computing the maps: {stage}{elapsed}"))  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_map(key: str, stamp: tuple, run_id: str) -> model_map.ModelMap | None:
    """The stored map and the run's mistakes, shared by the sessions (read-only)."""
    return model_map.load_map(runs.open_run(run_id))


def _load(record: runs.RunRecord, request: model_map.MapRequest):
    try:  # the files' stamps: a map made again (or damaged) is read again
        stamps = tuple((s.st_mtime_ns, s.st_size) for s in
                       (request.directory.joinpath(n).stat() for n in ("quality.json", "map.npz")))
    except OSError:
        return None
    result = _cached_map(request.key, (*stamps, record.stamp), record.run_id)
    if result is None:
        _cached_map.clear()  # damaged: read again once the job has made it anew
    return result


# --------------------------------------------------------------------------- the maps


def _state(result: model_map.ModelMap) -> dict:
    """This session's choices on the maps; a new session (or another run's map) starts
    from the URL."""
    state = st.session_state.get(STATE)
    if state is None or state.get("key") != result.request.key:
        state = _from_url(result)
        st.session_state[STATE] = state
    return state


def _from_url(result: model_map.ModelMap) -> dict:
    url = st.query_params
    state = {"key": result.request.key, "on": None, "shapes": [], "rows": None,
             "show": url.get("mapshow") if url.get("mapshow") in SHOW else "all",
             "page": 1, "digit": None}  # fmt: skip
    if url.get("mapon") in MAPS and url.get("mapsel"):
        try:
            shapes = figures.embeddings.shapes_from_text(url["mapsel"])
        except ValueError as exc:
            st.toast(plain(f"The map's selection in the link was not understood ({exc})"))
            shapes = []
        if shapes:
            coords = result.model if url["mapon"] == "model" else result.raw
            state.update(on=url["mapon"], shapes=shapes, rows=figures.embeddings.rows_in_shapes(
                coords[:, 0], coords[:, 1], shapes))  # fmt: skip
    try:
        state["page"] = max(1, int(url.get("mappage", 1)))
    except ValueError:
        pass
    return state


def _write_url(state: dict) -> None:
    wanted = {}
    if state["on"] and state["shapes"]:
        wanted = {"mapon": state["on"],
                  "mapsel": figures.embeddings.shapes_to_text(state["shapes"])}  # fmt: skip
        if state["show"] != "all":
            wanted["mapshow"] = state["show"]
        if state["page"] != 1:
            wanted["mappage"] = str(state["page"])
    for name in URL:
        if name not in wanted:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != wanted[name]:
            st.query_params[name] = wanted[name]


def _maps(record: runs.RunRecord, result: model_map.ModelMap, dataset: Dataset) -> None:
    state = _state(result)
    names = tuple(dataset.class_names)
    rows = state["rows"]
    token = "none" if rows is None else hashlib.sha1(np.asarray(rows, np.int64).tobytes()
                                                     ).hexdigest()  # fmt: skip
    layer = (f"{result.layer} ({result.dims:,} values)" if result.layer
             else f"the pixels ({result.dims:,} values)")  # fmt: skip
    if result.predicted is None:
        st.caption("This run's test predictions cannot be read: no mistakes are marked.")
    else:
        st.caption(f"{len(result.mistakes):,} mistakes among {len(result.labels):,} test digits "
                   "(the run's saved test predictions).")  # fmt: skip
    columns = st.columns(2, gap="medium")
    for column, which in zip(columns, MAPS):
        with column:
            title = MAPS[which] if which == "raw" else f"{MAPS[which]}: {layer}"
            st.markdown(f"**{plain(title)}**")
            outlines = state["shapes"] if state["on"] == which else []
            fig = _figure(result.request.key, record.stamp, which, token, repr(outlines), names,
                          _result=result, _rows=rows, _outlines=outlines)  # fmt: skip
            key = f"inside-map-{which}-{result.request.key}"
            st.plotly_chart(fig, key=key, selection_mode=("lasso", "box"),
                            on_select=partial(_selected, key, which, len(result.labels)),
                            config={"displaylogo": False})  # fmt: skip
            quality = result.model_quality if which == "model" else result.raw_quality
            st.caption(plain(figures.inside_map.quality_caption(quality)))
    _write_url(state)
    if rows is None:
        st.caption("Draw a lasso or a box around points on either map to see their digits "
                   "here.")  # fmt: skip
        return
    if not len(rows):
        st.caption("The selection holds no digits.")
        return
    _gallery(record, state, result, dataset)


@st.cache_resource(show_spinner=False, max_entries=16)
def _figure(key: str, stamp: float, which: str, token: str, outlines_text: str,
            class_names: tuple, *, _result, _rows, _outlines):  # fmt: skip
    """A map's figure, built once per map and selection and shared read-only."""
    coords = _result.model if which == "model" else _result.raw
    size = 6 if len(coords) <= 2000 else 3.5  # a few hundred digits: larger markers
    return figures.inside_map.map_figure(coords, _result.labels, _result.predicted,
                                         class_names=class_names, selected=_rows,
                                         outlines=_outlines, marker_size=size)  # fmt: skip


def _selected(chart_key: str, which: str, n: int) -> None:
    """on_select: keep the selection in the page's own state (a chart's own state is
    dropped when its figure changes); a new selection starts the gallery afresh."""
    event = st.session_state.get(chart_key)
    state = st.session_state[STATE]
    rows = figures.inside_map.selected_rows(event, n)
    shapes = figures.embeddings.selection_shapes(event)
    if len(rows) or shapes:
        state.update(on=which, shapes=shapes, rows=rows)
    else:
        state.update(on=None, shapes=[], rows=None)
    state.update(page=1, digit=None)


# --------------------------------------------------------------------------- the gallery


def _gallery(record: runs.RunRecord, state: dict, result: model_map.ModelMap,
             dataset: Dataset) -> None:  # fmt: skip
    rows = np.asarray(state["rows"], np.int64)
    predicted = result.predicted
    wrong = (np.zeros(len(rows), bool) if predicted is None
             else predicted[rows] != result.labels[rows])  # fmt: skip
    where = "the model's map" if state["on"] == "model" else "the raw-pixel map"
    st.markdown(f"**{len(rows):,} digits selected on {where}**, {int(wrong.sum()):,} of them "
                "mistakes.")  # fmt: skip
    left, middle, right = st.columns([3, 1, 3], vertical_alignment="bottom")
    if "inside_map_show" not in st.session_state:
        st.session_state["inside_map_show"] = state["show"]
    show = left.segmented_control("Show", list(SHOW), format_func=SHOW.get, required=True,
                                  key="inside_map_show")  # fmt: skip
    if show != state["show"]:
        state.update(show=show, page=1, digit=None)
    chosen = {"all": rows, "mistakes": rows[wrong], "right": rows[~wrong]}[show]
    n_pages = max(1, math.ceil(len(chosen) / PAGE_SIZE))
    state["page"] = min(max(1, int(state["page"])), n_pages)
    st.session_state["inside_map_page"] = state["page"]
    page = middle.number_input("Page", 1, n_pages, step=1, key="inside_map_page",
                               on_change=_paged)  # fmt: skip
    start = (page - 1) * PAGE_SIZE
    shown = chosen[start:start + PAGE_SIZE]
    right.caption(f"Page {page:,} of {n_pages:,}: digits {start + 1 if len(shown) else 0:,}–"
                  f"{start + len(shown):,} of {len(chosen):,}. Click a digit, then open it "
                  "in the model view.")  # fmt: skip
    if not len(shown):
        st.caption("No digit of the selection is shown with this filter.")
        _write_url(state)
        return
    position = np.flatnonzero(shown == state["digit"])
    captions = figures.inside_map.gallery_captions(
        result.labels[shown], None if predicted is None else predicted[shown], dataset.class_names)
    key = f"inside-map-gallery-{show}-{page}"
    st.plotly_chart(
        figures.digits.grid_figure(dataset.x_test[shown], result.labels[shown], shown,
                                   class_names=dataset.class_names, columns=COLUMNS, cell=56,
                                   captions=captions,
                                   selected=int(position[0]) if len(position) else None),
        key=key, width="content", config={"displayModeBar": False},
        on_select=partial(_clicked, key, shown), selection_mode="points",
    )  # fmt: skip
    _write_url(state)
    _chosen_digit(record, state, result, dataset)


def _paged() -> None:
    state = st.session_state[STATE]
    state.update(page=int(st.session_state["inside_map_page"]), digit=None)


def _clicked(key: str, shown: np.ndarray) -> None:
    position = figures.digits.clicked_digit(st.session_state.get(key), n=len(shown))
    if position is not None:
        st.session_state[STATE]["digit"] = int(shown[position])


def _chosen_digit(record: runs.RunRecord, state: dict, result: model_map.ModelMap,
                  dataset: Dataset) -> None:  # fmt: skip
    row = state["digit"]
    if row is None:
        return
    names = dataset.class_names
    label = names[int(result.labels[row])]
    said = ""
    if result.predicted is not None:
        guess = names[int(result.predicted[row])]
        said = f" · the model says {guess}" + (" (right)" if guess == label else " (wrong)")
    text, button = st.columns([3, 1], vertical_alignment="center")
    text.markdown(plain(f"Test digit #{row:,} · labelled {label}{said}"))
    if state.get("opened") == row:
        button.markdown(f"[↑ Shown layer by layer above](#{ANCHOR})")
    else:
        button.button("Open in model view", key="inside-map-open", icon=":material/neurology:",
                      on_click=_open, args=(row,),
                      help="Show this digit layer by layer in the section above.")  # fmt: skip


def _open(row: int) -> None:
    """Show test digit ``row`` in the layer-by-layer view: its widgets' values (set in a
    callback, before the page is drawn again) and the copies the page keeps of them."""
    st.session_state["inside_source"] = "test"
    st.session_state["inside_index"] = int(row)
    keep_value("inside_source", "test", url="source")
    keep_value("inside_index", int(row), url="index")
    st.session_state[STATE]["opened"] = int(row)
