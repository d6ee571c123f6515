"""Embeddings: PCA and UMAP of the whole dataset, computed in the background, linked to
the digits by box or lasso selection.

The page's choices survive a page switch and live in the URL (see
:mod:`app.embedding_state`); the selection's digits are shown by :mod:`app.embedding_gallery`.
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import partial

import numpy as np
import streamlit as st

from app import loaders
from app.embedding_gallery import selection_gallery
from app.embedding_state import PAGE_STATE, bind, page_state, selection_for, write_url
from app.sidebar import ActiveDataset, active_dataset
from app.text import plain
from mnist_core import embeddings, figures
from mnist_core.data import Dataset
from mnist_core.embeddings import warm
from mnist_core.figures import raster
from mnist_core.runs import jobs


def render(active: ActiveDataset) -> None:
    key, dataset = active
    state = page_state(key, dataset)
    st.title("Embeddings")
    st.caption(
        f"{loaders.title_of(key)}: every image as a point. Select points with the "
        "box or lasso tool to see their digits; hover names some of the points."
    )
    c_method, c_split, _ = st.columns([1, 1.4, 3])
    bind("emb_method", state["method"])
    method = c_method.segmented_control(
        "Method", list(embeddings.METHODS), format_func=str.upper, required=True, key="emb_method"
    )
    bind("emb_split", state["split"])
    split = c_split.segmented_control(
        "Split", list(embeddings.EMBED_SPLITS), required=True, key="emb_split"
    )
    state["method"], state["split"] = method, split
    params = {} if method == "pca" else umap_form(state)
    if method == "umap":  # the warm worker compiles umap's functions while the user chooses
        warm.prepare_umap()
    request = embeddings.EmbeddingRequest(key, dataset.fingerprint, method, split, params)
    write_url(state, request)

    status = _status(request, start=method == "pca" or state.pop("umap_go", False))
    if status.active:
        job_progress(request)
        return
    if status.state == "failed":
        st.error(f"The {method.upper()} job failed: {plain(status.error or 'no reason given.')}")
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
        result = _embedding(json.dumps(request.to_json()))
    except LookupError:  # removed or damaged since the status was read: compute it again
        _embedding.clear()
        try:
            embeddings.submit(request)
        except OSError as exc:  # StorageError, or a Ray cluster that cannot be reached
            st.error(plain(exc))
            return
        st.rerun()
    show_embedding(state, request, result, dataset)
    write_url(state, request)  # the selection may have been read from the link just now


# --------------------------------------------------------------------------- computing


def umap_form(state: dict) -> dict:
    """UMAP parameters; applied (and the job started) when the form is submitted."""
    applied = state["umap"]
    with st.form("umap_form"):
        c1, c2, c3, c4, c5 = st.columns([1.4, 1, 1.3, 1, 1.3])
        n_neighbors = c1.slider("n_neighbors", 2, 200, applied["n_neighbors"])
        min_dist = c2.number_input(
            "min_dist", 0.0, 1.0, float(applied["min_dist"]), step=0.01, format="%.3f"
        )
        metric = c3.selectbox(
            "metric", embeddings.UMAP_METRICS,
            index=embeddings.UMAP_METRICS.index(applied["metric"]),
        )
        seed = c4.number_input("seed", 0, 2**31 - 1, int(applied["seed"]), step=1)
        use_pca = c5.checkbox("PCA to 50 first", value=applied["pca_dims"] is not None)
        # Its own line: "not reproducible" must be read, not cut off.
        parallel = st.checkbox(
            "parallel layout (not reproducible)", value=bool(applied.get("parallel")),
            help="The layout on all cores at once: quicker where there is more than one "
            "core, but the seed is not used and each run differs.",
        )  # fmt: skip
        st.caption("Changing only min_dist or the seed reuses the neighbour graph: seconds, "
                   "not a minute.")
        if st.form_submit_button("Compute UMAP", type="primary"):
            state["umap"] = {
                "n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric,
                "pca_dims": 50 if use_pca else None, "seed": int(seed),
                "parallel": bool(parallel),
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
        except OSError as exc:  # StorageError, or ExecutorUnavailable (a Ray cluster gone)
            return jobs.Status("failed", error=str(exc))
    return status


@st.fragment(run_every=0.5)
def job_progress(request: embeddings.EmbeddingRequest) -> None:
    """Stage and elapsed time of a running job; reruns the page when it ends (polled every
    0.5 s: two small files; a PCA job ends within seconds, so the chart is not kept
    waiting up to a second)."""
    status = jobs.read_status(request.directory)
    if not status.active:
        st.rerun(scope="app")
    since = status.started or status.submitted or time.time()
    report = embeddings.read_progress(request.directory)
    st.progress(job_fraction(report), text=plain(progress_text(report, status.stage)))
    st.info(
        f"Computing {request.method.upper()} of the {request.split} split in the background: "
        f"{status.stage or 'starting'} ({time.time() - since:.0f} s). "
        "Other pages stay usable; this page updates by itself.",
        icon=":material/hourglass_top:",
    )


def job_fraction(report: dict | None) -> float:
    """The job's share done, from its last progress report (0 before the first)."""
    try:
        return min(1.0, max(0.0, float(report["fraction"]))) if report else 0.0
    except (KeyError, TypeError, ValueError):
        return 0.0


def progress_text(report: dict | None, stage: str) -> str:
    """``Stage 3 of 4: layout epochs, 120 of 200`` (or the job's stage before a report)."""
    if not report or not {"stage", "stages", "name"} <= set(report):
        return stage or "starting"
    text = f"Stage {report['stage']} of {report['stages']}: {report['name']}"
    if report.get("total", 1) > 1:
        text += f", {report.get('done', 0):,} of {report['total']:,}"
    return text


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
        bind("pc_x", a)
        pc_x = c_x.selectbox("x axis", range(n), format_func=lambda i: f"PC{i + 1}", key="pc_x")
        bind("pc_y", b)
        pc_y = c_y.selectbox("y axis", range(n), format_func=lambda i: f"PC{i + 1}", key="pc_y")
        state["axes"] = (pc_x, pc_y)
    else:
        pc_x, pc_y = 0, 1
    bind("emb_marker_size", state.get("marker_size") or (3.0 if len(result.coords) > 5000 else 6.0))
    size = c_size.slider("Marker size", 1.0, 10.0, step=0.5, key="emb_marker_size")
    bind("emb_opacity", state.get("opacity", 0.6))
    opacity = c_opacity.slider("Opacity", 0.05, 1.0, step=0.05, key="emb_opacity")
    state["marker_size"], state["opacity"] = size, opacity

    x, y = result.coords[:, pc_x], result.coords[:, pc_y]
    selection = selection_for(state, request)
    if selection is not None and selection["rows"] is None:  # read from a link
        selection["rows"] = figures.embeddings.rows_in_shapes(x, y, selection["shapes"])
    same_axes = selection is not None and tuple(selection["axes"]) == (pc_x, pc_y)
    plot, numbers = st.columns([3, 1], gap="medium")
    with plot:
        chart_key = f"scatter-{request.key}"
        rows = None if selection is None else selection["rows"]
        outlines = selection["shapes"] if same_axes else []
        token = hashlib.sha1(b"" if rows is None else np.asarray(rows, np.int64).tobytes())
        token.update(repr(outlines).encode())
        fig = _scatter(json.dumps(request.to_json()), (pc_x, pc_y), size, opacity,
                       "none" if rows is None else token.hexdigest(), tuple(dataset.class_names),
                       _rows=rows, _outlines=outlines)  # fmt: skip
        st.plotly_chart(
            fig, key=chart_key, selection_mode=("box", "lasso"),
            on_select=partial(_remember_selection, chart_key, request.key, (pc_x, pc_y), x, y),
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
        scree, components = _pca_figures(json.dumps(request.to_json()), dataset.image_shape,
                                         _result=result)  # fmt: skip
        st.subheader("Variance explained")
        st.plotly_chart(scree, key="scree")
        st.subheader("The first principal components")
        st.plotly_chart(components, key="components")


@st.cache_resource(show_spinner=False, max_entries=8)
def _pca_figures(request_json: str, image_shape: tuple[int, int], *, _result):
    """A PCA's scree plot and first components as images, built once per result (keyed by
    its request) and shared read-only: the components' heat maps were half of a warm
    page's server CPU."""
    extras = _result.extras
    return (figures.embeddings.scree_figure(extras["explained_variance_ratio"]),
            figures.embeddings.components_figure(extras["components"], image_shape))


@st.cache_resource(show_spinner=False, max_entries=16)
def _scatter(request_json: str, axes: tuple[int, int], size: float, opacity: float,
             selection_token: str, class_names: tuple[str, ...], *, _rows, _outlines):
    """The scatter, its points drawn server-side as one picture (the browser decodes one
    PNG instead of setting up WebGL for 70,000 points: issue 13, target 6), built once per
    view and selection (70,000 points: ~0.3 s) and shared read-only by all sessions;
    ``selection_token`` stands for the unhashed ``_rows`` and ``_outlines``."""
    request = embeddings.EmbeddingRequest.from_json(json.loads(request_json))
    result = _embedding(request_json)
    a, b = axes
    return raster.raster_scatter_figure(
        result.coords[:, a], result.coords[:, b], result.labels,
        result.indices if request.split != "all" else np.arange(len(result.labels)),
        class_names=class_names, marker_size=size, opacity=opacity,
        axis_titles=(f"PC{a + 1}", f"PC{b + 1}") if request.method == "pca"
        else ("UMAP 1", "UMAP 2"),
        index_title="index" if request.split != "all" else "index (train, then test)",
        selected=_rows, outlines=_outlines,
    )  # fmt: skip


def _remember_selection(chart_key: str, request_key: str, axes: tuple[int, int],
                        x: np.ndarray, y: np.ndarray) -> None:  # fmt: skip
    """on_select: keep what the user selected in the page's own state (the chart's own
    state is dropped when the figure or the page changes). The rows are every point inside
    the box or lasso drawn (the chart's own points are only its hover layer's)."""
    event = st.session_state.get(chart_key)
    shapes = figures.embeddings.selection_shapes(event)
    rows = figures.embeddings.rows_in_shapes(x, y, shapes)
    state = st.session_state[PAGE_STATE]
    state["selection"] = (
        {"request": request_key, "axes": axes, "shapes": shapes, "rows": rows}
        if len(rows) or shapes else None
    )
    state.update(gallery_label="all", gallery_page=1, enlarged=None)
    for widget in ("gallery_label", "gallery_page"):
        st.session_state.pop(widget, None)


def cluster_quality(
    request, result, dataset: Dataset, *, axes: tuple[int, int], axes_name: str
) -> None:
    if axes == (0, 1):  # the stored one, read again until the job has measured it
        q = embeddings.stored_quality(request)
    else:
        q = _quality(json.dumps(request.to_json()), axes)
    if q is None:
        quality_pending(request)
        return
    st.markdown("**Cluster quality**")
    st.metric(f"k-NN accuracy in {axes_name}", f"{q['knn_accuracy']:.1%}",
              help=f"5-nearest-neighbour classifier, 5-fold cross-validated on {q['sample']:,} "
              f"points of the {axes_name} layout: how well it alone predicts the "
              "label.")  # fmt: skip
    pixels = q.get("knn_accuracy_pixels")
    if pixels is None:  # measured after the embedding was stored: read it when it is there
        pixels = embeddings.stored_pixel_reference(request)
    if pixels is not None:
        st.metric("same, in pixel space", f"{pixels:.1%}",
                  help="The same classifier on the raw pixels of the same points, for reference.")
    else:
        st.caption("The same classifier in pixel space is being measured…")
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


@st.fragment(run_every=0.5)
def quality_pending(request: embeddings.EmbeddingRequest) -> None:
    """The chart is drawn while its job measures the cluster quality: say so, and rerun
    the page when the quality is stored (or offer to measure it when the job died)."""
    if embeddings.stored_quality(request) is not None:
        st.rerun(scope="app")
    status = jobs.read_status(request.directory)
    if status.active:
        st.markdown("**Measuring cluster quality…**")
        st.caption("k-NN accuracy, silhouette and neighbour purity of this layout: a few "
                   "seconds; the chart is ready to explore meanwhile.")  # fmt: skip
        return
    st.warning("The cluster quality was not measured: "
               f"{plain(status.error or 'its job ended before it was done.')}")  # fmt: skip
    if st.button("Measure cluster quality", key="emb_quality_retry", icon=":material/refresh:"):
        try:
            embeddings.submit(request, retry=True)
        except OSError as exc:  # StorageError, or a Ray cluster that cannot be reached
            st.error(plain(exc))
            return
        st.rerun(scope="fragment")


@st.cache_resource(show_spinner="Reading the embedding…", max_entries=8)
def _embedding(request_json: str) -> embeddings.EmbeddingResult:
    """A stored embedding, drawable (its quality may still be measured: the page reads
    that from :func:`mnist_core.embeddings.stored_quality`), read once from disk and shared
    read-only by all sessions. Raises LookupError when it is not stored (yet), so that
    absence is never cached."""
    request = embeddings.EmbeddingRequest.from_json(json.loads(request_json))
    result = embeddings.load_cached(request, drawable=True)
    if result is None:
        raise LookupError(f"No stored embedding for {request.key}.")
    return result


@st.cache_data(show_spinner="Measuring the cluster quality on these axes…", max_entries=64)
def _quality(request_json: str, axes: tuple[int, int]) -> dict:
    request = embeddings.EmbeddingRequest.from_json(json.loads(request_json))
    return embeddings.quality_on_axes(request, _embedding(request_json), axes)


def _n_points(dataset: Dataset, split: str) -> int:
    return {"train": len(dataset.x_train), "test": len(dataset.x_test)}.get(
        split, len(dataset.x_train) + len(dataset.x_test)
    )


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
