"""numba's disk cache must not hand one build of a function to another: umap-learn compiles its
layout's epoch twice from one Python function (serial, and ``parallel=True``), and numba names a
cache entry after the function and its signature only (issue 13: the "parallel" layout ran on
one core, loaded from the serial build's entry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILDS = """
import json, os, warnings
import numpy as np
from mnist_core.embeddings import fast, layout
from mnist_core.embeddings.compute import import_umap

import_umap()
fast.enable_numba_cache()
data = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
knn = layout.exact_neighbours(data, 15, "euclidean")
graph, _ = layout.fuzzy_graph(data, knn, key=None, n_neighbors=15, metric="euclidean")
init, _ = layout.spectral_init(data, graph, key=None, metric="euclidean", n_epochs=200)
warnings.simplefilter("ignore")
for parallel in (False, True):
    layout.layout(data, graph, init, min_dist=0.1, seed=0, metric="euclidean", parallel=parallel,
                  n_epochs=3, tqdm_kwds={"disable": True})
import umap.layouts as umap_layouts

def is_parallel_build(dispatcher):
    (compiled,) = dispatcher.overloads.values()
    return "parfor" in compiled.library.get_llvm_str().lower()

print(json.dumps({
    "serial": is_parallel_build(umap_layouts._nb_optimize_layout_euclidean_single_epoch),
    "parallel": is_parallel_build(umap_layouts._nb_optimize_layout_euclidean_single_epoch_parallel),
    "cached": sorted(os.listdir(os.environ["NUMBA_CACHE_DIR"])) != [],
}))
"""


def _builds(cache: Path) -> dict:
    env = {**os.environ, "MNIST_CACHE_DIR": str(cache), "NUMBA_THREADING_LAYER": "workqueue",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", BUILDS], env=env, capture_output=True, text=True,
                          timeout=600, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_parallel_layout_is_a_parallel_build_whether_or_not_the_cache_is_warm(tmp_path):
    cold = _builds(tmp_path)  # compiles both, writes the cache
    warm = _builds(tmp_path)  # the serial build comes from the cache
    for builds in (cold, warm):
        assert builds["cached"]
        assert builds["serial"] is False  # a seeded layout stays reproducible
        assert builds["parallel"] is True  # and the parallel one really is parallel
