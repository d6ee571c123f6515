"""How well an embedding keeps the classes apart: k-NN accuracy, silhouette, purity."""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_core.embeddings.compute import as_float

QUALITY_SAMPLE = 10_000  # points used for cross-validated k-NN accuracy and silhouette


def cluster_quality(
    coords: np.ndarray,
    labels: np.ndarray,
    *,
    pixels: np.ndarray | None = None,
    k: int = 15,
    sample: int = QUALITY_SAMPLE,
    seed: int = 0,
) -> dict[str, Any]:
    """How well an embedding keeps the classes apart.

    Returns a dict with
        ``knn_accuracy``: 5-fold cross-validated accuracy of a 5-nearest-neighbour classifier
        on the embedding coordinates (on a seeded sample of ``sample`` points);
        ``knn_accuracy_pixels``: the same on the raw pixels of the same sample, for
        reference (None when ``pixels`` is not given);
        ``silhouette``: silhouette score of the labels in the embedding (same sample);
        ``purity``: {class: share of its points' ``k`` nearest neighbours (all points, in
        the embedding) that carry its label}, and ``purity_mean`` over all points.
    """
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

    if len(coords) != len(labels):
        raise ValueError(
            f"coords and labels differ in length: {len(coords)} points, {len(labels)} labels."
        )
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(labels), size=min(sample, len(labels)), replace=False))
    counts = np.bincount(labels[idx])
    folds = int(min(5, counts[counts > 0].min()))
    cv = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed)
    classifier = KNeighborsClassifier(n_neighbors=5)

    def knn_accuracy(features):
        return float(cross_val_score(classifier, features, labels[idx], cv=cv).mean())

    result: dict[str, Any] = {"knn_accuracy": knn_accuracy(coords[idx])}
    result["knn_accuracy_pixels"] = (
        pixel_knn_accuracy(pixels, labels, sample=sample, seed=seed) if pixels is not None
        else None
    )  # fmt: skip
    n_labels = len(np.unique(labels[idx]))
    result["silhouette"] = (
        float(silhouette_score(coords[idx], labels[idx])) if 1 < n_labels < len(idx) else None
    )
    k = min(k, len(coords) - 1)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(coords)
    _, nearest = neighbours.kneighbors(coords)
    same = labels[nearest[:, 1:]] == labels[:, None]  # column 0 is the point itself
    per_point = same.mean(axis=1)
    result["purity"] = {
        int(c): float(per_point[labels == c].mean()) for c in np.unique(labels)
    }
    result["purity_mean"] = float(per_point.mean())
    result["k"] = k
    result["sample"] = int(len(idx))
    return result



def pixel_knn_accuracy(pixels: np.ndarray, labels: np.ndarray, *, sample: int = QUALITY_SAMPLE,
                       seed: int = 0) -> float:  # fmt: skip
    """:func:`cluster_quality`'s ``knn_accuracy_pixels``: the same seeded sample and folds,
    on the raw pixels."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(labels), size=min(sample, len(labels)), replace=False))
    counts = np.bincount(labels[idx])
    folds = int(min(5, counts[counts > 0].min()))
    cv = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=5), as_float(pixels[idx]),
                             labels[idx], cv=cv)  # fmt: skip
    return float(scores.mean())
