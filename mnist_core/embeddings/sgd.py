"""UMAP's layout: stochastic gradient descent of the fuzzy graph's cross-entropy in 2-D,
with umap-learn's objective, edge sampling schedule, negative sampling rate, gradient
clipping and learning-rate decay (``umap.layouts.optimize_layout_euclidean``), written
again for speed. Everything before it (neighbours, fuzzy graph, spectral initialisation)
is still umap-learn's.

Why not umap-learn's own loop: on MNIST's 70,000 points its 200 epochs take ~23 CPU-s, two
thirds of it in libm's double-precision ``pow`` (three per sampled pair; ~540 million pairs),
and a change of ``min_dist`` or the seed runs nothing else. Here, measured on the same graph
(``python -m benchmarks --only embed``, "layout alone"), the same schedule takes ~9 CPU-s at the
same cluster quality:

- ``d ** b`` is computed in float32 as ``2 ** (b * log2 d)`` with short polynomials
  (:func:`power`; relative error below 2e-5, far under the noise of the descent itself);
- each sampled edge's negative samples are evaluated from the same position and their
  (clipped) steps applied together, as word2vec's negative sampling does, instead of one
  after another: their work overlaps in the CPU instead of waiting for each other;
- the random choice of negative samples is a per-vertex xorshift64* stream (umap-learn:
  a Tausworthe generator per vertex, three times the work), seeded from ``seed``.

The result is reproducible: the same inputs and seed give the same coordinates bit for bit.
``parallel=True`` runs the edges on every core without locks, as umap-learn's parallel
layout does (so not reproducible).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.extending import intrinsic

# log2(1 + t) / t on [0, 1) and 2 ** f on [0, 1): least-squares fits on Chebyshev nodes
# (absolute error 9e-6 and relative error 4e-6).
_L0, _L1, _L2, _L3, _L4, _L5 = (np.float32(c) for c in (
    1.4426832, -0.72044235, 0.4693017, -0.30338967, 0.14643362, -0.03459521))  # fmt: skip
_E0, _E1, _E2, _E3, _E4 = (np.float32(c) for c in (
    1.0000036, 0.69296956, 0.24162132, 0.051717736, 0.013683983))  # fmt: skip
_TINY = np.float32(1.1754944e-38)  # the smallest normal float32
_CLIP = np.float32(4.0)  # umap-learn's gradient clip
_MIX = np.uint64(2685821657736338717)  # xorshift64*'s multiplier


@intrinsic
def _bits(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _float(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@numba.njit(inline="always", fastmath=True)
def power(x, b):
    """``x ** b`` for float32 ``x > 0`` (relative error < 2e-5)."""
    bits = _bits(max(x, _TINY))
    exponent = np.float32((bits >> 23) - 127)
    t = _float(np.int32((bits & 0x7FFFFF) | 0x3F800000)) - np.float32(1.0)
    t2 = t * t
    log2 = exponent + t * ((_L0 + t * _L1) + t2 * ((_L2 + t * _L3) + t2 * (_L4 + t * _L5)))
    y = min(max(b * log2, np.float32(-126.0)), np.float32(126.0))
    whole = np.floor(y)
    f = y - whole
    f2 = f * f
    fraction = (_E0 + f * _E1) + f2 * ((_E2 + f * _E3) + f2 * _E4)
    return _float(np.int32(_bits(fraction) + (np.int32(whole) << 23)))


@numba.njit(inline="always", fastmath=True)
def _clip(value):
    return min(max(value, -_CLIP), _CLIP)


@numba.njit(inline="always", fastmath=True)
def _edge(i, coords, head, tail, epochs_per_sample, epochs_per_negative, next_sample,
          next_negative, epoch, a, b, attract, repel, alpha, states):  # fmt: skip
    """One sampled edge: attract its ends, then push its head from a few random points."""
    n = coords.shape[0]
    j, k = head[i], tail[i]
    x, y = coords[j, 0], coords[j, 1]
    dx, dy = x - coords[k, 0], y - coords[k, 1]
    d2 = dx * dx + dy * dy
    if d2 > 0:
        p = power(d2, b)
        coeff = attract * (p / d2) / (a * p + np.float32(1.0))
        gx, gy = _clip(coeff * dx) * alpha, _clip(coeff * dy) * alpha
        x += gx
        y += gy
        coords[k, 0] -= gx
        coords[k, 1] -= gy
    next_sample[i] += epochs_per_sample[i]
    negatives = int((epoch - next_negative[i]) / epochs_per_negative[i])
    push_x, push_y = np.float32(0.0), np.float32(0.0)
    state = states[j]
    for _ in range(negatives):
        state ^= state >> np.uint64(12)
        state ^= state << np.uint64(25)
        state ^= state >> np.uint64(27)
        other = np.int64((((state * _MIX) >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
        if other == j:
            continue
        dx, dy = x - coords[other, 0], y - coords[other, 1]
        d2 = dx * dx + dy * dy
        if d2 > 0:
            coeff = repel / (
                (np.float32(0.001) + d2) * (a * power(d2, b) + np.float32(1.0)))  # fmt: skip
            push_x += _clip(coeff * dx)
            push_y += _clip(coeff * dy)
    states[j] = state
    coords[j, 0] = x + push_x * alpha
    coords[j, 1] = y + push_y * alpha
    next_negative[i] += negatives * epochs_per_negative[i]


@numba.njit(fastmath=True, nogil=True)
def _epoch_serial(coords, head, tail, epochs_per_sample, epochs_per_negative, next_sample,
                  next_negative, epoch, a, b, gamma, alpha, states):  # fmt: skip
    attract, repel = np.float32(-2.0) * a * b, np.float32(2.0) * gamma * b
    for i in range(epochs_per_sample.shape[0]):
        if next_sample[i] <= epoch:
            _edge(i, coords, head, tail, epochs_per_sample, epochs_per_negative, next_sample,
                  next_negative, epoch, a, b, attract, repel, alpha, states)  # fmt: skip


@numba.njit(fastmath=True, nogil=True, parallel=True)
def _epoch_parallel(coords, head, tail, epochs_per_sample, epochs_per_negative, next_sample,
                    next_negative, epoch, a, b, gamma, alpha, states):  # fmt: skip
    attract, repel = np.float32(-2.0) * a * b, np.float32(2.0) * gamma * b
    for i in numba.prange(epochs_per_sample.shape[0]):
        if next_sample[i] <= epoch:
            _edge(i, coords, head, tail, epochs_per_sample, epochs_per_negative, next_sample,
                  next_negative, epoch, a, b, attract, repel, alpha, states)  # fmt: skip


@numba.njit(nogil=True)
def _seed_states(seed, n):
    """A non-zero xorshift state per vertex: splitmix64 of ``seed`` and the vertex."""
    states = np.empty(n, np.uint64)
    for v in range(n):
        z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(v + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        states[v] = z if z != 0 else np.uint64(1)
    return states


def optimize(coords: np.ndarray, head: np.ndarray, tail: np.ndarray,
             epochs_per_sample: np.ndarray, *, a: float, b: float, n_epochs: int, seed: int,
             parallel: bool = False, gamma: float = 1.0, negative_sample_rate: float = 5.0,
             initial_alpha: float = 1.0,
             on_epoch: Callable[[int, int], None] | None = None) -> np.ndarray:  # fmt: skip
    """Lay out the graph's edges ``head[i] -> tail[i]`` in ``coords``, in place.

    Args:
        coords: float32 C-contiguous ndarray of shape (n, 2), the starting positions.
        head, tail: integer ndarrays of shape (m,), the edges' ends (indices into coords).
        epochs_per_sample: float ndarray of shape (m,), umap-learn's
            ``make_epochs_per_sample`` of the edges' weights (1 for the strongest edge).
        a, b: the curve's parameters (umap-learn's ``find_ab_params(1, min_dist)``).
        n_epochs: how many epochs.
        seed: the negative samples' random stream (any int; the same seed, the same result).
        parallel: every core, without locks (not reproducible).
        on_epoch: called with (epochs done, n_epochs) after each epoch.

    Returns ``coords``.
    """
    if coords.dtype != np.float32 or coords.ndim != 2 or coords.shape[1] != 2 \
            or not coords.flags.c_contiguous:  # fmt: skip
        raise ValueError(f"coords must be a C-contiguous float32 array of shape (n, 2); got "
                         f"{coords.dtype} of shape {coords.shape}.")  # fmt: skip
    if not len(head) == len(tail) == len(epochs_per_sample):
        raise ValueError(f"head, tail and epochs_per_sample must have one entry per edge; got "
                         f"{len(head)}, {len(tail)} and {len(epochs_per_sample)}.")  # fmt: skip
    if len(head) and (min(head.min(), tail.min()) < 0
                      or max(head.max(), tail.max()) >= len(coords)):  # fmt: skip
        raise ValueError(f"every edge must join two of the {len(coords)} points.")
    head, tail = head.astype(np.int32), tail.astype(np.int32)
    per_sample = np.asarray(epochs_per_sample, dtype=np.float64)
    per_negative = per_sample / negative_sample_rate
    next_sample, next_negative = per_sample.copy(), per_negative.copy()
    states = _seed_states(int(seed) & 0x7FFFFFFFFFFFFFFF, len(coords))
    epoch_fn = _epoch_parallel if parallel else _epoch_serial
    a32, b32, gamma32 = np.float32(a), np.float32(b), np.float32(gamma)
    alpha = initial_alpha
    for epoch in range(n_epochs):
        epoch_fn(coords, head, tail, per_sample, per_negative, next_sample, next_negative,
                 epoch, a32, b32, gamma32, np.float32(alpha), states)  # fmt: skip
        alpha = initial_alpha * (1.0 - epoch / n_epochs)  # umap-learn's decay
        if on_epoch is not None:
            on_epoch(epoch + 1, n_epochs)
    return coords
