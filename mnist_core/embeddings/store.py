"""Named embeddings and their on-disk cache: :class:`EmbeddingRequest` names one embedding
(dataset fingerprint, method, parameters, split); :func:`compute_cached` computes it once
and keeps it under ``<cache>/embeddings/<key>/``, so any later request, from any process,
reads the file; :func:`submit` has a background worker do it.

A request's folder holds ``request.json``, ``embedding.npz`` and ``quality.json``, plus the
job files of :mod:`mnist_core.runs.jobs`. A result is stored in two steps: the coordinates
first, with ``quality.json`` saying ``"quality": null`` (the chart can be drawn: see
``load_cached(..., drawable=True)``), then its cluster quality, written into
``quality.json`` (the result is complete). A job killed between the two keeps its chart;
the next job on the folder only measures the quality.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from mnist_core import paths
from mnist_core.diskcache import load_arrays, save_arrays_atomic, write_json_atomic
from mnist_core.embeddings.compute import (
    EMBED_SPLITS,
    MAX_PCA_COMPONENTS,
    METHODS,
    check_parallel,
    check_umap_params,
    pca,
    split_arrays,
    umap_embedding,
)
from mnist_core.embeddings.fast import graph_key
from mnist_core.embeddings.quality import cluster_quality, pixel_knn_accuracy

DEFAULT_PARAMS = {
    "pca": {"n_components": MAX_PCA_COMPONENTS, "seed": 0},
    "umap": {"n_neighbors": 15, "min_dist": 0.001, "metric": "euclidean", "pca_dims": 50, "seed": 0,
             "parallel": False},
}


@dataclass(frozen=True)
class EmbeddingRequest:
    """One embedding: of which data, by which method, with which parameters.

    ``dataset`` is what :func:`mnist_core.data.load_dataset` takes (a name or a path);
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
        params = dict(self.params)
        if params.get("parallel") is False:
            del params["parallel"]  # the default: the keys of earlier results stay valid
        blob = json.dumps(params, sort_keys=True).encode()
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
        check_umap_params(params["n_neighbors"], params["min_dist"], params["metric"])
        check_parallel(params["parallel"])
        if params["pca_dims"] is not None and not 2 <= params["pca_dims"] <= MAX_PCA_COMPONENTS:
            raise ValueError(
                f"pca_dims must be None or in 2..{MAX_PCA_COMPONENTS}; got {params['pca_dims']}."
            )
    return params



@dataclass
class EmbeddingResult:
    """A computed embedding as stored on disk.

    coords: float32 (n, 2) for UMAP, (n, k) for PCA; labels: (n,); indices: (n,) index of
    each point in its split; splits: (n,) 0 for train and 1 for test points;
    quality: the dict of :func:`cluster_quality` (None while it is measured); extras: PCA's explained_variance_ratio,
    components and mean; seconds: compute time.
    """

    coords: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    splits: np.ndarray
    quality: dict
    seconds: float
    extras: dict = field(default_factory=dict)
def compute(
    request: EmbeddingRequest, dataset, *, on_stage: Callable[[str], None] = lambda s: None,
    on_progress: Callable[[dict], None] = lambda p: None, pixel_reference: bool = True,
    measure_quality: bool = True,
) -> EmbeddingResult:
    """Compute the embedding ``request`` names on ``dataset``. Only the neighbour graph of
    a UMAP is kept (see :mod:`.fast`). Without ``pixel_reference`` the quality's pixel-space
    k-NN accuracy is the stored one of this data and split, or None (see
    :func:`pixel_reference`); without ``measure_quality`` the result's quality is None."""
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
        # A parallel layout reuses a seeded graph when there is one (as good, and known).
        key = [graph_key(request.fingerprint, request.split, params["n_neighbors"],
                         params["metric"], params["pca_dims"], parallel)
               for parallel in dict.fromkeys([False, params["parallel"]])]  # fmt: skip
        coords = umap_embedding(images, on_stage=on_stage, on_progress=on_progress,
                                graph_key=key, **params)  # fmt: skip
    seconds = time.perf_counter() - start
    result = EmbeddingResult(coords, labels, indices, splits, None, seconds, extras)
    if measure_quality:
        on_stage("measuring cluster quality")
        result.quality = quality_of(request, result, images if pixel_reference else None)
    return result


def quality_of(request: EmbeddingRequest, result: EmbeddingResult, pixels=None) -> dict:
    """:func:`cluster_quality` of ``result``'s first two columns; with ``pixels`` None, the
    pixel-space reference is the stored one of this data and split, or None."""
    quality = cluster_quality(result.coords[:, :2], result.labels, pixels=pixels, seed=0)
    if pixels is None:
        quality["knn_accuracy_pixels"] = stored_pixel_reference(request)
    return quality


def save(result: EmbeddingResult, directory: Path) -> None:
    """Write ``result`` into ``directory``: ``embedding.npz`` then ``quality.json``, each
    atomically (``result.quality`` None: the chart can be drawn, the quality is pending)."""
    arrays = {
        "coords": result.coords, "labels": result.labels,
        "indices": result.indices, "splits": result.splits,
        **{f"extra_{k}": v for k, v in result.extras.items()},
    }  # fmt: skip
    save_arrays_atomic(directory / "embedding.npz", arrays)
    save_quality(result, directory)


def save_quality(result: EmbeddingResult, directory: Path) -> None:
    """Write ``result``'s quality (and compute time) into ``directory``'s ``quality.json``."""
    write_json_atomic(directory / "quality.json",
                      {"quality": result.quality, "seconds": result.seconds})  # fmt: skip


def _stored_meta(request: EmbeddingRequest) -> dict | None:
    """``quality.json`` of a stored result (its ``quality`` None while pending), or None."""
    try:
        meta = json.loads((request.directory / "quality.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or "quality" not in meta:
        return None
    return meta if (request.directory / "embedding.npz").is_file() else None


def stored_quality(request: EmbeddingRequest) -> dict | None:
    """The stored cluster quality of ``request``'s result; None while it is not measured
    (or there is no result). Reads one small file: a page may ask on every run."""
    meta = _stored_meta(request)
    return meta["quality"] if meta is not None else None


def load_cached(request: EmbeddingRequest, *, drawable: bool = False) -> EmbeddingResult | None:
    """The stored result for ``request``, or None when it is missing or damaged. By default
    only a complete one; with ``drawable`` also one whose quality is still being measured
    (its ``quality`` None)."""
    meta = _stored_meta(request)
    if meta is None or (meta["quality"] is None and not drawable):
        return None
    arrays = load_arrays(request.directory / "embedding.npz")
    if arrays is None or not {"coords", "labels", "indices", "splits"} <= set(arrays):
        return None
    extras = {k.removeprefix("extra_"): v for k, v in arrays.items() if k.startswith("extra_")}
    return EmbeddingResult(
        arrays["coords"], arrays["labels"], arrays["indices"], arrays["splits"],
        meta["quality"], meta["seconds"], extras,
    )  # fmt: skip


def compute_cached(
    request: EmbeddingRequest, dataset, *, on_stage: Callable[[str], None] = lambda s: None,
    on_progress: Callable[[dict], None] = lambda p: None,
) -> tuple[EmbeddingResult, bool]:
    """``(result, cached)``: the stored result if there is one, else computed and stored.

    The coordinates are stored first (the page draws the chart from them), then the cluster
    quality is measured and written into the result; a stored result still without its
    quality (its job was killed) only has its quality measured. The pixel-space reference
    of the quality, when not known yet for this data and split (seconds on MNIST), is
    measured last, kept once per data and split, and written into the result too."""
    result = load_cached(request, drawable=True)
    if result is not None and result.quality is not None:
        return result, True
    if result is None:
        result = compute(request, dataset, on_stage=on_stage, on_progress=on_progress,
                         measure_quality=False)  # fmt: skip
        request.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(request.directory / "request.json", request.to_json())
        save(result, request.directory)  # drawable from here on
    on_stage("measuring cluster quality")
    result.quality = quality_of(request, result)
    save_quality(result, request.directory)
    if result.quality.get("knn_accuracy_pixels") is None:
        on_stage("measuring the pixel-space reference")
        result.quality["knn_accuracy_pixels"] = pixel_reference(request, dataset)
        save_quality(result, request.directory)
    return result, False


def _reference_path(request: EmbeddingRequest) -> Path:
    return paths.cache_dir() / "embeddings" / "pixel-knn" / f"{request.fingerprint[:16]}-{request.split}.json"


def stored_pixel_reference(request: EmbeddingRequest) -> float | None:
    """The pixel-space k-NN accuracy of this data and split, if measured before."""
    try:
        return float(json.loads(_reference_path(request).read_text())["knn_accuracy_pixels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pixel_reference(request: EmbeddingRequest, dataset) -> float:
    """The k-NN accuracy on raw pixels of the quality sample of this data and split (it
    does not depend on the method): measured once, then read."""
    found = stored_pixel_reference(request)
    if found is not None:
        return found
    images, labels, _, _ = split_arrays(dataset, request.split)
    value = pixel_knn_accuracy(images, labels, seed=0)
    try:
        write_json_atomic(_reference_path(request), {"knn_accuracy_pixels": value})
    except OSError:
        pass  # a full or read-only disk: measured again next time
    return value



def submit(request: EmbeddingRequest, *, retry: bool = False):
    """Have a background worker compute the embedding, unless it is stored or under way;
    the job's :class:`mnist_core.runs.states.Status` (``state`` done | queued | running |
    failed).

    A stored result answers at once; a request for an embedding already being computed
    joins that job. A failed job stays failed (its sentence kept for the page) unless
    ``retry``: nothing computes again by itself. A job marked done whose files are gone
    or damaged is started again.
    """
    from mnist_core.runs import jobs
    from mnist_core.runs.states import DONE, FAILED, Status

    if load_cached(request) is not None:
        return Status(DONE, stage="done")
    status = jobs.read_status(request.directory)
    if status.state == FAILED and not retry:
        return status
    return jobs.submit(request.directory, kind="embedding", spec=request.to_json(),
                       restart=status.state == DONE)  # fmt: skip


def status_of(request: EmbeddingRequest):
    """Where the embedding is, without starting anything: done when it can be drawn (its
    quality may still be measured: see :func:`stored_quality`), else the job's status
    (``state`` None when it was never asked for)."""
    from mnist_core.runs import jobs
    from mnist_core.runs.states import DONE, Status

    if _stored_meta(request) is not None:
        return Status(DONE, stage="done")
    return jobs.read_status(request.directory)


def quality_on_axes(request: EmbeddingRequest, result: EmbeddingResult, axes: tuple[int, int]) -> dict:
    """:func:`cluster_quality` of the 2-D layout on columns ``axes`` of ``result.coords``
    (the stored quality is of the first two). Measured once, kept beside the result as
    ``quality-<a>-<b>.json``; the pixel-space reference is the stored one (it does not
    depend on the axes). Where the cache folder cannot be written, measured each time."""
    a, b = (int(v) for v in axes)
    n = result.coords.shape[1]
    if not (0 <= a < n and 0 <= b < n) or a == b:
        raise ValueError(f"axes must be two different columns in 0..{n - 1}; got {a} and {b}.")
    if (a, b) == (0, 1):
        return result.quality
    path = request.directory / f"quality-{a}-{b}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    quality = cluster_quality(result.coords[:, [a, b]], result.labels, seed=0)
    quality["knn_accuracy_pixels"] = (result.quality or {}).get("knn_accuracy_pixels",
                                                                stored_pixel_reference(request))
    try:
        write_json_atomic(path, quality)
    except OSError:
        pass  # a full or read-only disk: the numbers are still right, only not kept
    return quality
