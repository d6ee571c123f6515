"""PCA, UMAP and cluster quality on tiny seeded data; the embedding cache."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mnist_core import embeddings, figures
from mnist_core.data import load_dataset
from tests.conftest import ROOT


def blobs(n_per_class: int = 100, n_classes: int = 4, dims: int = 16, seed: int = 0):
    """Well-separated Gaussian clusters: class c sits around 10 * e_c."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    centres = 10 * np.eye(dims)[:n_classes]
    return centres[labels] + rng.normal(size=(len(labels), dims)), labels


# --------------------------------------------------------------------------- PCA


def test_pca_shapes_order_and_determinism():
    x, _ = blobs()
    first = embeddings.pca(x, n_components=5, seed=3)
    again = embeddings.pca(x, n_components=5, seed=3)
    assert first.coords.shape == (400, 5) and first.components.shape == (5, 16)
    assert first.coords.dtype == np.float32
    np.testing.assert_allclose(first.coords, again.coords)
    ratio = first.explained_variance_ratio
    assert np.all(np.diff(ratio) <= 1e-12) and 0 < ratio.sum() <= 1
    # Three directions separate four clusters: between-cluster variance (75) outweighs the
    # unit noise of 16 dimensions, so they carry (75 + 3) / (75 + 16) = 86 % of it.
    assert ratio[:3].sum() == pytest.approx(0.86, abs=0.02)


def test_pca_of_uint8_images_scales_and_caps_components():
    images = np.random.default_rng(0).integers(0, 256, (30, 3, 3), dtype=np.uint8)
    result = embeddings.pca(images, n_components=50)
    assert result.coords.shape == (30, 9)  # at most min(n, pixels)
    np.testing.assert_allclose(result.mean, images.reshape(30, 9).mean(axis=0) / 255, rtol=1e-5)


@pytest.mark.parametrize("bad", [0, 51])
def test_pca_rejects_component_counts(bad):
    with pytest.raises(ValueError, match=rf"n_components must be in 1..50; got {bad}\."):
        embeddings.pca(np.zeros((10, 4)), n_components=bad)


# --------------------------------------------------------------------------- UMAP


def test_umap_is_deterministic_with_a_seed_and_separates_blobs():
    x, labels = blobs(n_per_class=60)
    stages = []
    first = embeddings.umap_embedding(x, n_neighbors=10, pca_dims=None, seed=1,
                                      on_stage=stages.append)  # fmt: skip
    again = embeddings.umap_embedding(x, n_neighbors=10, pca_dims=None, seed=1)
    assert first.shape == (240, 2) and first.dtype == np.float32
    np.testing.assert_allclose(first, again)
    assert stages == ["importing umap", "nearest neighbours of 240 points (exact)",
                      "fuzzy graph of the neighbours", "spectral initialisation of 240 points",
                      "UMAP layout of 240 points"]  # fmt: skip
    quality = embeddings.cluster_quality(first, labels)
    assert quality["purity_mean"] > 0.99 and quality["knn_accuracy"] > 0.99
    # umap was imported without TensorFlow.
    assert "tensorflow" not in sys.modules or sys.modules["tensorflow"] is not None


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_neighbors": 1}, "n_neighbors must be in 2..200; got 1."),
        ({"min_dist": 1.5}, "min_dist must be in [0, 1]; got 1.5."),
        ({"metric": "hamming"},
         "Unknown metric 'hamming'; pass one of euclidean, cosine, manhattan, correlation."),
        ({"pca_dims": 1}, "pca_dims must be None or in 2..50; got 1."),
        ({"neighbours": 5},
         "Unknown umap parameter neighbours; valid: n_neighbors, min_dist, metric, pca_dims, seed, parallel."),
    ],
)  # fmt: skip
def test_umap_parameters_are_checked_when_requested(params, message):
    with pytest.raises(ValueError) as info:
        embeddings.EmbeddingRequest("digits", "f" * 32, "umap", "train", params)
    assert str(info.value) == message


@pytest.mark.parametrize("n", [0, 1, 3])
def test_a_umap_of_fewer_than_four_images_is_refused_in_one_sentence(n):
    with pytest.raises(ValueError) as info:
        embeddings.umap_embedding(np.zeros((n, 8, 8), np.uint8), pca_dims=None)
    assert str(info.value) == f"A UMAP needs at least 4 images; this split has {n}."


def test_a_umap_of_four_images_is_drawn():
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8)).astype(np.uint8)
    coords = embeddings.umap_embedding(x, pca_dims=None, seed=0)
    assert coords.shape == (4, 2) and np.isfinite(coords).all()


# --------------------------------------------------------------------------- quality


def test_quality_of_separated_clusters_is_perfect_and_of_shuffled_labels_is_chance():
    x, labels = blobs(n_per_class=150)
    coords = embeddings.pca(x, n_components=2).coords
    good = embeddings.cluster_quality(coords, labels, pixels=x)
    assert good["purity_mean"] > 0.98
    assert all(v > 0.95 for v in good["purity"].values())
    assert good["knn_accuracy"] > 0.98 and good["knn_accuracy_pixels"] > 0.98
    assert good["silhouette"] > 0.5
    shuffled = np.random.default_rng(0).permutation(labels)
    bad = embeddings.cluster_quality(coords, shuffled)
    assert abs(bad["purity_mean"] - 0.25) < 0.05  # chance with 4 equal classes
    assert abs(bad["knn_accuracy"] - 0.25) < 0.08
    assert abs(bad["silhouette"]) < 0.05
    assert bad["knn_accuracy_pixels"] is None


def test_quality_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="10 points, 9 labels"):
        embeddings.cluster_quality(np.zeros((10, 2)), np.zeros(9, int))


# --------------------------------------------------------------------------- requests, cache


def test_request_key_depends_on_data_method_split_and_parameters():
    base = embeddings.EmbeddingRequest("digits", "a" * 32, "umap", "train", {})
    same = embeddings.EmbeddingRequest("/elsewhere.npz", "a" * 32, "umap", "train",
                                       {"n_neighbors": 15})  # fmt: skip
    assert base.key == same.key  # defaults filled in; the source path does not matter
    others = [
        embeddings.EmbeddingRequest("digits", "b" * 32, "umap", "train", {}),
        embeddings.EmbeddingRequest("digits", "a" * 32, "pca", "train", {}),
        embeddings.EmbeddingRequest("digits", "a" * 32, "umap", "all", {}),
        embeddings.EmbeddingRequest("digits", "a" * 32, "umap", "train", {"min_dist": 0.1}),
    ]
    assert len({base.key, *(o.key for o in others)}) == 5
    assert embeddings.EmbeddingRequest.from_json(json.loads(json.dumps(base.to_json()))) == base
    with pytest.raises(ValueError, match="Unknown split 'val'; pass one of train, test, all."):
        embeddings.EmbeddingRequest("digits", "a" * 32, "pca", "val", {})


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_compute_cached_computes_once_then_reads(digits, cache_dir, monkeypatch):
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "all", {})
    result, cached = embeddings.compute_cached(request, digits)
    assert not cached
    assert result.coords.shape == (1797, 50) and result.splits.tolist().count(1) == 359
    assert request.directory.parent == cache_dir / "embeddings"

    def boom(*args, **kwargs):
        raise AssertionError("recomputed a cached embedding")

    monkeypatch.setattr(embeddings.store, "compute", boom)
    again, cached = embeddings.compute_cached(request, digits)
    assert cached
    np.testing.assert_array_equal(again.coords, result.coords)
    np.testing.assert_allclose(
        again.extras["explained_variance_ratio"], result.extras["explained_variance_ratio"]
    )
    assert again.quality == json.loads(json.dumps(result.quality))


def test_damaged_cache_is_recomputed(digits, cache_dir):
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "test", {})
    result, _ = embeddings.compute_cached(request, digits)
    stored = request.directory / "embedding.npz"
    stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])
    assert embeddings.load_cached(request) is None
    repaired, cached = embeddings.compute_cached(request, digits)
    assert not cached
    np.testing.assert_allclose(repaired.coords, result.coords, rtol=1e-5)


def test_compute_refuses_changed_data(digits):
    request = embeddings.EmbeddingRequest("digits", "0" * 32, "pca", "train", {})
    with pytest.raises(ValueError, match=r"^digits: the data changed since the request"):
        embeddings.compute(request, digits)


def test_images_at_reads_across_splits(digits):
    images, labels, indices, splits = embeddings.split_arrays(digits, "all")
    rows = np.array([0, 1437, 1438, 1796])
    np.testing.assert_array_equal(embeddings.images_at(digits, "all", rows), images[rows])
    assert indices[rows].tolist() == [0, 1437, 0, 358]
    assert splits[rows].tolist() == [0, 0, 1, 1]


def test_scatter_selection_maps_trace_points_back_to_rows():
    labels = np.array([2, 0, 2, 1, 0])
    fig = figures.embeddings.scatter_figure(
        np.arange(5.0), np.arange(5.0), labels, np.arange(5), class_names=("a", "b", "c")
    )
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    # Trace 0 holds rows 1 and 4 (label 0); trace 2 holds rows 0 and 2 (label 2).
    points = [{"curve_number": 0, "point_index": 1}, {"curve_number": 2, "point_index": 0},
              {"curve_number": 2, "point_index": 0}, {"curve_number": 7, "point_index": 0}]
    state = {"selection": {"points": points, "point_indices": [1, 0, 0, 0]}}
    assert figures.embeddings.selected_rows(state, labels).tolist() == [0, 4]
    assert figures.embeddings.selected_rows(None, labels).tolist() == []


def test_cli_embed_reports_then_hits_the_cache(cache_dir):
    def run():
        result = subprocess.run(
            [sys.executable, "-m", "mnist_core", "embed", "digits", "--method", "pca",
             "--split", "test"],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first, second = run(), run()
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["method"] == "pca" and first["split"] == "test" and first["n_points"] == 359
    assert first["cache_path"] == second["cache_path"]
    assert first["cache_path"].startswith(str(cache_dir / "embeddings"))
    assert first["knn_accuracy"] == second["knn_accuracy"]
    assert 0.9 < first["knn_accuracy_pixels"] <= 1
    assert set(first) == {"method", "split", "n_points", "seconds", "compute_seconds",
                          "knn_accuracy", "knn_accuracy_pixels", "silhouette", "cache_path",
                          "cached"}  # fmt: skip


def test_cli_embed_bad_parameter_exits_2(cache_dir):
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "embed", "digits", "--method", "umap",
         "--n-neighbors", "1"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "n_neighbors must be in 2..200; got 1.\n"


def test_quality_on_other_axes_is_measured_once_and_kept(digits, cache_dir, monkeypatch):
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "test", {})
    result, _ = embeddings.compute_cached(request, digits)
    assert embeddings.quality_on_axes(request, result, (0, 1)) == result.quality
    q = embeddings.quality_on_axes(request, result, (2, 4))
    expected = embeddings.cluster_quality(result.coords[:, [2, 4]], result.labels, seed=0)
    assert q["knn_accuracy"] == expected["knn_accuracy"] and q["silhouette"] == expected["silhouette"]
    assert q["knn_accuracy"] != result.quality["knn_accuracy"]
    assert q["knn_accuracy_pixels"] == result.quality["knn_accuracy_pixels"]
    assert (request.directory / "quality-2-4.json").is_file()
    monkeypatch.setattr(embeddings.store, "cluster_quality", None)  # a second call reads the file
    assert embeddings.quality_on_axes(request, result, (2, 4))["knn_accuracy"] == q["knn_accuracy"]
    with pytest.raises(ValueError, match=r"^axes must be two different columns in 0..49; got 3 and 3\.$"):
        embeddings.quality_on_axes(request, result, (3, 3))
