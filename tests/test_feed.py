"""The training feed (mnist_core.runs.feed): every epoch a new order of every image once,
reproducible for a seed; Keras's validation cut; no tf.data autotuning."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from mnist_core.runs.feed import batches, fit_inputs, validation_split_at  # noqa: E402


def _epochs(dataset, n_epochs: int) -> list[list[np.ndarray]]:
    return [[labels.numpy() for _, labels in dataset] for _ in range(n_epochs)]


def test_each_epoch_is_a_new_order_of_every_image_once_and_a_seed_repeats_the_orders():
    n, batch = 1_000, 64
    x = np.arange(n, dtype="float32").reshape(n, 1, 1, 1)
    y = np.arange(n)
    first = _epochs(batches(x, y, batch_size=batch, seed=3), 3)
    again = _epochs(batches(x, y, batch_size=batch, seed=3), 3)
    other = _epochs(batches(x, y, batch_size=batch, seed=4), 1)
    for epoch in first:
        assert [len(b) for b in epoch] == [64] * 15 + [40]  # the last batch partial
        assert sorted(np.concatenate(epoch).tolist()) == list(range(n))
    orders = [np.concatenate(e) for e in first]
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    for a, b in zip(first, again):
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(np.concatenate(other[0]), orders[0])


def test_images_stay_with_their_labels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (300, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 300)
    for images, labels in batches(x, y, batch_size=128, seed=0):
        for image, label in zip(images.numpy(), labels.numpy()):
            matches = np.flatnonzero((x == image).all(axis=(1, 2, 3)))
            assert label in y[matches]


def test_the_number_of_batches_is_known_and_autotuning_is_off():
    x, y = np.zeros((1_001, 2, 2, 1), "float32"), np.zeros(1_001, "int64")
    dataset = batches(x, y, batch_size=100, seed=0)
    assert int(dataset.cardinality()) == 11
    assert dataset.options().autotune.enabled is False


def test_the_validation_part_is_cut_where_keras_cuts_it_and_is_not_shuffled():
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    n = 1_003
    x, y = np.arange(n, dtype="float32").reshape(n, 1, 1, 1), np.arange(n)
    for split in (0.1, 0.25, 0.333):
        (_, keras_y), (_, keras_val_y) = train_validation_split((x, y), validation_split=split)
        cut = validation_split_at(n, split)
        assert cut == len(keras_y)
        inputs = fit_inputs(x, y, batch_size=100, validation_split=split, seed=0,
                            backend="tensorflow")  # fmt: skip
        trained = np.concatenate([labels.numpy() for _, labels in inputs["x"]])
        validated = np.concatenate([labels.numpy() for _, labels in inputs["validation_data"]])
        assert sorted(trained.tolist()) == keras_y.tolist()
        assert validated.tolist() == keras_val_y.tolist()  # in order, as Keras evaluates it


def test_no_validation_split_means_no_validation_data_and_other_backends_get_the_arrays():
    x, y = np.zeros((10, 2, 2, 1), "float32"), np.zeros(10, "int64")
    assert fit_inputs(x, y, batch_size=4, validation_split=0.0, seed=0,
                      backend="tensorflow")["validation_data"] is None  # fmt: skip
    plain = fit_inputs(x, y, batch_size=4, validation_split=0.2, seed=0, backend="jax")
    assert plain["x"] is x and plain["y"] is y
    assert plain["validation_split"] == 0.2 and plain["shuffle"] is True
    with pytest.raises(ValueError, match="leaves no image to train on"):
        fit_inputs(x, y, batch_size=4, validation_split=0.99, seed=0, backend="tensorflow")
