"""`embed --parallel`: the CLI asks for UMAP's parallel (unseeded) layout, kept apart in the
cache from the reproducible one."""

from __future__ import annotations

import json
import subprocess
import sys

from mnist_core import embeddings
from mnist_core.data import load_dataset
from tests.conftest import ROOT


def test_cli_embed_parallel_is_its_own_request(cache_dir):
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "embed", "digits", "--method", "umap",
         "--split", "test", "--parallel"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["method"] == "umap" and out["n_points"] == 359 and out["cached"] is False
    digits = load_dataset("digits")
    params = dict(embeddings.DEFAULT_PARAMS["umap"])
    seeded = embeddings.EmbeddingRequest("digits", digits.fingerprint, "umap", "test", params)
    parallel = embeddings.EmbeddingRequest("digits", digits.fingerprint, "umap", "test",
                                           {**params, "parallel": True})  # fmt: skip
    assert out["cache_path"] == str(parallel.directory) != str(seeded.directory)
    assert embeddings.load_cached(parallel) is not None
    assert embeddings.load_cached(seeded) is None
