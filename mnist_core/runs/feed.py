"""The training images as ``model.fit`` takes them, on each Keras backend.

On TensorFlow, Keras turns NumPy arrays into a ``tf.data`` pipeline of its own, which has two
faults for us (Keras 3.15, TensorFlow 2.20; measured, issue 13):

- **A new order each epoch.** Its shuffle is ``tf.random.shuffle`` inside ``Dataset.map``;
  with a seed (``keras.utils.set_random_seed``), every new iterator starts that op afresh, so
  every epoch of a seeded run saw the batches in the *same* order (TensorFlow issue #26179's
  behaviour).
- **No stall between epochs.** Its ``map`` and ``prefetch`` are ``AUTOTUNE``d. Each epoch's
  iterator is destroyed at the next epoch's start, and that waits for tf.data's autotuning
  thread, whose sleep grows with the run: 16-21 s with no CPU in use at 7 of the best CNN's
  18 epochs (~21 s of training each), caught with ``py-spy dump --native`` in
  ``RootDataset::Iterator::~Iterator``.

:func:`fit_inputs` builds the same pipeline as Keras (batches of shuffled indices, each batch
gathered from the arrays held once as tensors) with ``Dataset.shuffle(seed=..,
reshuffle_each_iteration=True)`` on the indices, which is reproducible for a seed and new
each epoch, and with autotuning off: :data:`PREFETCH_BATCHES` are gathered ahead (0.6 CPU-ms
a batch of a 40-60 ms training step here, 0.3 CPU-s an epoch: nothing to tune). JAX (Keras's
NumPy iterator, reshuffled by NumPy each epoch) takes the arrays as they are.
"""

from __future__ import annotations

import math

import numpy as np

PREFETCH_BATCHES = 2


def validation_split_at(n: int, validation_split: float) -> int:
    """Where Keras's ``validation_split`` cuts ``n`` samples: the first part trains, the rest
    (the last ``validation_split`` of them, before any shuffling) validates."""
    return int(math.floor(n * (1.0 - validation_split))) if validation_split else n


def fit_inputs(x: np.ndarray, y: np.ndarray, *, batch_size: int, validation_split: float,
               seed: int | None, backend: str) -> dict:
    """Keyword arguments for ``model.fit``: the training data (and validation data, cut as
    Keras's ``validation_split`` cuts it) in the form that trains fastest on ``backend``."""
    if backend != "tensorflow":
        return {"x": x, "y": y, "batch_size": batch_size, "shuffle": True,
                "validation_split": validation_split or 0.0}  # fmt: skip
    cut = validation_split_at(len(x), validation_split)
    if cut == 0:
        raise ValueError(f"A validation split of {validation_split} leaves no image to train on.")
    validation = None
    if cut < len(x):
        validation = batches(x[cut:], y[cut:], batch_size=batch_size, seed=None, shuffle=False)
    return {"x": batches(x[:cut], y[:cut], batch_size=batch_size, seed=seed, shuffle=True),
            "validation_data": validation}  # fmt: skip


def batches(x: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int | None,
            shuffle: bool = True):
    """A ``tf.data.Dataset`` of ``(images, labels)`` batches of ``x`` and ``y``, the last one
    partial, in a new order each time it is iterated (reproducible for a ``seed``); its
    length is known, so Keras counts the steps of an epoch."""
    import tensorflow as tf

    n = len(x)
    images, labels = tf.constant(x), tf.constant(y)
    order = tf.data.Dataset.range(n)
    if shuffle:
        order = order.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    dataset = (
        order.batch(batch_size)
        .map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))
        .prefetch(PREFETCH_BATCHES)
        .apply(tf.data.experimental.assert_cardinality(math.ceil(n / batch_size)))
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)
