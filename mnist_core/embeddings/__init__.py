"""2-D (and PCA) embeddings of a dataset, their cluster quality, and their on-disk cache.

- :func:`pca`: randomized-SVD PCA, up to 50 components.
- :func:`umap_embedding`: umap-learn, optionally after a PCA pre-reduction to 50 dimensions.
- :func:`cluster_quality`: k-NN accuracy in the embedding and in pixel space, silhouette,
  per-class neighbourhood purity.
- :class:`EmbeddingRequest` names one embedding (dataset fingerprint, method, parameters,
  split); :func:`compute_cached` computes it once and keeps it under
  ``<cache>/embeddings/``, so any later request, from any process, reads the file.

scikit-learn and umap are imported inside the functions that need them: importing this
module is cheap, and the Streamlit server only ever reads cached results.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mnist_core import paths
from mnist_core.diskcache import load_arrays, save_arrays_atomic, write_json_atomic

__all__ = [
    "EMBED_SPLITS",
    "METHODS",
    "EmbeddingRequest",
    "EmbeddingResult",
    "cluster_quality",
    "compute",
    "compute_cached",
    "images_at",
    "load_cached",
    "pca",
    "split_arrays",
    "umap_embedding",
]

METHODS = ("pca", "umap")
EMBED_SPLITS = ("train", "test", "all")
UMAP_METRICS = ("euclidean", "cosine", "manhattan", "correlation")
MAX_PCA_COMPONENTS = 50
QUALITY_SAMPLE = 10_000  # points used for cross-validated k-NN accuracy and silhouette


# --------------------------------------------------------------------------- compute


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
    data = _as_float(x)
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
    _check_umap_params(n_neighbors, min_dist, metric)
    data = _as_float(x)
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


def cluster_quality(
    coords: np.ndarray,
    labels: np.ndarray,
    *,
    pixels: np.ndarray | None = None,
    k: int = 15,
    sample: int = QUALITY_SAMPLE,
    seed: int = 0,
) -> dict[str, Any]:
    """How well an embedding keeps the classes apart.

    Returns a dict with
        ``knn_accuracy``: 5-fold cross-validated accuracy of a 5-nearest-neighbour classifier
        on the embedding coordinates (on a seeded sample of ``sample`` points);
        ``knn_accuracy_pixels``: the same on the raw pixels of the same sample, for
        reference (None when ``pixels`` is not given);
        ``silhouette``: silhouette score of the labels in the embedding (same sample);
        ``purity``: {class: share of its points' ``k`` nearest neighbours (all points, in
        the embedding) that carry its label}, and ``purity_mean`` over all points.
    """
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

    if len(coords) != len(labels):
        raise ValueError(
            f"coords and labels differ in length: {len(coords)} points, {len(labels)} labels."
        )
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(labels), size=min(sample, len(labels)), replace=False))
    counts = np.bincount(labels[idx])
    folds = int(min(5, counts[counts > 0].min()))
    cv = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed)
    classifier = KNeighborsClassifier(n_neighbors=5)

    def knn_accuracy(features):
        return float(cross_val_score(classifier, features, labels[idx], cv=cv).mean())

    result: dict[str, Any] = {"knn_accuracy": knn_accuracy(coords[idx])}
    result["knn_accuracy_pixels"] = (
        knn_accuracy(_as_float(pixels[idx])) if pixels is not None else None
    )
    n_labels = len(np.unique(labels[idx]))
    result["silhouette"] = (
        float(silhouette_score(coords[idx], labels[idx])) if 1 < n_labels < len(idx) else None
    )
    k = min(k, len(coords) - 1)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(coords)
    _, nearest = neighbours.kneighbors(coords)
    same = labels[nearest[:, 1:]] == labels[:, None]  # column 0 is the point itself
    per_point = same.mean(axis=1)
    result["purity"] = {
        int(c): float(per_point[labels == c].mean()) for c in np.unique(labels)
    }
    result["purity_mean"] = float(per_point.mean())
    result["k"] = k
    result["sample"] = int(len(idx))
    return result


def _as_float(x: np.ndarray) -> np.ndarray:
    x = x.reshape(len(x), -1)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


# --------------------------------------------------------------------------- requests and cache


@dataclass(frozen=True)
class EmbeddingRequest:
    """One embedding: of which data, by which method, with which parameters.

    ``dataset`` is what :func:`mnist_core.data.datasets.load_dataset` takes (a name or a path);
    ``fingerprint`` pins the data, so the cache key does not depend on where it lives.
    """

    dataset: str
    fingerprint: str
    method: Literal["pca", "umap"]
    split: Literal["train", "test", "all"] = "train"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r}; pass one of {', '.join(METHODS)}.")
        if self.split not in EMBED_SPLITS:
            raise ValueError(f"Unknown split {self.split!r}; pass one of {', '.join(EMBED_SPLITS)}.")
        object.__setattr__(self, "params", normalized_params(self.method, self.params))

    @property
    def key(self) -> str:
        """Cache key: fingerprint, method, split and a hash of the parameters."""
        blob = json.dumps(self.params, sort_keys=True).encode()
        digest = hashlib.sha256(blob).hexdigest()[:12]
        return f"{self.fingerprint[:16]}-{self.method}-{self.split}-{digest}"

    @property
    def directory(self) -> Path:
        return paths.cache_dir() / "embeddings" / self.key

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> EmbeddingRequest:
        return cls(**data)


DEFAULT_PARAMS = {
    "pca": {"n_components": MAX_PCA_COMPONENTS, "seed": 0},
    "umap": {"n_neighbors": 15, "min_dist": 0.001, "metric": "euclidean", "pca_dims": 50, "seed": 0},
}


def normalized_params(method: str, params: dict) -> dict:
    """``params`` completed with defaults; unknown names are refused, listing the valid ones."""
    defaults = DEFAULT_PARAMS[method]
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"Unknown {method} parameter {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(defaults)}."
        )
    params = {**defaults, **params}
    if method == "pca" and not 1 <= params["n_components"] <= MAX_PCA_COMPONENTS:
        raise ValueError(
            f"n_components must be in 1..{MAX_PCA_COMPONENTS}; got {params['n_components']}."
        )
    if method == "umap":
        _check_umap_params(params["n_neighbors"], params["min_dist"], params["metric"])
        if params["pca_dims"] is not None and not 2 <= params["pca_dims"] <= MAX_PCA_COMPONENTS:
            raise ValueError(
                f"pca_dims must be None or in 2..{MAX_PCA_COMPONENTS}; got {params['pca_dims']}."
            )
    return params


def _check_umap_params(n_neighbors: int, min_dist: float, metric: str) -> None:
    if not 2 <= n_neighbors <= 200:
        raise ValueError(f"n_neighbors must be in 2..200; got {n_neighbors}.")
    if not 0 <= min_dist <= 1:
        raise ValueError(f"min_dist must be in [0, 1]; got {min_dist}.")
    if metric not in UMAP_METRICS:
        raise ValueError(f"Unknown metric {metric!r}; pass one of {', '.join(UMAP_METRICS)}.")


@dataclass
class EmbeddingResult:
    """A computed embedding as stored on disk.

    coords: float32 (n, 2) for UMAP, (n, k) for PCA; labels: (n,); indices: (n,) index of
    each point in its split; splits: (n,) 0 for train and 1 for test points;
    quality: the dict of :func:`cluster_quality`; extras: PCA's explained_variance_ratio,
    components and mean; seconds: compute time.
    """

    coords: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    splits: np.ndarray
    quality: dict
    seconds: float
    extras: dict = field(default_factory=dict)


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


def compute(
    request: EmbeddingRequest, dataset, *, on_stage: Callable[[str], None] = lambda s: None
) -> EmbeddingResult:
    """Compute the embedding ``request`` names on ``dataset`` (no cache involved)."""
    if dataset.fingerprint != request.fingerprint:
        raise ValueError(
            f"{request.dataset}: the data changed since the request was made "
            f"(fingerprint {dataset.fingerprint[:12]}, expected {request.fingerprint[:12]})."
        )
    images, labels, indices, splits = split_arrays(dataset, request.split)
    params = request.params
    start = time.perf_counter()
    extras = {}
    if request.method == "pca":
        on_stage(f"PCA of {len(images):,} images")
        result = pca(images, n_components=params["n_components"], seed=params["seed"])
        coords = result.coords
        extras = {
            "explained_variance_ratio": result.explained_variance_ratio,
            "components": result.components,
            "mean": result.mean,
        }
    else:
        coords = umap_embedding(images, on_stage=on_stage, **params)
    seconds = time.perf_counter() - start
    on_stage("measuring cluster quality")
    quality = cluster_quality(coords[:, :2], labels, pixels=images, seed=0)
    return EmbeddingResult(coords, labels, indices, splits, quality, seconds, extras)


def save(result: EmbeddingResult, directory: Path) -> None:
    """Write ``result`` into ``directory``: ``embedding.npz`` then ``quality.json``, each
    atomically; ``quality.json`` is written last and marks the result complete."""
    arrays = {
        "coords": result.coords, "labels": result.labels,
        "indices": result.indices, "splits": result.splits,
        **{f"extra_{k}": v for k, v in result.extras.items()},
    }  # fmt: skip
    save_arrays_atomic(directory / "embedding.npz", arrays)
    meta = {"quality": result.quality, "seconds": result.seconds}
    write_json_atomic(directory / "quality.json", meta)


def load_cached(request: EmbeddingRequest) -> EmbeddingResult | None:
    """The stored result for ``request``, or None when it is missing or damaged."""
    directory = request.directory
    try:
        meta = json.loads((directory / "quality.json").read_text())
    except (OSError, ValueError):
        return None
    arrays = load_arrays(directory / "embedding.npz")
    if arrays is None or not {"coords", "labels", "indices", "splits"} <= set(arrays):
        return None
    extras = {k.removeprefix("extra_"): v for k, v in arrays.items() if k.startswith("extra_")}
    return EmbeddingResult(
        arrays["coords"], arrays["labels"], arrays["indices"], arrays["splits"],
        meta["quality"], meta["seconds"], extras,
    )  # fmt: skip


def compute_cached(
    request: EmbeddingRequest, dataset, *, on_stage: Callable[[str], None] = lambda s: None
) -> tuple[EmbeddingResult, bool]:
    """``(result, cached)``: the stored result if there is one, else computed and stored."""
    cached = load_cached(request)
    if cached is not None:
        return cached, True
    result = compute(request, dataset, on_stage=on_stage)
    request.directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(request.directory / "request.json", request.to_json())
    save(result, request.directory)
    return result, False


def submit(request: EmbeddingRequest) -> dict[str, Any]:
    """Make sure the embedding exists or is being computed by a background worker.

    Returns the job status (``state`` done | queued | running | failed). A stored result
    answers at once; a request for an embedding already being computed joins that job.
    """
    from mnist_core.runs import jobs

    if load_cached(request) is not None:
        return {"state": "done", "stage": "done"}
    if jobs.read_status(request.directory).get("state") == "done":
        # Marked done but the files are gone or damaged: compute again.
        jobs.update_status(request.directory, state="failed", error="The stored result is damaged.")
    return jobs.submit(request.directory, kind="embedding", spec=request.to_json())
