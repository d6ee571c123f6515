"""What makes a UMAP job quick and visible: umap-learn's compiled code kept on disk, the
neighbour graph kept per data and neighbourhood, and live progress of every stage.

- :func:`enable_numba_cache`: numba's on-disk cache (``<cache>/numba``) for every numba
  function of umap-learn and pynndescent, including those the libraries do not mark
  ``cache=True`` (``Dispatcher.enable_caching``; no library file is changed). A fresh
  worker then loads most of the compiled code instead of compiling it again. Functions
  numba cannot cache (pynndescent's ``nn_descent``, which uses dynamic globals) are still
  compiled in each process.
- :func:`neighbour_graph`: the k-nearest-neighbour graph umap-learn would compute (its own
  ``nearest_neighbors``), stored under ``<cache>/embeddings/knn/`` keyed by the data's
  fingerprint, split, ``n_neighbors``, metric, PCA pre-reduction and parallelism, and
  handed to ``umap.UMAP(precomputed_knn=...)``: changing only ``min_dist`` or the seed
  reuses it.
- :class:`StagedProgress`: stage k of n with its own fraction; the layout reports its epochs
  (:mod:`.sgd`), NN-descent its iterations through pynndescent's verbose lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_core import paths

SMALL_DATA = 4096  # below this many points umap-learn uses exact distances, not NN-descent
PROGRESS_FILE = "progress.json"
_enabled = False


def numba_cache_dir() -> Path:
    # "-2": caches written before shared functions were told apart (see enable_numba_cache)
    # may hold a parallel build under a serial function's name; they are never read.
    return paths.cache_dir() / "numba-2"


def enable_numba_cache() -> int:
    """Point numba's cache at ``<cache>/numba-2`` (unless ``NUMBA_CACHE_DIR`` is set) and
    turn caching on for the numba functions of umap, pynndescent and our layout (:mod:`.sgd`);
    returns how many were switched on. Call before ``import umap``'s functions compile
    (import is fine).

    numba names a cache entry after the Python function and its signature, not after the
    options it was compiled with. umap-learn compiles one function twice, serial and
    ``parallel=True`` (its layout's epoch): with both cached, whichever compiled first was
    loaded for the other, so the "parallel" layout ran on one core, or, had the parallel one
    been compiled first, a seeded layout would not have been reproducible. Of the
    dispatchers that share a function, only the serial one is cached; the parallel one is
    compiled in each process (the warm worker's forks inherit it compiled)."""
    global _enabled
    if "NUMBA_CACHE_DIR" not in os.environ:
        try:
            numba_cache_dir().mkdir(parents=True, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = str(numba_cache_dir())
        except OSError:
            return 0  # a read-only or full cache folder: compile as before
    from numba.core import config
    from numba.core.registry import CPUDispatcher

    config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # numba reads it once, at import
    import mnist_core.embeddings.sgd  # noqa: F401 (its functions are cached too)

    dispatchers: dict[int, list] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name.split(".")[0] in ("umap", "pynndescent")
                                  or name == "mnist_core.embeddings.sgd"):  # fmt: skip
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, CPUDispatcher):
                group = dispatchers.setdefault(id(obj.py_func), [])
                if obj not in group:
                    group.append(obj)
    switched = 0
    for group in dispatchers.values():
        cacheable = [d for d in group if len(group) == 1 or not d.targetoptions.get("parallel")]
        if len(cacheable) != 1:
            continue  # several builds of one function under one cache name: none is cached
        (obj,) = cacheable
        if type(obj._cache).__name__ == "NullCache":
            try:
                obj.enable_caching()
                switched += 1
            except Exception:  # noqa: BLE001 (a function numba cannot cache stays as is)
                pass
    _enabled = True
    return switched


# --------------------------------------------------------------------------- progress


class StagedProgress:
    """Reports ``(stage, stages, name, done, total)``: stage k of n, and how far it is."""

    def __init__(self, stages: list[str], report: Callable[[dict], None]):
        self.stages, self.report, self.index = stages, report, -1
        self._last = 0.0

    def start(self, name: str, total: int = 1) -> None:
        self.index = self.stages.index(name)
        self.update(0, total, force=True)

    def update(self, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.5 and done < total:
            return
        self._last = now
        self.report({"stage": self.index + 1, "stages": len(self.stages),
                     "name": self.stages[self.index], "done": int(done), "total": int(total),
                     "fraction": overall(self.index, len(self.stages), done, total)})  # fmt: skip


def overall(index: int, stages: int, done: int, total: int) -> float:
    """Share of the whole job done: finished stages count equally, plus this one's part."""
    part = min(1.0, done / total) if total else 0.0
    return round((index + part) / stages, 4)


class _Lines(io.TextIOBase):
    """A text stream calling ``on_line`` with each line (or a ``\\r`` refresh)."""

    def __init__(self, on_line: Callable[[str], None]):
        self.on_line, self.buffer_ = on_line, ""

    def write(self, text: str) -> int:
        self.buffer_ += text
        *lines, self.buffer_ = re.split(r"[\r\n]", self.buffer_)
        for line in lines:
            if line.strip():
                self.on_line(line.strip())
        return len(text)

    def flush(self) -> None:
        if self.buffer_.strip():
            self.on_line(self.buffer_.strip())
            self.buffer_ = ""


_COUNT = re.compile(r"^(\d+)\s*/\s*(\d+)$")


@contextlib.contextmanager
def nn_descent_lines(progress: StagedProgress):
    """pynndescent's verbose lines (``\\t k / n`` per NN-descent iteration) as progress;
    everything else it prints is kept out of the log."""

    def on_line(line: str) -> None:
        match = _COUNT.match(line.replace("\t", "").strip())
        if match:
            progress.update(int(match[1]), int(match[2]))

    with contextlib.redirect_stdout(_Lines(on_line)):
        yield


# --------------------------------------------------------------------------- the graph


def graph_key(fingerprint: str, split: str, n_neighbors: int, metric: str,
              pca_dims: int | None, parallel: bool) -> str:  # fmt: skip
    blob = json.dumps([fingerprint, split, n_neighbors, metric, pca_dims, parallel]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def graph_path(key: str) -> Path:
    return paths.cache_dir() / "embeddings" / "knn" / f"{key}.npz"


def load_graph(key: str, n_points: int, n_neighbors: int):
    """The stored ``(indices, distances)`` for ``key``, or None (missing, damaged, or of
    another shape)."""
    from mnist_core.diskcache import load_arrays

    arrays = load_arrays(graph_path(key)) or {}
    indices, distances = arrays.get("indices"), arrays.get("distances")
    if indices is None or distances is None:
        return None
    if indices.shape != (n_points, n_neighbors) or distances.shape != indices.shape:
        return None
    return indices, distances


def neighbour_graph(data: np.ndarray, *, key: str | list[str] | None, n_neighbors: int,
                    metric: str, parallel: bool, progress: StagedProgress,
                    used: list | None = None) -> tuple[tuple, bool]:  # fmt: skip
    """``((indices, distances), reused)``: the graph stored under ``key`` (or the first of
    a list of keys that has one), else umap-learn's ``nearest_neighbors`` (seeded with 0
    unless ``parallel``), stored under ``key`` (the last of the list) when given. The key
    it was found or stored under is appended to ``used`` (the stages after it are kept
    beside it, see :mod:`.layout`)."""
    keys = [key] if isinstance(key, str) else list(key or [])
    for candidate in keys:
        found = load_graph(candidate, len(data), n_neighbors)
        if found is not None:
            progress.update(1, 1, force=True)
            if used is not None:
                used.append(candidate)
            return found, True
    key = keys[-1] if keys else None
    if used is not None:
        used.append(key)
    import warnings

    from sklearn.utils import check_random_state
    from umap.umap_ import nearest_neighbors

    with nn_descent_lines(progress), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba: "cannot cache nn_descent (dynamic globals)"
        indices, distances, _ = nearest_neighbors(
            data, n_neighbors, metric, {}, metric in ("cosine", "correlation"),
            None if parallel else check_random_state(0), low_memory=True,
            n_jobs=-1 if parallel else 1, verbose=True,
        )  # fmt: skip
    progress.update(1, 1, force=True)
    if key is not None:
        from mnist_core.diskcache import save_arrays_atomic

        try:
            graph_path(key).parent.mkdir(parents=True, exist_ok=True)
            save_arrays_atomic(graph_path(key), {"indices": indices, "distances": distances})
        except OSError:
            pass  # a full or read-only disk: the graph is computed again next time
    return (indices, distances), False


def read_progress(directory: Path) -> dict | None:
    """The last progress a job in ``directory`` reported (None before the first)."""
    try:
        data = json.loads((directory / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
