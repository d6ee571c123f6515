"""Embeddings: PCA and UMAP of the whole dataset, computed in the background, linked to
the digits by box or lasso selection.

The page's choices (method, split, UMAP parameters, PCA axes, the selection, the gallery's
filter and page, the enlarged digit) live in ``st.session_state[PAGE_STATE]``, so they
survive a visit to another page (Streamlit drops a widget's own state when its page is not
drawn), and in the URL (``?method=&split=&pcx=&pcy=&nn=&md=&metric=&pcadims=&seed=&sel=``),
so a link reopens the same view.
"""

from __future__ import annotations

import json
import math
import time
from functools import partial

import numpy as np
import streamlit as st

from app import loaders
from app.sidebar import ActiveDataset, active_dataset
from app.text import plain
from mnist_core import embeddings, figures
from mnist_core.data import Dataset
from mnist_core.runs import jobs

PAGE_STATE = "embeddings_page"
GALLERY_COLUMNS = 10
PAGE_SIZE = 100  # digits per gallery page: 10 rows of 10
URL_KEYS = ("method", "split", "pcx", "pcy", "nn", "md", "metric", "pcadims", "seed", "sel")


def render(active: ActiveDataset) -> None:
    key, dataset = active
    state = page_state(key, dataset)
    st.title("Embeddings")
    st.caption(
        f"{loaders.title_of(key)}: every image as a point. Select points with the "
        "lasso or box tool to see their digits; click a class in the legend to hide it."
    )
    c_method, c_split, _ = st.columns([1, 1.4, 3])
    _bind("emb_method", state["method"])
    method = c_method.segmented_control(
        "Method", list(embeddings.METHODS), format_func=str.upper, required=True, key="emb_method"
    )
    _bind("emb_split", state["split"])
    split = c_split.segmented_control(
        "Split", list(embeddings.EMBED_SPLITS), required=True, key="emb_split"
    )
    state["method"], state["split"] = method, split
    params = {} if method == "pca" else umap_form(state)
    request = embeddings.EmbeddingRequest(key, dataset.fingerprint, method, split, params)
    write_url(state, request)

    status = _status(request, start=method == "pca" or state.pop("umap_go", False))
    if status.active:
        job_progress(request)
        return
    if status.state == "failed":
        st.error(f"The {method.upper()} job failed: {status.error}")
        st.caption("Nothing is computed again until you press Retry.")
        if st.button("Retry", key="emb_retry", icon=":material/refresh:"):
            try:
                embeddings.submit(request, retry=True)
            except OSError as exc:  # StorageError: one sentence naming the folder
                st.error(str(exc))
                return
            st.rerun()
        return
    if status.state is None:
        st.info(
            f"This UMAP of the {split} split has not been computed yet. UMAP of "
            f"{_n_points(dataset, split):,} images runs in the background; press "
            "**Compute UMAP**, and keep browsing meanwhile."
        )
        return
    try:
        result = loaders.embedding(json.dumps(request.to_json()))
    except LookupError:  # removed or damaged since the status was read: compute it again
        loaders.embedding.clear()
        embeddings.submit(request)
        st.rerun()
    show_embedding(state, request, result, dataset)
    write_url(state, request)  # the selection may have been read from the link just now


# --------------------------------------------------------------------------- page state


def page_state(key: str, dataset: Dataset) -> dict:
    """This session's choices on the page; a new session starts from the URL."""
    if PAGE_STATE not in st.session_state:
        st.session_state[PAGE_STATE] = _state_from_url(key, dataset)
    return st.session_state[PAGE_STATE]


def _state_from_url(key: str, dataset: Dataset) -> dict:
    url = st.query_params
    state = {"method": "pca", "split": "train", "axes": (0, 1), "selection": None,
             "umap": dict(embeddings.DEFAULT_PARAMS["umap"]), "gallery_label": "all",
             "gallery_page": 1, "enlarged": None}  # fmt: skip
    problems = []
    method, split = url.get("method", "pca"), url.get("split", "train")
    if method in embeddings.METHODS:
        state["method"] = method
    else:
        problems.append(f"the method {method!r} is not one of {', '.join(embeddings.METHODS)}")
    if split in embeddings.EMBED_SPLITS:
        state["split"] = split
    else:
        problems.append(f"the split {split!r} is not one of {', '.join(embeddings.EMBED_SPLITS)}")
    try:
        axes = (int(url.get("pcx", 1)) - 1, int(url.get("pcy", 2)) - 1)
        if min(axes) < 0 or max(axes) >= embeddings.MAX_PCA_COMPONENTS or axes[0] == axes[1]:
            raise ValueError
        state["axes"] = axes
    except ValueError:
        problems.append("pcx and pcy must be two different components in 1..50")
    given = {name: url[arg] for arg, name in (("nn", "n_neighbors"), ("md", "min_dist"),
             ("metric", "metric"), ("pcadims", "pca_dims"), ("seed", "seed")) if arg in url}  # fmt: skip
    try:
        state["umap"] = embeddings.normalized_params("umap", _typed_umap(given))
    except ValueError as exc:
        problems.append(f"UMAP parameters are refused ({str(exc).rstrip('.')})")
    if "sel" in url:
        try:
            shapes = figures.embeddings.shapes_from_text(url["sel"])
            params = {} if state["method"] == "pca" else state["umap"]
            request = embeddings.EmbeddingRequest(key, dataset.fingerprint, state["method"],
                                                  state["split"], params)  # fmt: skip
            state["selection"] = {"request": request.key, "axes": state["axes"],
                                  "shapes": shapes, "rows": None}  # fmt: skip
        except ValueError as exc:
            problems.append(str(exc).rstrip("."))
    if problems:
        st.toast(plain(f"Parts of the link were not understood ({'; '.join(problems)}); "
                       "the defaults are shown instead."))
    return state


def _typed_umap(given: dict[str, str]) -> dict:
    typed = {}
    for name, text in given.items():
        try:
            if name in ("n_neighbors", "seed"):
                typed[name] = int(text)
            elif name == "min_dist":
                typed[name] = float(text)
            elif name == "pca_dims":
                typed[name] = None if text in ("", "none", "None") else int(text)
            else:
                typed[name] = text
        except ValueError:
            raise ValueError(f"UMAP {name} {text!r} is not a number.") from None
    return typed


def write_url(state: dict, request: embeddings.EmbeddingRequest) -> None:
    """Mirror the page's choices in the URL, writing only what changed."""
    wanted = {"method": request.method, "split": request.split}
    if request.method == "pca":
        wanted.update(pcx=state["axes"][0] + 1, pcy=state["axes"][1] + 1)
    else:
        p = request.params
        wanted.update(nn=p["n_neighbors"], md=p["min_dist"], metric=p["metric"],
                      pcadims=p["pca_dims"] if p["pca_dims"] else "none", seed=p["seed"])  # fmt: skip
    selection = _selection_for(state, request)
    if selection and selection["shapes"]:
        wanted["sel"] = figures.embeddings.shapes_to_text(selection["shapes"])
    for name in URL_KEYS:
        if name not in wanted and name in st.query_params:
            del st.query_params[name]
    for name, value in wanted.items():
        if st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)


def _bind(widget_key: str, value) -> None:
    """Give a widget the page's value when it is drawn again after a page switch."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


def _selection_for(state: dict, request: embeddings.EmbeddingRequest) -> dict | None:
    selection = state.get("selection")
    return selection if selection and selection["request"] == request.key else None


# --------------------------------------------------------------------------- computing


def umap_form(state: dict) -> dict:
    """UMAP parameters; applied (and the job started) when the form is submitted."""
    applied = state["umap"]
    with st.form("umap_form"):
        c1, c2, c3, c4, c5 = st.columns(5)
        n_neighbors = c1.slider("n_neighbors", 2, 200, applied["n_neighbors"])
        min_dist = c2.number_input(
            "min_dist", 0.0, 1.0, float(applied["min_dist"]), step=0.01, format="%.3f"
        )
        metric = c3.selectbox(
            "metric", embeddings.UMAP_METRICS, index=embeddings.UMAP_METRICS.index(applied["metric"])
        )
        use_pca = c4.checkbox("PCA to 50 first", value=applied["pca_dims"] is not None)
        seed = c5.number_input("seed", 0, 2**31 - 1, int(applied["seed"]), step=1)
        if st.form_submit_button("Compute UMAP", type="primary"):
            state["umap"] = {
                "n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric,
                "pca_dims": 50 if use_pca else None, "seed": int(seed),
            }  # fmt: skip
            state["umap_go"] = True
    return state["umap"]


def _status(request: embeddings.EmbeddingRequest, *, start: bool) -> jobs.Status:
    """The job's status; starts the job when ``start`` and it was never asked for. A failed
    job stays failed until Retry: nothing is submitted again by itself."""
    status = embeddings.status_of(request)
    if start and status.state is None:
        try:
            return embeddings.submit(request)
        except OSError as exc:  # StorageError: the cache folder cannot be written
            return jobs.Status("failed", error=str(exc))
    return status


@st.fragment(run_every=1.0)
def job_progress(request: embeddings.EmbeddingRequest) -> None:
    """Stage and elapsed time of a running job; reruns the page when it ends."""
    status = jobs.read_status(request.directory)
    if not status.active:
        st.rerun(scope="app")
    since = status.started or status.submitted or time.time()
    st.info(
        f"Computing {request.method.upper()} of the {request.split} split in the background: "
        f"{status.stage or 'starting'} ({time.time() - since:.0f} s). "
        "Other pages stay usable; this page updates by itself.",
        icon=":material/hourglass_top:",
    )


# --------------------------------------------------------------------------- showing


def show_embedding(
    state: dict, request: embeddings.EmbeddingRequest, result: embeddings.EmbeddingResult,
    dataset: Dataset,
) -> None:
    is_pca = request.method == "pca"
    c_x, c_y, c_size, c_opacity = st.columns(4)
    if is_pca:
        n = result.coords.shape[1]
        a, b = (min(v, n - 1) for v in state["axes"])
        _bind("pc_x", a)
        pc_x = c_x.selectbox("x axis", range(n), format_func=lambda i: f"PC{i + 1}", key="pc_x")
        _bind("pc_y", b)
        pc_y = c_y.selectbox("y axis", range(n), format_func=lambda i: f"PC{i + 1}", key="pc_y")
        state["axes"] = (pc_x, pc_y)
        titles = (f"PC{pc_x + 1}", f"PC{pc_y + 1}")
    else:
        pc_x, pc_y, titles = 0, 1, ("UMAP 1", "UMAP 2")
    _bind("emb_marker_size", state.get("marker_size") or (3.0 if len(result.coords) > 5000 else 6.0))
    size = c_size.slider("Marker size", 1.0, 10.0, step=0.5, key="emb_marker_size")
    _bind("emb_opacity", state.get("opacity", 0.6))
    opacity = c_opacity.slider("Opacity", 0.05, 1.0, step=0.05, key="emb_opacity")
    state["marker_size"], state["opacity"] = size, opacity

    x, y = result.coords[:, pc_x], result.coords[:, pc_y]
    selection = _selection_for(state, request)
    if selection is not None and selection["rows"] is None:  # read from a link
        selection["rows"] = figures.embeddings.rows_in_shapes(x, y, selection["shapes"])
    same_axes = selection is not None and tuple(selection["axes"]) == (pc_x, pc_y)
    plot, numbers = st.columns([3, 1], gap="medium")
    with plot:
        chart_key = f"scatter-{request.key}"
        fig = figures.embeddings.scatter_figure(
            x, y, result.labels,
            result.indices if request.split != "all" else np.arange(len(result.labels)),
            class_names=dataset.class_names, marker_size=size, opacity=opacity,
            axis_titles=titles,
            index_title="index" if request.split != "all" else "index (train, then test)",
            selected=None if selection is None else selection["rows"],
            outlines=selection["shapes"] if same_axes else (),
        )  # fmt: skip
        st.plotly_chart(
            fig, key=chart_key, selection_mode=("box", "lasso"),
            on_select=partial(_remember_selection, chart_key, request.key, (pc_x, pc_y), result.labels),
        )  # fmt: skip
    with numbers:
        axes = f"PC{pc_x + 1}–PC{pc_y + 1}" if is_pca else "2-D"
        cluster_quality(request, result, dataset, axes=(pc_x, pc_y), axes_name=axes)
    if selection is None or not len(selection["rows"]):
        st.caption("Draw a lasso or a box around points to see their digits here."
                   if selection is None else "The selection holds no points.")  # fmt: skip
    else:
        selection_gallery(state, selection["rows"], result, request, dataset)
    if is_pca:
        st.subheader("Variance explained")
        st.plotly_chart(figures.embeddings.scree_figure(result.extras["explained_variance_ratio"]),
                        key="scree")  # fmt: skip
        st.subheader("The first principal components")
        st.plotly_chart(
            figures.embeddings.components_figure(result.extras["components"], dataset.image_shape),
            key="components",
        )


def _remember_selection(chart_key: str, request_key: str, axes: tuple[int, int],
                        labels: np.ndarray) -> None:  # fmt: skip
    """on_select: keep what the user selected in the page's own state (the chart's own
    state is dropped when the figure or the page changes)."""
    event = st.session_state.get(chart_key)
    rows = figures.embeddings.selected_rows(event, labels)
    shapes = figures.embeddings.selection_shapes(event)
    state = st.session_state[PAGE_STATE]
    state["selection"] = (
        {"request": request_key, "axes": axes, "shapes": shapes, "rows": rows}
        if len(rows) or shapes else None
    )
    state.update(gallery_label="all", gallery_page=1, enlarged=None)
    for widget in ("gallery_label", "gallery_page"):
        st.session_state.pop(widget, None)


def cluster_quality(request, result, dataset: Dataset, *, axes: tuple[int, int], axes_name: str) -> None:
    q = _quality(json.dumps(request.to_json()), axes)
    st.markdown("**Cluster quality**")
    st.metric(f"k-NN accuracy in {axes_name}", f"{q['knn_accuracy']:.1%}",
              help=f"5-nearest-neighbour classifier, 5-fold cross-validated on {q['sample']:,} "
              f"points of the {axes_name} layout: how well it alone predicts the label.")  # fmt: skip
    if q.get("knn_accuracy_pixels") is not None:
        st.metric("same, in pixel space", f"{q['knn_accuracy_pixels']:.1%}",
                  help="The same classifier on the raw pixels of the same points, for reference.")
    if q.get("silhouette") is not None:
        st.metric("silhouette", f"{q['silhouette']:.3f}",
                  help=f"From -1 to 1, in {axes_name}: how much closer points are to their own "
                  "class than to the nearest other class (same sample).")  # fmt: skip
    st.metric(f"neighbour purity (k={q['k']})", f"{q['purity_mean']:.1%}",
              help=f"Share of each point's nearest neighbours in {axes_name} with its label.")
    purity = {dataset.class_names[int(c)]: v for c, v in q["purity"].items()}
    st.dataframe(
        {"class": list(purity), "purity": [f"{v:.1%}" for v in purity.values()]},
        hide_index=True, height=35 * (len(purity) + 1) + 3,
    )  # fmt: skip
    st.caption(f"Measured in {axes_name}; the embedding took {result.seconds:.1f} s.")


@st.cache_data(show_spinner="Measuring the cluster quality on these axes…", max_entries=64)
def _quality(request_json: str, axes: tuple[int, int]) -> dict:
    request = embeddings.EmbeddingRequest.from_json(json.loads(request_json))
    return embeddings.quality_on_axes(request, loaders.embedding(request_json), axes)


# --------------------------------------------------------------------------- the gallery


def label_filter(rows_labels: np.ndarray, class_names) -> dict[str, str]:
    """Gallery filter options {value: text}: all; all but the most common label (the
    digits that do not belong); each label present, most common first."""
    values, counts = np.unique(rows_labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    options = {"all": f"all labels ({len(rows_labels):,})"}
    if len(values) > 1:
        top = values[order[0]]
        options[f"not:{top}"] = (f"all but {class_names[int(top)]} "
                                 f"({len(rows_labels) - counts[order[0]]:,})")  # fmt: skip
    for i in order:
        options[f"is:{values[i]}"] = f"{class_names[int(values[i])]} ({counts[i]:,})"
    return options


def filtered(rows: np.ndarray, labels: np.ndarray, choice: str) -> np.ndarray:
    """The rows a filter value of :func:`label_filter` keeps (``labels`` are the rows')."""
    kind, _, value = choice.partition(":")
    if kind == "is":
        return rows[labels == int(value)]
    if kind == "not":
        return rows[labels != int(value)]
    return rows


def selection_gallery(state: dict, rows: np.ndarray, result, request, dataset: Dataset) -> None:
    labels = result.labels[rows]
    st.subheader(f"{len(rows):,} selected points")
    options = label_filter(labels, dataset.class_names)
    if state["gallery_label"] not in options:
        state["gallery_label"] = "all"
    c_filter, c_page, c_where = st.columns([2, 1, 2], vertical_alignment="bottom")
    _bind("gallery_label", state["gallery_label"])
    choice = c_filter.selectbox("Show", list(options), format_func=options.get, key="gallery_label")
    if choice != state["gallery_label"]:
        state["gallery_page"] = 1
        st.session_state.pop("gallery_page", None)
    state["gallery_label"] = choice
    chosen = filtered(rows, labels, choice)
    n_pages = max(1, math.ceil(len(chosen) / PAGE_SIZE))
    state["gallery_page"] = min(max(1, int(state["gallery_page"])), n_pages)
    _bind("gallery_page", state["gallery_page"])
    if st.session_state["gallery_page"] > n_pages:
        st.session_state["gallery_page"] = n_pages
    page = c_page.number_input("Page", 1, n_pages, step=1, key="gallery_page")
    state["gallery_page"] = int(page)
    start = (page - 1) * PAGE_SIZE
    shown = chosen[start:start + PAGE_SIZE]
    c_where.caption(f"Page {page:,} of {n_pages:,}: digits {start + 1:,}–{start + len(shown):,} "
                    f"of {len(chosen):,}. Click a digit to enlarge it.")  # fmt: skip
    left, right = st.columns([3, 2], gap="medium")
    with left:
        enlarged = state["enlarged"]
        position = np.flatnonzero(shown == enlarged)
        gallery_key = f"gallery-{request.key}-{choice}-{page}"
        st.plotly_chart(
            figures.digits.grid_figure(
                embeddings.images_at(dataset, request.split, shown), result.labels[shown],
                result.indices[shown], class_names=dataset.class_names,
                columns=GALLERY_COLUMNS, cell=48,
                selected=int(position[0]) if len(position) else None,
            ),
            key=gallery_key, width="content", config={"displayModeBar": False},
            on_select=partial(_remember_enlarged, gallery_key, shown), selection_mode="points",
        )  # fmt: skip
    with right:
        enlarged_digit(state, rows, result, request, dataset)
        counts = {dataset.class_names[int(c)]: int(n) for c, n in zip(*np.unique(labels, return_counts=True))}
        st.plotly_chart(figures.embeddings.label_counts_figure(counts), key="selection_counts")


def _remember_enlarged(gallery_key: str, shown: np.ndarray) -> None:
    position = figures.digits.clicked_digit(st.session_state.get(gallery_key), n=len(shown))
    if position is not None:
        st.session_state[PAGE_STATE]["enlarged"] = int(shown[position])


def enlarged_digit(state: dict, rows: np.ndarray, result, request, dataset: Dataset) -> None:
    row = state["enlarged"]
    if row is None or row not in rows:
        st.caption("No digit enlarged yet: click one in the gallery.")
        return
    split = ("train", "test")[int(result.splits[row])]
    label = dataset.class_names[int(result.labels[row])]
    st.markdown(f"**{split} #{int(result.indices[row]):,}** · label **{plain(label)}**")
    image = embeddings.images_at(dataset, request.split, np.array([row]))
    st.plotly_chart(
        figures.digits.grid_figure(image, result.labels[[row]], result.indices[[row]],
                                   class_names=dataset.class_names, columns=1, cell=220),
        key="enlarged_digit", width="content", config={"displayModeBar": False},
    )  # fmt: skip


def _n_points(dataset: Dataset, split: str) -> int:
    return {"train": len(dataset.x_train), "test": len(dataset.x_test)}.get(
        split, len(dataset.x_train) + len(dataset.x_test)
    )


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
