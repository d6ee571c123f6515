"""Embeddings: PCA and UMAP of the whole dataset, computed in the background, linked to
the digits by box or lasso selection."""

from __future__ import annotations

import json
import time

import numpy as np
import streamlit as st

from app import loaders
from app.sidebar import ActiveDataset, active_dataset
from mnist_core import embeddings, figures
from mnist_core.runs import jobs
from mnist_core.data import Dataset

GALLERY_MAX = 300


def render(active: ActiveDataset) -> None:
    key, dataset = active
    st.title("Embeddings")
    st.caption(
        f"{loaders.title_of(key)}: every image as a point. Select points with the box or "
        "lasso tool to see their digits; click a class in the legend to hide it."
    )
    c_method, c_split, _ = st.columns([1, 1.4, 3])
    method = c_method.segmented_control(
        "Method", ["pca", "umap"], format_func=str.upper, default="pca", required=True,
        key="emb_method",
    )  # fmt: skip
    split = c_split.segmented_control(
        "Split", list(embeddings.EMBED_SPLITS), default="train", required=True, key="emb_split"
    )
    params = {} if method == "pca" else umap_form()
    request = embeddings.EmbeddingRequest(key, dataset.fingerprint, method, split, params)

    status = _status(request, start=method == "pca" or st.session_state.pop("umap_go", False))
    if status.active:
        job_progress(request)
        return
    if status.state == "failed":
        st.error(f"The {method.upper()} job failed: {status.error}")
        if st.button("Retry"):
            embeddings.submit(request, retry=True)
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
    except LookupError:  # removed or damaged since the status was read
        loaders.embedding.clear()
        embeddings.submit(request)
        st.rerun()
    show_embedding(request, result, dataset)


def umap_form() -> dict:
    """UMAP parameters; applied (and the job started) when the form is submitted."""
    applied = st.session_state.setdefault("umap_params", dict(embeddings.DEFAULT_PARAMS["umap"]))
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
            st.session_state["umap_params"] = {
                "n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric,
                "pca_dims": 50 if use_pca else None, "seed": int(seed),
            }  # fmt: skip
            st.session_state["umap_go"] = True
    return st.session_state["umap_params"]


def _status(request: embeddings.EmbeddingRequest, *, start: bool) -> jobs.Status:
    """The job status; submits the job first when ``start`` (PCA always, UMAP on demand)."""
    status = embeddings.status_of(request)
    if start and status.state is None:  # never asked for; a failed job waits for Retry
        return embeddings.submit(request)
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


def show_embedding(
    request: embeddings.EmbeddingRequest, result: embeddings.EmbeddingResult, dataset: Dataset
) -> None:
    is_pca = request.method == "pca"
    c_x, c_y, c_size, c_opacity = st.columns(4)
    if is_pca:
        n = result.coords.shape[1]
        pc_x = c_x.selectbox("x axis", range(n), format_func=lambda i: f"PC{i + 1}", key="pc_x")
        pc_y = c_y.selectbox("y axis", range(n), index=1, format_func=lambda i: f"PC{i + 1}",
                             key="pc_y")  # fmt: skip
        titles = (f"PC{pc_x + 1}", f"PC{pc_y + 1}")
    else:
        pc_x, pc_y, titles = 0, 1, ("UMAP 1", "UMAP 2")
    size = c_size.slider("Marker size", 1.0, 10.0, 3.0 if len(result.coords) > 5000 else 6.0, 0.5)
    opacity = c_opacity.slider("Opacity", 0.05, 1.0, 0.6, 0.05)

    plot, numbers = st.columns([3, 1], gap="medium")
    with plot:
        fig = figures.embeddings.scatter_figure(
            result.coords[:, pc_x], result.coords[:, pc_y], result.labels,
            result.indices if request.split != "all" else np.arange(len(result.labels)),
            class_names=dataset.class_names, marker_size=size, opacity=opacity,
            axis_titles=titles,
            index_title="index" if request.split != "all" else "index (train, then test)",
        )  # fmt: skip
        event = st.plotly_chart(
            fig, key=f"scatter-{request.key}", on_select="rerun", selection_mode=("box", "lasso")
        )
    with numbers:
        cluster_quality(result, dataset, axes="PC1–PC2" if is_pca else "2-D")
    selection_gallery(event, result, request, dataset)
    if is_pca:
        st.subheader("Variance explained")
        st.plotly_chart(figures.embeddings.scree_figure(result.extras["explained_variance_ratio"]),
                        key="scree")  # fmt: skip
        st.subheader("The first principal components")
        st.plotly_chart(
            figures.embeddings.components_figure(result.extras["components"], dataset.image_shape),
            key="components",
        )


def cluster_quality(result: embeddings.EmbeddingResult, dataset: Dataset, *, axes: str) -> None:
    q = result.quality
    st.markdown("**Cluster quality**")
    st.metric(f"k-NN accuracy in {axes}", f"{q['knn_accuracy']:.1%}",
              help=f"5-nearest-neighbour classifier, 5-fold cross-validated on {q['sample']:,} "
              "points: how well the layout alone predicts the label.")  # fmt: skip
    if q.get("knn_accuracy_pixels") is not None:
        st.metric("same, in pixel space", f"{q['knn_accuracy_pixels']:.1%}",
                  help="The same classifier on the raw pixels of the same points, for reference.")
    if q.get("silhouette") is not None:
        st.metric("silhouette", f"{q['silhouette']:.3f}",
                  help="From -1 to 1: how much closer points are to their own class than to "
                  "the nearest other class (same sample).")  # fmt: skip
    st.metric(f"neighbour purity (k={q['k']})", f"{q['purity_mean']:.1%}",
              help="Share of each point's nearest neighbours in the embedding with its label.")
    purity = {dataset.class_names[int(c)]: v for c, v in q["purity"].items()}
    st.dataframe(
        {"class": list(purity), "purity": [f"{v:.1%}" for v in purity.values()]},
        hide_index=True, height=35 * (len(purity) + 1) + 3,
    )  # fmt: skip
    st.caption(f"Computed in {result.seconds:.1f} s.")


def selection_gallery(event, result, request, dataset: Dataset) -> None:
    points = event.selection.points if event else []
    if not points:
        st.caption("Draw a box or a lasso around points to see their digits here.")
        return
    rows = figures.embeddings.selected_rows(event, result.labels)
    labels = result.labels[rows]
    st.subheader(f"{len(rows):,} selected points")
    shown = rows[:GALLERY_MAX]
    counts = {dataset.class_names[int(c)]: int(n) for c, n in zip(*np.unique(labels, return_counts=True))}
    left, right = st.columns([3, 1])
    with left:
        if len(rows) > GALLERY_MAX:
            st.caption(f"The first {GALLERY_MAX} of them:")
        st.plotly_chart(
            figures.digits.grid_figure(
                embeddings.images_at(dataset, request.split, shown), result.labels[shown], result.indices[shown],
                class_names=dataset.class_names, columns=20,
            ),
            key="selection_gallery", width="content", config={"displayModeBar": False},
        )  # fmt: skip
    with right:
        st.plotly_chart(figures.embeddings.label_counts_figure(counts), key="selection_counts")


def _n_points(dataset: Dataset, split: str) -> int:
    return {"train": len(dataset.x_train), "test": len(dataset.x_test)}.get(
        split, len(dataset.x_train) + len(dataset.x_test)
    )


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
