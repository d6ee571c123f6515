"""PCA and UMAP of images, and the rows of a split they are computed on; no cache here.

scikit-learn and umap are imported inside the functions that need them: importing this
module is cheap, and the Streamlit server only ever reads cached results.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

METHODS = ("pca", "umap")
EMBED_SPLITS = ("train", "test", "all")
UMAP_METRICS = ("euclidean", "cosine", "manhattan", "correlation")
MAX_PCA_COMPONENTS = 50
MIN_UMAP_POINTS = 4


@dataclass(frozen=True)
class PCAResult:
    """coords: float32 (n, k); explained_variance_ratio: (k,); components: float32 (k, d);
    mean: float32 (d,), the pixel means subtracted before projecting."""

    coords: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray
    mean: np.ndarray


def pca(x: np.ndarray, *, n_components: int = MAX_PCA_COMPONENTS, seed: int = 0) -> PCAResult:
    """Principal components of ``x`` (n, d), exactly: the top eigenvectors of the (d, d)
    covariance matrix (one GEMM; 4x quicker than scikit-learn's randomized SVD on MNIST and
    not an approximation). Each component's sign makes its largest-magnitude entry
    positive, so the result is deterministic.

    Args:
        x: ndarray of shape (n, d); uint8 pixels are scaled to [0, 1] first.
        n_components: 1..50, and at most min(n, d).
        seed: kept for the cache key and the CLI; the exact solution needs no randomness.
    """
    if not 1 <= n_components <= MAX_PCA_COMPONENTS:
        raise ValueError(f"n_components must be in 1..{MAX_PCA_COMPONENTS}; got {n_components}.")
    data = as_float(x)
    n, d = data.shape
    n_components = min(n_components, n, d)
    mean = data.mean(axis=0, dtype=np.float64)
    scatter = (data.T @ data).astype(np.float64) - n * np.outer(mean, mean)
    covariance = scatter / max(n - 1, 1)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0, None)
    components = vectors[:, order[:n_components]].T
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components = (components * np.where(signs == 0, 1, signs)[:, None]).astype(np.float32)
    coords = data @ components.T - (mean @ components.T.astype(np.float64)).astype(np.float32)
    total = values.sum()
    ratio = values[:n_components] / total if total > 0 else np.zeros(n_components)
    return PCAResult(coords.astype(np.float32), ratio.astype(np.float64), components,
                     mean.astype(np.float32))  # fmt: skip


UMAP_STAGES = ["PCA pre-reduction", "nearest neighbours", "fuzzy graph", "spectral initialisation",
               "layout epochs", "cluster quality"]  # fmt: skip


def umap_embedding(
    x: np.ndarray,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.001,
    metric: str = "euclidean",
    pca_dims: int | None = 50,
    seed: int | None = 0,
    parallel: bool = False,
    graph_key: str | list[str] | None = None,
    on_stage: Callable[[str], None] = lambda stage: None,
    on_progress: Callable[[dict], None] = lambda progress: None,
) -> np.ndarray:
    """2-D UMAP of ``x`` (n, d), float32 of shape (n, 2): umap-learn's stages (neighbours,
    fuzzy graph, spectral initialisation), kept per graph (see :mod:`.fast` and
    :mod:`.layout`) and reused when only ``min_dist`` or the seed changes, then our layout
    (:mod:`.sgd`: umap-learn's objective and schedule, 2.4x quicker).

    Args:
        n_neighbors: size of the local neighbourhood (2..200).
        min_dist: how tightly points may pack (0..1).
        metric: one of ``UMAP_METRICS``.
        pca_dims: reduce to this many principal components first (None: raw pixels).
        seed: random state of the layout (the neighbour graph is always seeded with 0).
        parallel: the parallel, non-reproducible layout (``random_state=None``,
            all cores); ``seed`` is then not used.
        graph_key: where to keep the neighbour graph, or the keys to look under, the last
            one to keep it in (see :mod:`.fast`); None: not kept.
        on_stage: called with a short description as each stage starts (a stage taken from
            an earlier UMAP says "reused").
        on_progress: called with stage k of n (:data:`UMAP_STAGES`) and its progress.
    """
    from mnist_core.embeddings import fast, layout

    check_umap_params(n_neighbors, min_dist, metric)
    if len(x) < MIN_UMAP_POINTS:  # fewer: umap-learn's spectral initialisation fails
        raise ValueError(f"A UMAP needs at least {MIN_UMAP_POINTS} images; this split has "
                         f"{len(x)}.")  # fmt: skip
    progress = fast.StagedProgress(UMAP_STAGES, on_progress)
    progress.start("PCA pre-reduction")
    data = as_float(x)
    if pca_dims:
        on_stage(f"PCA pre-reduction to {pca_dims} dimensions")
        data = pca(data, n_components=min(pca_dims, MAX_PCA_COMPONENTS)).coords
    on_stage("importing umap")
    import_umap()
    fast.enable_numba_cache()
    progress.start("nearest neighbours")
    n_neighbors = min(n_neighbors, len(data) - 1)
    used: list = []
    if len(data) >= fast.SMALL_DATA:  # smaller: exact distances, as umap-learn; not kept
        on_stage(f"nearest neighbours of {len(data):,} points (NN-descent)")
        knn, reused = fast.neighbour_graph(data, key=graph_key, n_neighbors=n_neighbors,
                                           metric=metric, parallel=parallel, progress=progress,
                                           used=used)  # fmt: skip
        if reused:
            on_stage("nearest neighbours reused from an earlier UMAP of the same data")
    else:
        on_stage(f"nearest neighbours of {len(data):,} points (exact)")
        knn = layout.exact_neighbours(data, n_neighbors, metric)
    key = used[0] if used else None
    progress.start("fuzzy graph")
    on_stage("fuzzy graph of the neighbours")
    graph, reused = layout.fuzzy_graph(data, knn, key=key, n_neighbors=n_neighbors, metric=metric)
    if reused:
        on_stage("fuzzy graph reused")
    progress.start("spectral initialisation")
    n_epochs = layout.epochs_for(len(data))
    on_stage(f"spectral initialisation of {len(data):,} points")
    init, reused = layout.spectral_init(data, graph, key=key, metric=metric, n_epochs=n_epochs)
    if reused:
        on_stage("spectral initialisation reused from an earlier UMAP of the same data")
    progress.start("layout epochs", n_epochs)
    on_stage(f"UMAP layout of {len(data):,} points" + (" (parallel)" if parallel else ""))
    coords = layout.layout(graph, init, min_dist=min_dist, seed=seed, parallel=parallel,
                           n_epochs=n_epochs, on_epoch=progress.update)  # fmt: skip
    progress.start("cluster quality")
    return coords


def import_umap():
    """``import umap`` without letting it import TensorFlow (only its ParametricUMAP needs
    it; the import costs seconds and hundreds of MB). Raises ImportError with an install
    hint when umap-learn is missing."""
    blocked = "tensorflow" not in sys.modules
    if blocked:
        sys.modules["tensorflow"] = None  # makes `import tensorflow` raise ImportError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)
            import umap
    except ImportError as exc:
        if "umap" in str(exc):
            raise ImportError("UMAP needs umap-learn: pip install umap-learn") from exc
        raise
    finally:
        if blocked:
            del sys.modules["tensorflow"]
    return umap



def warm_up_steps() -> list[Callable[[], None]]:
    """Steps that compile (or load from numba's disk cache) every numba function a UMAP job
    with the euclidean metric runs (NN-descent, fuzzy set, spectral initialisation, the
    layout's epochs, seeded and parallel) on tiny data, one step at a time, so that a warm
    worker can stay responsive between them and its forks find the code compiled. Only in
    a process whose numba threading layer is fork-safe (``workqueue``; GNU OpenMP aborts a
    forked child that uses it): see :mod:`.warm`."""
    from mnist_core.embeddings import fast, layout

    rng = np.random.default_rng(0)
    data = rng.normal(size=(fast.SMALL_DATA + 8, 8)).astype(np.float32)
    progress = fast.StagedProgress(UMAP_STAGES, lambda report: None)
    kept: dict = {}

    def imports():
        import_umap()
        fast.enable_numba_cache()

    def neighbours(parallel: bool):
        kept["knn"], _ = fast.neighbour_graph(data, key=None, n_neighbors=15, metric="euclidean",
                                              parallel=parallel, progress=progress)  # fmt: skip

    def graph():
        kept["graph"], _ = layout.fuzzy_graph(data, kept["knn"], key=None, n_neighbors=15,
                                              metric="euclidean")  # fmt: skip
        kept["init"], _ = layout.spectral_init(data, kept["graph"], key=None, metric="euclidean",
                                               n_epochs=200)  # fmt: skip

    def epochs(parallel: bool):
        layout.layout(kept["graph"], kept["init"], min_dist=0.1, seed=0, parallel=parallel,
                      n_epochs=3)

    return [imports, lambda: neighbours(False), lambda: neighbours(True), graph,
            lambda: epochs(False), lambda: epochs(True)]


def check_umap_params(n_neighbors: int, min_dist: float, metric: str) -> None:
    """Refuse UMAP parameters out of range, in one sentence naming the valid values."""
    if not 2 <= n_neighbors <= 200:
        raise ValueError(f"n_neighbors must be in 2..200; got {n_neighbors}.")
    if not 0 <= min_dist <= 1:
        raise ValueError(f"min_dist must be in [0, 1]; got {min_dist}.")
    if metric not in UMAP_METRICS:
        raise ValueError(f"Unknown metric {metric!r}; pass one of {', '.join(UMAP_METRICS)}.")


def check_parallel(parallel) -> None:
    """``parallel`` must be a real bool (a link or a CLI could pass "yes" or 1)."""
    if not isinstance(parallel, bool):
        raise ValueError(f"parallel must be true or false; got {parallel!r}.")




def as_float(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 rows (n, d); uint8 pixels are scaled to [0, 1]."""
    x = x.reshape(len(x), -1)
    if x.dtype == np.uint8:
        return np.multiply(x, np.float32(1 / 255), dtype=np.float32)
    return x.astype(np.float32, copy=False)


def split_arrays(dataset, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """images, labels, indices within their split, and split codes (0 train, 1 test)."""
    if split == "all":
        images = np.concatenate([dataset.x_train, dataset.x_test])
        labels = np.concatenate([dataset.y_train, dataset.y_test])
        indices = np.concatenate([np.arange(len(dataset.x_train)), np.arange(len(dataset.x_test))])
        splits = np.repeat([0, 1], [len(dataset.x_train), len(dataset.x_test)])
        return images, labels, indices, splits.astype(np.uint8)
    images, labels = dataset.split(split)
    code = 0 if split == "train" else 1
    return images, labels, np.arange(len(labels)), np.full(len(labels), code, np.uint8)


def images_at(dataset, split: str, rows: np.ndarray) -> np.ndarray:
    """Images at positions ``rows`` of :func:`split_arrays` ``(dataset, split)``, without
    concatenating the splits."""
    if split != "all":
        return dataset.split(split)[0][rows]
    n_train = len(dataset.x_train)
    return np.stack(
        [dataset.x_train[r] if r < n_train else dataset.x_test[r - n_train] for r in rows]
    ) if len(rows) else np.empty((0, *dataset.image_shape), np.uint8)

