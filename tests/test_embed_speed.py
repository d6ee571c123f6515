"""The speed work on embeddings: exact PCA, the kept neighbour graph (hit and miss),
staged progress with the layout's epochs, the parallel option's validation, the deferred
pixel-space reference and the page's progress text. No timings here (see benchmarks/)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import embeddings
from mnist_core.data import load_dataset
from mnist_core.embeddings import fast
from tests.test_embeddings import blobs


def test_pca_is_the_exact_solution_up_to_sign():
    from sklearn.decomposition import PCA

    x, _ = blobs(dims=24)
    ours = embeddings.pca(x, n_components=6)
    exact = PCA(6, svd_solver="full").fit(x)
    np.testing.assert_allclose(ours.explained_variance_ratio, exact.explained_variance_ratio_,
                               rtol=1e-4)  # fmt: skip
    coords = exact.transform(x)
    for k in range(6):
        same = np.allclose(ours.coords[:, k], coords[:, k], atol=1e-3)
        flipped = np.allclose(ours.coords[:, k], -coords[:, k], atol=1e-3)
        assert same or flipped, k
        big = np.abs(ours.components[k]).argmax()
        assert ours.components[k, big] > 0  # the sign convention that makes it deterministic
    np.testing.assert_allclose(ours.mean, x.mean(axis=0), atol=1e-5)


def test_the_neighbour_graph_is_kept_and_reused_only_for_its_key():
    x, _ = blobs(n_per_class=60, dims=8)
    reports = []
    progress = fast.StagedProgress(["nearest neighbours"], reports.append)
    progress.start("nearest neighbours")
    key = fast.graph_key("f" * 32, "train", 10, "euclidean", 50, False)
    (indices, distances), reused = fast.neighbour_graph(
        x, key=key, n_neighbors=10, metric="euclidean", parallel=False, progress=progress)
    assert not reused and fast.graph_path(key).is_file()
    assert indices.shape == distances.shape == (len(x), 10)
    (again, again_d), reused = fast.neighbour_graph(
        x, key=key, n_neighbors=10, metric="euclidean", parallel=False, progress=progress)
    assert reused
    np.testing.assert_array_equal(again, indices)
    np.testing.assert_array_equal(again_d, distances)
    assert reports[-1]["done"] == reports[-1]["total"] == 1
    # Another neighbourhood, metric, split or pre-reduction is another graph; min_dist and
    # the seed are not part of the key at all.
    others = [("g" * 32, "train", 10, "euclidean", 50, False),
              ("f" * 32, "test", 10, "euclidean", 50, False),
              ("f" * 32, "train", 11, "euclidean", 50, False),
              ("f" * 32, "train", 10, "cosine", 50, False),
              ("f" * 32, "train", 10, "euclidean", None, False),
              ("f" * 32, "train", 10, "euclidean", 50, True)]  # fmt: skip
    assert len({fast.graph_key(*o) for o in others} | {key}) == len(others) + 1
    assert fast.load_graph(fast.graph_key(*others[2]), len(x), 11) is None
    assert fast.load_graph(key, len(x), 12) is None  # a stored graph of another shape: a miss


def test_a_damaged_graph_file_is_a_miss_and_is_replaced():
    x, _ = blobs(n_per_class=30, dims=8)
    key = fast.graph_key("d" * 32, "train", 5, "euclidean", None, False)
    fast.graph_path(key).parent.mkdir(parents=True, exist_ok=True)
    fast.graph_path(key).write_bytes(b"not an npz")
    progress = fast.StagedProgress(["nearest neighbours"], lambda report: None)
    progress.start("nearest neighbours")
    _, reused = fast.neighbour_graph(x, key=key, n_neighbors=5, metric="euclidean",
                                     parallel=False, progress=progress)  # fmt: skip
    assert not reused and fast.load_graph(key, len(x), 5) is not None


def test_progress_reports_every_stage_in_order_with_the_layout_epochs():
    x, _ = blobs(n_per_class=60, dims=8)
    reports = []
    embeddings.umap_embedding(x, n_neighbors=10, pca_dims=5, seed=0, on_progress=reports.append)
    names = [r["name"] for r in reports]
    order = [embeddings.UMAP_STAGES.index(n) for n in names]
    assert order == sorted(order) and set(names) == set(embeddings.UMAP_STAGES)
    assert all(r["stages"] == len(embeddings.UMAP_STAGES) for r in reports)
    fractions = [r["fraction"] for r in reports]
    stages = len(embeddings.UMAP_STAGES)
    assert fractions == sorted(fractions) and fractions[-1] == round((stages - 1) / stages, 4)
    epochs = [r for r in reports if r["name"] == "layout epochs" and r["total"] > 1]
    assert epochs and epochs[-1]["done"] == epochs[-1]["total"] >= 200  # every epoch


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_parallel_option_must_be_a_bool(value):
    with pytest.raises(ValueError, match="parallel must be true or false"):
        embeddings.EmbeddingRequest("digits", "f" * 32, "umap", "train", {"parallel": value})


def test_the_parallel_option_has_its_own_key_and_leaves_earlier_keys_alone():
    plain = embeddings.EmbeddingRequest("digits", "f" * 32, "umap", "train", {})
    explicit = embeddings.EmbeddingRequest("digits", "f" * 32, "umap", "train",
                                           {"parallel": False})  # fmt: skip
    parallel = embeddings.EmbeddingRequest("digits", "f" * 32, "umap", "train",
                                           {"parallel": True})  # fmt: skip
    assert plain.key == explicit.key != parallel.key


def test_a_parallel_layout_runs_and_separates_blobs():
    x, labels = blobs(n_per_class=60, dims=8)
    coords = embeddings.umap_embedding(x, n_neighbors=10, pca_dims=None, parallel=True)
    assert coords.shape == (len(x), 2)
    quality = embeddings.cluster_quality(coords, labels)
    assert quality["knn_accuracy"] > 0.95


def test_the_pixel_reference_is_measured_after_storing_and_kept_per_split():
    dataset = load_dataset("digits")
    request = embeddings.EmbeddingRequest("digits", dataset.fingerprint, "pca", "train", {})
    assert embeddings.stored_pixel_reference(request) is None
    stages = []
    result, cached = embeddings.compute_cached(request, dataset, on_stage=stages.append)
    assert not cached and "measuring the pixel-space reference" in stages
    reference = embeddings.stored_pixel_reference(request)
    assert reference is not None and result.quality["knn_accuracy_pixels"] == reference
    assert embeddings.load_cached(request).quality["knn_accuracy_pixels"] == reference
    # Another embedding of the same split reads it instead of measuring it again.
    other = embeddings.EmbeddingRequest("digits", dataset.fingerprint, "pca", "train",
                                        {"n_components": 3})  # fmt: skip
    stages.clear()
    again, _ = embeddings.compute_cached(other, dataset, on_stage=stages.append)
    assert "measuring the pixel-space reference" not in stages
    assert again.quality["knn_accuracy_pixels"] == reference


def test_the_page_progress_text_names_the_stage_and_epochs():
    from app.views.embeddings import job_fraction, progress_text

    report = {"stage": 3, "stages": 4, "name": "layout epochs", "done": 120, "total": 200,
              "fraction": 0.65}  # fmt: skip
    assert progress_text(report, "x") == "Stage 3 of 4: layout epochs, 120 of 200"
    assert job_fraction(report) == 0.65
    assert progress_text(None, "loading the dataset") == "loading the dataset"
    assert job_fraction(None) == 0.0 and job_fraction({"fraction": "bad"}) == 0.0
    assert job_fraction({"fraction": 3}) == 1.0


def test_a_parallel_layout_looks_for_the_seeded_graph_first():
    x, _ = blobs(n_per_class=30, dims=8)
    seeded = fast.graph_key("e" * 32, "train", 5, "euclidean", None, False)
    parallel = fast.graph_key("e" * 32, "train", 5, "euclidean", None, True)
    progress = fast.StagedProgress(["nearest neighbours"], lambda report: None)
    progress.start("nearest neighbours")
    first, reused = fast.neighbour_graph(x, key=[seeded, parallel], n_neighbors=5,
                                         metric="euclidean", parallel=True, progress=progress)
    assert not reused and fast.graph_path(parallel).is_file()
    assert not fast.graph_path(seeded).exists()
    fast.neighbour_graph(x, key=seeded, n_neighbors=5, metric="euclidean", parallel=False,
                         progress=progress)  # fmt: skip
    found, reused = fast.neighbour_graph(x, key=[seeded, parallel], n_neighbors=5,
                                         metric="euclidean", parallel=True, progress=progress)
    assert reused
    np.testing.assert_array_equal(found[0], fast.load_graph(seeded, len(x), 5)[0])
