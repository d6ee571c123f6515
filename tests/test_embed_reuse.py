"""UMAP's stages kept per neighbour graph (fuzzy graph, spectral initialisation): the same
parameters give the same embedding whichever path ran (nothing kept, computed and kept,
read back), and a change of only ``min_dist`` or the seed reuses the graph and the
initialisation (the stage lines say so, the kept files are not rewritten)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import embeddings
from mnist_core.embeddings import fast, layout
from tests.test_embeddings import blobs


@pytest.fixture
def small_graphs(monkeypatch):
    """Keep graphs of small data too (the real threshold is 4,096 points)."""
    monkeypatch.setattr(fast, "SMALL_DATA", 50)


def run(x, key, **params):
    stages = []
    coords = embeddings.umap_embedding(x, n_neighbors=10, pca_dims=None, graph_key=key,
                                       on_stage=stages.append, **params)  # fmt: skip
    return coords, stages


def kept_files(key):
    return sorted(p.name for p in fast.graph_path(key).parent.glob(f"{key}*"))


def test_the_same_parameters_give_the_same_embedding_on_every_path(small_graphs):
    x, _ = blobs(n_per_class=40, dims=8)
    key = fast.graph_key("a" * 32, "train", 10, "euclidean", None, False)
    cold, stages = run(x, key, min_dist=0.1, seed=3)
    assert not any("reused" in s for s in stages)
    assert kept_files(key) == [f"{key}-fuzzy.npz", f"{key}-spectral-500.npz", f"{key}.npz"]
    kept, stages = run(x, key, min_dist=0.1, seed=3)
    assert sum("reused" in s for s in stages) == 3  # neighbours, fuzzy graph, initialisation
    np.testing.assert_array_equal(kept, cold)
    fast.graph_path(key).with_name(f"{key}-spectral-500.npz").unlink()  # only the init lost
    again, stages = run(x, key, min_dist=0.1, seed=3)
    assert not any("spectral initialisation reused" in s for s in stages)
    np.testing.assert_array_equal(again, cold)


def test_without_a_kept_graph_the_result_is_the_same_as_with_one(small_graphs, monkeypatch):
    x, _ = blobs(n_per_class=40, dims=8)
    key = fast.graph_key("b" * 32, "train", 10, "euclidean", None, False)
    kept, _ = run(x, key, seed=1)
    nothing, stages = run(x, None, seed=1)
    assert not any("reused" in s for s in stages)
    np.testing.assert_array_equal(nothing, kept)


def test_only_min_dist_or_the_seed_changed_reuses_graph_and_initialisation(small_graphs):
    x, _ = blobs(n_per_class=40, dims=8)
    key = fast.graph_key("c" * 32, "train", 10, "euclidean", None, False)
    first, _ = run(x, key, min_dist=0.001, seed=0)
    files = {p: p.stat().st_mtime_ns for p in fast.graph_path(key).parent.glob(f"{key}*")}
    for params in ({"min_dist": 0.5, "seed": 0}, {"min_dist": 0.001, "seed": 7}):
        coords, stages = run(x, key, **params)
        assert "nearest neighbours reused from an earlier UMAP of the same data" in stages
        assert "fuzzy graph reused" in stages
        assert "spectral initialisation reused from an earlier UMAP of the same data" in stages
        assert not np.array_equal(coords, first)  # the layout itself did change
        assert {p: p.stat().st_mtime_ns for p in files} == files  # nothing rewritten
    # Another neighbourhood is another graph: nothing reused.
    other = fast.graph_key("c" * 32, "train", 11, "euclidean", None, False)
    stages = []
    embeddings.umap_embedding(x, n_neighbors=11, pca_dims=None, graph_key=other,
                              on_stage=stages.append)  # fmt: skip
    assert not any("reused" in s for s in stages) and len(kept_files(other)) == 3


def test_a_damaged_kept_stage_is_computed_again(small_graphs):
    x, _ = blobs(n_per_class=40, dims=8)
    key = fast.graph_key("d" * 32, "train", 10, "euclidean", None, False)
    cold, _ = run(x, key)
    for name in (f"{key}-fuzzy.npz", f"{key}-spectral-500.npz"):
        fast.graph_path(key).with_name(name).write_bytes(b"damaged")
    again, stages = run(x, key)
    assert "fuzzy graph reused" not in stages
    np.testing.assert_array_equal(again, cold)
    assert layout._load(key, "fuzzy") is not None  # written again


def test_small_data_uses_exact_neighbours_each_point_first():
    x, _ = blobs(n_per_class=20, dims=4)
    indices, distances = layout.exact_neighbours(x, 5, "euclidean")
    assert indices.shape == distances.shape == (len(x), 5)
    np.testing.assert_array_equal(indices[:, 0], np.arange(len(x)))
    assert (np.diff(distances, axis=1) >= 0).all() and (distances[:, 0] == 0).all()
