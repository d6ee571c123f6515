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


@dataclass(frozen=True)
class PCAResult:
    """coords: float32 (n, k); explained_variance_ratio: (k,); components: float32 (k, d);
    mean: float32 (d,), the pixel means subtracted before projecting."""

    coords: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray
    mean: np.ndarray


def pca(x: np.ndarray, *, n_components: int = MAX_PCA_COMPONENTS, seed: int = 0) -> PCAResult:
    """Principal components of ``x`` (n, d) by randomized SVD.

    Args:
        x: ndarray of shape (n, d); uint8 pixels are scaled to [0, 1] first.
        n_components: 1..50, and at most min(n, d).
        seed: seed of the randomized SVD.
    """
    from sklearn.decomposition import PCA

    if not 1 <= n_components <= MAX_PCA_COMPONENTS:
        raise ValueError(f"n_components must be in 1..{MAX_PCA_COMPONENTS}; got {n_components}.")
    data = as_float(x)
    n_components = min(n_components, *data.shape)
    model = PCA(n_components=n_components, svd_solver="randomized", random_state=seed)
    coords = model.fit_transform(data)
    return PCAResult(
        coords.astype(np.float32),
        model.explained_variance_ratio_.astype(np.float64),
        model.components_.astype(np.float32),
        model.mean_.astype(np.float32),
    )


def umap_embedding(
    x: np.ndarray,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.001,
    metric: str = "euclidean",
    pca_dims: int | None = 50,
    seed: int | None = 0,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> np.ndarray:
    """2-D UMAP of ``x`` (n, d), float32 of shape (n, 2).

    Args:
        n_neighbors: size of the local neighbourhood (2..200).
        min_dist: how tightly points may pack (0..1).
        metric: one of ``UMAP_METRICS``.
        pca_dims: reduce to this many principal components first (None: raw pixels).
        seed: random state; None lets umap-learn run its parallel, non-reproducible path.
        on_stage: called with a short description as each stage starts.
    """
    check_umap_params(n_neighbors, min_dist, metric)
    data = as_float(x)
    if pca_dims:
        on_stage(f"PCA pre-reduction to {pca_dims} dimensions")
        data = pca(data, n_components=min(pca_dims, MAX_PCA_COMPONENTS), seed=seed or 0).coords
    on_stage("importing umap")
    umap = import_umap()
    on_stage(f"UMAP of {len(data):,} points (nearest neighbours, then layout)")
    reducer = umap.UMAP(
        n_neighbors=n_neighbors, min_dist=min_dist, metric=metric,
        n_components=2, random_state=seed,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "n_jobs overridden by random_state"
        return reducer.fit_transform(data).astype(np.float32)


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



def check_umap_params(n_neighbors: int, min_dist: float, metric: str) -> None:
    """Refuse UMAP parameters out of range, in one sentence naming the valid values."""
    if not 2 <= n_neighbors <= 200:
        raise ValueError(f"n_neighbors must be in 2..200; got {n_neighbors}.")
    if not 0 <= min_dist <= 1:
        raise ValueError(f"min_dist must be in [0, 1]; got {min_dist}.")
    if metric not in UMAP_METRICS:
        raise ValueError(f"Unknown metric {metric!r}; pass one of {', '.join(UMAP_METRICS)}.")




def as_float(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 rows (n, d); uint8 pixels are scaled to [0, 1]."""
    x = x.reshape(len(x), -1)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


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

