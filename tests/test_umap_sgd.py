"""Our UMAP layout (mnist_core.embeddings.sgd) against umap-learn's own
``optimize_layout_euclidean`` on the same graph and start: the same quality, reproducible
for a seed, every epoch reported, bad inputs refused in one sentence (issue 13: a change of
``min_dist`` or the seed within 15 s)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from mnist_core.embeddings import layout, sgd
from mnist_core.embeddings.compute import import_umap


@pytest.fixture(scope="module")
def digits_graph():
    """scikit-learn's 1,797 8x8 digits: umap-learn's graph and a start, prepared for the
    layout (:func:`layout.prepare`)."""
    import_umap()
    from sklearn.utils import check_random_state
    from umap.umap_ import find_ab_params

    digits = load_digits()
    data = (digits.data / 16).astype(np.float32)
    knn = layout.exact_neighbours(data, 15, "euclidean")
    graph, _ = layout.fuzzy_graph(data, knn, key=None, n_neighbors=15, metric="euclidean")
    init, _ = layout.spectral_init(data, graph, key=None, metric="euclidean", n_epochs=500)
    start = layout.prepare(graph, init, n_epochs=500, random_state=check_random_state(0))
    a, b = find_ab_params(1.0, 0.1)
    return {"data": data, "labels": digits.target, "head": start["head"], "tail": start["tail"],
            "epochs_per_sample": start["epochs_per_sample"], "start": start["coords"],
            "a": a, "b": b}  # fmt: skip


def ours(g, *, seed=0, parallel=False, on_epoch=None):
    return sgd.optimize(g["start"].copy(), g["head"], g["tail"], g["epochs_per_sample"],
                        a=g["a"], b=g["b"], n_epochs=500, seed=seed, parallel=parallel,
                        on_epoch=on_epoch)  # fmt: skip


def quality(g, coords) -> tuple[float, float]:
    knn = cross_val_score(KNeighborsClassifier(10), coords, g["labels"], cv=5).mean()
    return knn, trustworthiness(g["data"], coords, n_neighbors=10)


@pytest.mark.parametrize("b", [0.5, 0.7915, 1.0, 1.3, 1.93])
def test_the_power_is_within_2e_5_of_the_exact_one(b):
    from numba import njit

    @njit
    def powers(x, b):
        return np.array([sgd.power(v, b) for v in x], dtype=np.float32)

    # squared distances from 4e-18 to 5e8, where every power is a normal float32
    x = np.exp(np.random.default_rng(0).uniform(-40, 20, 100_000)).astype(np.float32)
    got = powers(x, np.float32(b)).astype(np.float64)
    exact = x.astype(np.float64) ** np.float64(np.float32(b))
    assert np.abs(got / exact - 1).max() < 2e-5


def test_the_layout_is_as_good_as_umap_learns_on_the_same_graph(digits_graph):
    from sklearn.utils import check_random_state
    from umap.layouts import optimize_layout_euclidean

    g = digits_graph
    rng_state = check_random_state(0).randint(-(2**31) + 1, 2**31 - 1, 3).astype(np.int64)
    start = g["start"].copy()
    theirs = optimize_layout_euclidean(start, start, g["head"], g["tail"], 500, len(start),
                                       g["epochs_per_sample"], g["a"], g["b"], rng_state,
                                       move_other=True)  # fmt: skip
    (knn_ours, trust_ours), (knn_theirs, trust_theirs) = quality(g, ours(g)), quality(g, theirs)
    assert knn_ours > 0.95 and trust_ours > 0.95
    assert abs(knn_ours - knn_theirs) < 0.02
    assert abs(trust_ours - trust_theirs) < 0.01


def test_the_same_seed_gives_the_same_layout_bit_for_bit_and_another_seed_another(digits_graph):
    first, again = ours(digits_graph, seed=7), ours(digits_graph, seed=7)
    assert first.dtype == np.float32 and first.shape == (1797, 2)
    assert np.array_equal(first, again)
    other = ours(digits_graph, seed=8)
    assert not np.array_equal(first, other)
    assert np.isfinite(other).all()


def test_the_parallel_layout_is_as_good(digits_graph):
    knn, trust = quality(digits_graph, ours(digits_graph, parallel=True))
    assert knn > 0.95 and trust > 0.95


def test_every_epoch_is_reported(digits_graph):
    seen = []
    ours(digits_graph, on_epoch=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 500) for k in range(1, 501)]


def test_the_start_is_changed_in_place_and_returned(digits_graph):
    coords = digits_graph["start"].copy()
    out = sgd.optimize(coords, digits_graph["head"], digits_graph["tail"],
                       digits_graph["epochs_per_sample"], a=1.0, b=1.0, n_epochs=2, seed=0)  # fmt: skip
    assert out is coords and not np.array_equal(coords, digits_graph["start"])


@pytest.mark.parametrize(("coords", "message"), [
    (np.zeros((5, 2)), "coords must be a C-contiguous float32 array of shape \\(n, 2\\); got float64 of shape \\(5, 2\\)"),
    (np.zeros((5, 3), np.float32), "got float32 of shape \\(5, 3\\)"),
    (np.zeros((2, 5), np.float32).T, "C-contiguous"),
])  # fmt: skip
def test_coords_of_the_wrong_kind_are_refused(coords, message):
    edges = np.array([0, 1])
    with pytest.raises(ValueError, match=message):
        sgd.optimize(coords, edges, edges, np.ones(2), a=1.0, b=1.0, n_epochs=1, seed=0)


def test_edges_of_different_lengths_or_outside_the_points_are_refused():
    coords = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match="one entry per edge; got 2, 3 and 2"):
        sgd.optimize(coords, np.array([0, 1]), np.array([1, 2, 3]), np.ones(2), a=1.0, b=1.0,
                     n_epochs=1, seed=0)  # fmt: skip
    with pytest.raises(ValueError, match="every edge must join two of the 5 points"):
        sgd.optimize(coords, np.array([0, 1]), np.array([1, 5]), np.ones(2), a=1.0, b=1.0,
                     n_epochs=1, seed=0)  # fmt: skip
