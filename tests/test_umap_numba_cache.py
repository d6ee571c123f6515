"""numba's disk cache must not hand one build of a function to another: numba names a cache
entry after the function and its signature only (issue 13: umap-learn compiled its layout's
epoch twice from one Python function, and the "parallel" layout ran on one core, loaded from
the serial build's entry). Our layout (:mod:`mnist_core.embeddings.sgd`) has one function
per build; both are cached, and each stays what it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILDS = """
import json, os
import numpy as np
from mnist_core.embeddings import fast, layout
from mnist_core.embeddings.compute import import_umap

import_umap()
fast.enable_numba_cache()
data = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
knn = layout.exact_neighbours(data, 15, "euclidean")
graph, _ = layout.fuzzy_graph(data, knn, key=None, n_neighbors=15, metric="euclidean")
init, _ = layout.spectral_init(data, graph, key=None, metric="euclidean", n_epochs=200)
for parallel in (False, True):
    layout.layout(graph, init, min_dist=0.1, seed=0, parallel=parallel, n_epochs=3)
from mnist_core.embeddings import sgd

def build(dispatcher):
    (compiled,) = dispatcher.overloads.values()
    if dispatcher.stats.cache_hits:  # numba cannot inspect code loaded from its cache
        return {"from_cache": True}
    return {"from_cache": False, "parallel": "parfor" in compiled.library.get_llvm_str().lower()}

print(json.dumps({
    "serial": build(sgd._epoch_serial),
    "parallel": build(sgd._epoch_parallel),
    "code": {f: b"parfor" in open(os.path.join(top, f), "rb").read()
             for top, _, names in os.walk(os.environ["NUMBA_CACHE_DIR"]) for f in names
             if f.startswith("sgd._epoch_") and f.endswith(".nbc")},
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


def test_each_layout_build_is_cached_as_itself_and_loaded_from_its_own_entry(tmp_path):
    cold = _builds(tmp_path)  # compiles both, writes the cache
    assert cold["serial"] == {"from_cache": False, "parallel": False}
    assert cold["parallel"] == {"from_cache": False, "parallel": True}
    entries = {name.split("-")[0]: parfor for name, parfor in cold["code"].items()}
    # a seeded layout stays reproducible, and the parallel one really is parallel
    assert entries == {"sgd._epoch_serial": False, "sgd._epoch_parallel": True}
    warm = _builds(tmp_path)  # both come from their own entries
    assert warm["serial"] == warm["parallel"] == {"from_cache": True}
