"""UMAP after the neighbour graph, in the stages umap-learn runs inside ``UMAP.fit``, each
one kept on disk when it does not depend on ``min_dist`` or the seed.

- :func:`fuzzy_graph`: umap-learn's ``fuzzy_simplicial_set`` of the neighbour graph, kept
  beside the graph as ``<key>-fuzzy.npz``.
- :func:`spectral_init`: umap-learn's spectral initialisation (``spectral_layout`` of the
  fuzzy graph as ``simplicial_set_embedding`` prunes it; eigsh with ``v0`` of ones, so it
  depends on the graph only), kept as ``<key>-spectral-<epochs>.npz``.
- :func:`layout`: the layout from that initialisation, with the seed's small noise added
  exactly as umap-learn adds it (``noisy_scale_coords``), prepared as umap-learn's
  ``simplicial_set_embedding`` prepares it and optimised by :mod:`.sgd` (umap-learn's
  objective and schedule, 2.4x quicker).

Every path (nothing kept, graph kept, everything kept) goes through the same steps with the
same random states, so the same parameters give the same embedding whichever path ran.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mnist_core.embeddings import fast


def _path(key: str, suffix: str):
    return fast.graph_path(key).with_name(f"{key}-{suffix}.npz")


def _load(key: str | None, suffix: str) -> dict | None:
    if key is None:
        return None
    from mnist_core.diskcache import load_arrays

    return load_arrays(_path(key, suffix))


def _keep(key: str | None, suffix: str, arrays: dict) -> None:
    if key is None:
        return
    from mnist_core.diskcache import save_arrays_atomic

    try:
        _path(key, suffix).parent.mkdir(parents=True, exist_ok=True)
        save_arrays_atomic(_path(key, suffix), arrays)
    except OSError:
        pass  # a full or read-only disk: computed again next time


def epochs_for(n_points: int) -> int:
    """umap-learn's default number of layout epochs for ``n_points``."""
    return 500 if n_points <= 10_000 else 200


def exact_neighbours(data: np.ndarray, n_neighbors: int, metric: str) -> tuple:
    """Exact ``(indices, distances)`` (each point first, as umap-learn's own exact path
    has them) for small data, where umap-learn does not use NN-descent."""
    from sklearn.metrics import pairwise_distances

    distances = pairwise_distances(data, metric=metric).astype(np.float32)
    np.fill_diagonal(distances, -1.0)  # each point is its own first neighbour
    indices = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    nearest = np.take_along_axis(distances, indices, axis=1)
    nearest[:, 0] = 0.0
    return indices.astype(np.int32), nearest


def fuzzy_graph(data: np.ndarray, knn: tuple, *, key: str | None, n_neighbors: int,
                metric: str):  # fmt: skip
    """``(graph, reused)``: the fuzzy simplicial set (scipy CSR) of the neighbour graph."""
    import scipy.sparse

    n = len(data)

    def as_csr(arrays):
        return scipy.sparse.coo_matrix((arrays["data"], (arrays["row"], arrays["col"])),
                                       shape=(n, n)).tocsr()  # fmt: skip

    found = _load(key, "fuzzy")
    if found is not None and {"row", "col", "data"} <= set(found):
        return as_csr(found), True
    from sklearn.utils import check_random_state
    from umap.umap_ import fuzzy_simplicial_set

    graph, _, _ = fuzzy_simplicial_set(data, n_neighbors, check_random_state(0), metric,
                                       knn_indices=knn[0], knn_dists=knn[1])  # fmt: skip
    coo = graph.tocoo()
    arrays = {"row": coo.row.astype(np.int32), "col": coo.col.astype(np.int32),
              "data": coo.data.astype(np.float32)}  # fmt: skip
    _keep(key, "fuzzy", arrays)
    return as_csr(arrays), False  # as a kept one reads back: the same layout either way


def spectral_init(data: np.ndarray, graph, *, key: str | None, metric: str, n_epochs: int):
    """``(coords, reused)``: umap-learn's spectral initialisation (n, 2) of ``graph``,
    pruned as its layout prunes it for ``n_epochs``; no randomness (a fixed state)."""
    found = _load(key, f"spectral-{n_epochs}")
    if found is not None and found.get("init") is not None and found["init"].shape == (len(data), 2):
        return found["init"], True
    from sklearn.utils import check_random_state
    from umap.spectral import spectral_layout

    pruned = graph.tocoo(copy=True)
    pruned.sum_duplicates()
    pruned.data[pruned.data < (pruned.data.max() / float(n_epochs))] = 0.0
    pruned.eliminate_zeros()
    coords = spectral_layout(data, pruned, 2, check_random_state(0), metric=metric)
    coords = np.asarray(coords, dtype=np.float64)
    _keep(key, f"spectral-{n_epochs}", {"init": coords})
    return coords, False


def prepare(graph, init: np.ndarray, *, n_epochs: int, random_state) -> dict:
    """What :func:`.sgd.optimize` takes, prepared as umap-learn's ``simplicial_set_embedding``
    prepares it: ``coords`` (``init`` with umap-learn's small noise from ``random_state``,
    scaled to [0, 10], float32 (n, 2)), the edges ``head`` and ``tail`` left after pruning the
    weak ones, and their ``epochs_per_sample``."""
    from umap.umap_ import make_epochs_per_sample, noisy_scale_coords

    start = noisy_scale_coords(np.array(init, dtype=np.float64), random_state, max_coord=10,
                               noise=0.0001)  # fmt: skip
    edges = graph.tocoo(copy=True)
    edges.sum_duplicates()
    pruned = n_epochs if n_epochs > 10 else epochs_for(graph.shape[0])  # as umap-learn
    edges.data[edges.data < edges.data.max() / float(pruned)] = 0.0
    edges.eliminate_zeros()
    low, high = start.min(axis=0), start.max(axis=0)
    return {"coords": (10.0 * (start - low) / (high - low)).astype(np.float32, order="C"),
            "head": edges.row, "tail": edges.col,
            "epochs_per_sample": make_epochs_per_sample(edges.data, n_epochs)}  # fmt: skip


def layout(graph, init: np.ndarray, *, min_dist: float, seed: int | None, parallel: bool,
           n_epochs: int, on_epoch: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The layout of ``graph`` from ``init`` (its spectral coordinates), float32 (n, 2):
    :func:`prepare`, then :func:`.sgd.optimize`. The seed (None with ``parallel``) adds
    umap-learn's small noise to ``init`` and drives the epochs; ``parallel`` uses all cores
    (not reproducible). ``on_epoch(done, n_epochs)`` after each epoch."""
    from sklearn.utils import check_random_state
    from umap.umap_ import find_ab_params

    from mnist_core.embeddings import sgd

    random_state = check_random_state(None if parallel else seed)
    start = prepare(graph, init, n_epochs=n_epochs, random_state=random_state)
    a, b = find_ab_params(1.0, min_dist)
    return sgd.optimize(start["coords"], start["head"], start["tail"],
                        start["epochs_per_sample"], a=a, b=b, n_epochs=n_epochs,
                        seed=int(random_state.randint(2**31 - 1)), parallel=parallel,
                        on_epoch=on_epoch)  # fmt: skip
