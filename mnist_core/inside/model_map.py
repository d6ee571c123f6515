"""The model's map of the data: a 2-D UMAP of the test set in a run's last hidden layer,
beside the UMAP of the same digits' raw pixels, each with its cluster quality.

The work is a background job, the worker kind ``model-map`` (:func:`submit` starts it,
:func:`status_of` reads where it is, :func:`load_map` reads the result): onnxruntime gives
the last hidden layer's values of every test digit (the run's exported model, no
TensorFlow), :func:`mnist_core.embeddings.umap_embedding` lays them out in 2-D with the
Embeddings page's default UMAP parameters (seeded), and the raw-pixel map is the Embeddings
page's own cached UMAP of the test split with the same parameters (computed here when it is
not there yet, and then shared with that page). Results live in
``<cache>/model-maps/<run id>-<digest>/``, the digest naming the run's ONNX export (its
modification time and size), the dataset's fingerprint and the parameters: a new export or
changed data asks for a new map, an old one is never shown for it. The files are written
atomically, ``quality.json`` last (its presence marks a complete result); a damaged result
reads as missing and is computed again. Mistakes are not stored: they come from the run's
saved test predictions when the map is read.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mnist_core import paths
from mnist_core.diskcache import load_arrays, save_arrays_atomic, write_json_atomic
from mnist_core.inside.common import InsideError, NotReady

JOB_KIND = "model-map"
FORMAT = 1
_ARRAYS = {"model", "raw", "labels"}


def map_params() -> dict:
    """The UMAP parameters of both maps: the Embeddings page's defaults (seeded)."""
    from mnist_core.embeddings import DEFAULT_PARAMS

    return dict(DEFAULT_PARAMS["umap"])


@dataclass(frozen=True)
class MapRequest:
    """One run's map: ``stamp`` names its ONNX export (``mtime_ns-size``), ``fingerprint``
    its dataset, ``dataset`` where the dataset is read from (a name or a path)."""

    run_id: str
    stamp: str
    dataset: str
    fingerprint: str
    params: dict = field(default_factory=map_params)

    @property
    def key(self) -> str:
        blob = json.dumps([FORMAT, self.stamp, self.fingerprint, self.params], sort_keys=True)
        return f"{self.run_id}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    @property
    def directory(self) -> Path:
        return paths.cache_dir() / "model-maps" / self.key

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MapRequest:
        return cls(**data)


@dataclass(frozen=True)
class ModelMap:
    """Both maps of the test set, row ``i`` being test digit ``i``.

    ``model``, ``raw``: float32 (n, 2), the UMAP of the last hidden layer and of the pixels;
    ``labels``: (n,) true labels; ``predicted``: (n,) the run's saved test predictions
    (None when the run has none readable); ``model_quality``, ``raw_quality``: the dicts of
    :func:`mnist_core.embeddings.cluster_quality`; ``layer``: the last hidden layer's name
    (None: the model reads the pixels directly), ``dims`` its width; ``seconds``: the
    job's time for each step."""

    request: MapRequest
    model: np.ndarray
    raw: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray | None
    model_quality: dict
    raw_quality: dict
    layer: str | None
    dims: int
    seconds: dict

    @property
    def mistakes(self) -> np.ndarray:
        """Rows the model got wrong (empty without predictions)."""
        if self.predicted is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.predicted != self.labels)


def map_request(record) -> MapRequest:
    """The map a run's current export asks for. NotReady when the run is not exported yet;
    InsideError (one sentence) for a run without layers (a baseline)."""
    if record.kind != "train":
        raise InsideError(f"Run {record.run_id} is a {record.name}: it has no layers to map.")
    try:
        stat = record.paths.onnx.stat()
    except OSError:
        raise NotReady(f"Run {record.run_id}'s model is not exported yet.") from None
    return MapRequest(record.run_id, f"{stat.st_mtime_ns}-{stat.st_size}", str(record.dataset),
                      str(record.fingerprint or ""))  # fmt: skip


def load_map(record, request: MapRequest | None = None) -> ModelMap | None:
    """The run's stored map with its mistakes, or None when it is missing or damaged."""
    request = request or map_request(record)
    directory = request.directory
    try:
        meta = json.loads((directory / "quality.json").read_text())
        model_quality, raw_quality = dict(meta["model_quality"]), dict(meta["raw_quality"])
        layer, dims, seconds = meta["layer"], int(meta["dims"]), dict(meta["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    arrays = load_arrays(directory / "map.npz")
    if arrays is None or set(arrays) != _ARRAYS:
        return None
    n = len(arrays["labels"])
    if arrays["model"].shape != (n, 2) or arrays["raw"].shape != (n, 2):
        return None
    return ModelMap(request, arrays["model"], arrays["raw"], arrays["labels"],
                    _predictions(record, n), model_quality, raw_quality, layer, dims,
                    seconds)  # fmt: skip


def _predictions(record, n: int) -> np.ndarray | None:
    try:
        probabilities = record.test_probabilities()
    except (OSError, ValueError):  # RunError is a ValueError
        return None
    if probabilities.ndim != 2 or len(probabilities) != n:
        return None
    return probabilities.argmax(axis=1).astype(np.int64)


def status_of(record, request: MapRequest | None = None):
    """Where the run's map job is, starting nothing: its
    :class:`~mnist_core.runs.states.Status` (``state`` None when never asked for). A job
    that is done while :func:`load_map` finds nothing lost its result (removed or damaged):
    :func:`submit` computes it again."""
    from mnist_core.runs import jobs

    return jobs.read_status((request or map_request(record)).directory)


def submit(record, *, retry: bool = False):
    """Have a background worker compute the run's map, unless it is stored (done at once)
    or under way (joined). A failed job stays failed, its sentence in ``error``, unless
    ``retry``: nothing starts again by itself. A job marked done whose result is gone or
    damaged is started again."""
    from mnist_core.runs import jobs
    from mnist_core.runs.states import DONE, FAILED, Status

    request = map_request(record)
    if load_map(record, request) is not None:
        return Status(DONE, stage="done")
    status = jobs.read_status(request.directory)
    if status.state == FAILED and not retry:
        return status
    return jobs.submit(request.directory, kind=JOB_KIND, spec=request.to_json(),
                       restart=status.state == DONE)  # fmt: skip


# --------------------------------------------------------------------------- the job


def run(directory: Path, spec: dict, progress) -> str:
    """The worker's ``model-map`` job, in the map's folder ``directory``."""
    try:
        compute_map(MapRequest.from_json(spec), Path(directory), on_stage=progress.stage,
                    on_running=progress.running)  # fmt: skip
    except InsideError as exc:  # the worker shows a ValueError's sentence as it is
        raise ValueError(str(exc)) from None
    from mnist_core.runs.states import DONE

    return DONE


def compute_map(request: MapRequest, directory: Path, *, on_stage=lambda text: None,
                on_running=lambda: None) -> None:  # fmt: skip
    """Compute the map ``request`` names and store it in ``directory`` (see the module)."""
    from mnist_core import embeddings
    from mnist_core.data import load_dataset
    from mnist_core.inside.runtime import InsideModel
    from mnist_core.runs.store import open_run

    on_running()
    record = open_run(request.run_id)
    if map_request(record).key != request.key:
        raise InsideError(f"Run {request.run_id}'s model was exported again since its map was "
                          "asked for; Retry maps the new export.")  # fmt: skip
    seconds = {}
    started = time.perf_counter()
    on_stage("loading the dataset")
    dataset = load_dataset(request.dataset, download=False)
    if request.fingerprint and dataset.fingerprint != request.fingerprint:
        raise InsideError(f"{record.dataset_name}: the data changed since run "
                          f"{request.run_id} was trained.")  # fmt: skip
    images, labels = dataset.x_test, np.asarray(dataset.y_test, np.int64)
    if len(images) < 4:
        raise InsideError(f"{record.dataset_name} has {len(images)} test digits; a map needs "
                          "at least 4.")  # fmt: skip
    n = len(images)
    params = {**request.params, "n_neighbors": min(request.params["n_neighbors"], n - 1)}
    on_stage(f"computing the last hidden layer of {n:,} test digits")
    model = InsideModel(record.paths.onnx, run_id=record.run_id, threads=0)
    features = model.hidden_features(images)
    seconds["features"] = time.perf_counter() - started

    def stage(prefix):
        return lambda text: on_stage(f"{prefix}: {text}")

    mark = time.perf_counter()
    where = f"last hidden layer ({features.shape[1]:,} values)"
    coords = embeddings.umap_embedding(features, on_stage=stage(f"the model's map, {where}"),
                                       **params)  # fmt: skip
    seconds["model_umap"] = time.perf_counter() - mark
    mark = time.perf_counter()
    on_stage("the model's map: measuring its cluster quality")
    model_quality = embeddings.cluster_quality(coords, labels, seed=0)
    seconds["model_quality"] = time.perf_counter() - mark
    mark = time.perf_counter()
    raw_request = embeddings.EmbeddingRequest(request.dataset, dataset.fingerprint, "umap",
                                              "test", params)  # fmt: skip
    raw, cached = embeddings.compute_cached(raw_request, dataset,
                                            on_stage=stage("the raw-pixel map"))  # fmt: skip
    if raw.coords.shape != (n, 2) or not np.array_equal(raw.labels, labels):
        raise InsideError(f"The raw-pixel map of {record.dataset_name}'s test digits does not "
                          "match them; it is computed again on Retry.")  # fmt: skip
    seconds["raw_umap"] = 0.0 if cached else time.perf_counter() - mark
    on_stage("saving the maps")
    save_arrays_atomic(directory / "map.npz", {"model": coords.astype(np.float32),
                                               "raw": raw.coords.astype(np.float32),
                                               "labels": labels})  # fmt: skip
    seconds["total"] = time.perf_counter() - started
    write_json_atomic(directory / "quality.json", {
        "model_quality": model_quality, "raw_quality": raw.quality, "layer": model.hidden_layer,
        "dims": int(features.shape[1]), "seconds": seconds, "raw_cached": bool(cached)})
