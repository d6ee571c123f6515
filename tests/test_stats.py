"""Class balance, pixel statistics and digit selection against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.data import stats
from mnist_core.data import load_dataset
from tests.conftest import tiny_arrays


def test_class_balance_counts_and_shares():
    balance = stats.class_balance(
        np.array([0, 0, 0, 1]), np.array([1, 1]), class_names=("zero", "one", "two")
    )
    assert balance.to_dict("records") == [
        {"class": "zero", "label": 0, "split": "train", "count": 3, "share": 0.75},
        {"class": "one", "label": 1, "split": "train", "count": 1, "share": 0.25},
        {"class": "two", "label": 2, "split": "train", "count": 0, "share": 0.0},
        {"class": "zero", "label": 0, "split": "test", "count": 0, "share": 0.0},
        {"class": "one", "label": 1, "split": "test", "count": 2, "share": 1.0},
        {"class": "two", "label": 2, "split": "test", "count": 0, "share": 0.0},
    ]


def test_pixel_stats_by_hand():
    # Two 1x2 images of class 0, three of class 1; class 2 has none.
    images = np.array(
        [[[0, 10]], [[4, 20]], [[1, 255]], [[3, 255]], [[8, 0]]], dtype=np.uint8
    )
    labels = np.array([0, 0, 1, 1, 1])
    result = stats.pixel_stats(images, labels, n_classes=3)
    assert result.mean.shape == (4, 1, 2)
    np.testing.assert_allclose(result.mean[0], [[2, 15]])
    np.testing.assert_allclose(result.median[0], [[2, 15]])  # even count: mean of the middle two
    np.testing.assert_allclose(result.std[0], [[2, 5]])
    np.testing.assert_allclose(result.mean[1], [[4, 170]])
    np.testing.assert_allclose(result.median[1], [[3, 255]])
    np.testing.assert_allclose(result.std[1], [[np.sqrt(26 / 3), np.sqrt((85**2 + 85**2 + 170**2) / 3)]])
    assert np.isnan(result.mean[2]).all() and np.isnan(result.median[2]).all()
    np.testing.assert_allclose(result.mean[3], [[16 / 5, 540 / 5]])
    np.testing.assert_allclose(result.median[3], [[3, 20]])
    assert result.counts.tolist() == [2, 3, 0, 5]
    np.testing.assert_allclose(result.image("std", -1), images.std(axis=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixel_stats_match_numpy(seed):
    arrays = tiny_arrays(seed=seed, n_train=41)
    images, labels = arrays["x_train"], arrays["y_train"]
    result = stats.pixel_stats(images, labels, n_classes=4)
    for cls in range(4):
        members = images[labels == cls]
        np.testing.assert_allclose(result.mean[cls], members.mean(axis=0))
        np.testing.assert_allclose(result.median[cls], np.median(members, axis=0))
        np.testing.assert_allclose(result.std[cls], members.std(axis=0), atol=1e-9)
    np.testing.assert_allclose(result.median[-1], np.median(images, axis=0))


def test_pixel_stats_rejects_bad_input():
    with pytest.raises(ValueError, match="images must be uint8; got float64"):
        stats.pixel_stats(np.zeros((2, 2, 2)), np.zeros(2, int), n_classes=1)
    with pytest.raises(ValueError, match="2 images, 3 labels"):
        stats.pixel_stats(np.zeros((2, 2, 2), np.uint8), np.zeros(3, int), n_classes=1)
    result = stats.pixel_stats(np.zeros((2, 2, 2), np.uint8), np.zeros(2, int), n_classes=1)
    with pytest.raises(ValueError, match="Unknown statistic 'mode'"):
        result.image("mode", 0)


def test_dataset_pixel_stats_are_cached_on_disk(tiny_npz, cache_dir, monkeypatch):
    dataset = load_dataset(tiny_npz)
    first, error = stats.dataset_pixel_stats(dataset, "train")
    assert error is None
    files = list((cache_dir / "stats").iterdir())
    assert [f.name for f in files] == [f"pixels-{dataset.fingerprint}-train.npz"]

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(stats, "pixel_stats", fail)
    again, error = stats.dataset_pixel_stats(dataset, "train")
    np.testing.assert_array_equal(first.median, again.median)
    assert error is None
    # A damaged cache file is recomputed, not an error.
    files[0].write_bytes(files[0].read_bytes()[:100])
    monkeypatch.undo()
    monkeypatch.setenv("MNIST_CACHE_DIR", str(cache_dir))
    repaired, error = stats.dataset_pixel_stats(dataset, "train")
    np.testing.assert_array_equal(first.std, repaired.std)
    assert error is None


def _expected_stats(dataset):
    images, labels = dataset.split("train")
    return stats.pixel_stats(images, labels, n_classes=dataset.n_classes)


def test_pixel_stats_on_a_full_disk_are_computed_in_memory(tiny_npz, small_disk, monkeypatch):
    from tests.conftest import fill_disk

    monkeypatch.setenv("MNIST_CACHE_DIR", str(small_disk))
    dataset = load_dataset(tiny_npz)
    fill_disk(small_disk)
    result, error = stats.dataset_pixel_stats(dataset, "train")
    np.testing.assert_array_equal(result.mean, _expected_stats(dataset).mean)
    path = small_disk / "stats" / f"pixels-{dataset.fingerprint}-train.npz"
    assert error == (
        f"The disk holding {path.parent} is full: {path.name} could not be written "
        "(No space left on device)."
    )
    assert not path.exists() and not list((small_disk / "stats").glob(".*"))  # no partial file


def test_pixel_stats_in_a_read_only_cache_are_computed_in_memory(tiny_npz, cache_dir, read_only):
    dataset = load_dataset(tiny_npz)
    read_only(cache_dir)
    result, error = stats.dataset_pixel_stats(dataset, "test")
    np.testing.assert_array_equal(result.median[-1], np.median(dataset.x_test, axis=0))
    path = cache_dir / "stats" / f"pixels-{dataset.fingerprint}-test.npz"
    assert error == (
        f"The folder {path.parent} is read-only here: {path.name} could not be written "
        "(Read-only file system)."
    )


def test_select_digits_first_random_and_one_class():
    labels = np.array([3, 1, 3, 2, 3, 1])
    assert stats.select_digits(labels, 4).tolist() == [0, 1, 2, 3]
    assert stats.select_digits(labels, 10, label=3).tolist() == [0, 2, 4]
    sample = stats.select_digits(labels, 3, order="random", seed=5)
    assert sample.tolist() == stats.select_digits(labels, 3, order="random", seed=5).tolist()
    assert len(set(sample.tolist())) == 3
    assert set(stats.select_digits(labels, 9, order="random", label=1).tolist()) == {1, 5}
    assert stats.select_digits(labels, 3, label=7).tolist() == []
    with pytest.raises(ValueError, match="Unknown order 'last'"):
        stats.select_digits(labels, 3, order="last")
