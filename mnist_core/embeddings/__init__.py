"""2-D (and PCA) embeddings of a dataset, their cluster quality, and their on-disk cache.

- :mod:`.compute`: :func:`pca` (exact, up to 50 components), :func:`umap_embedding`
  (umap-learn's graph and our layout, optionally after a PCA pre-reduction), the rows of a
  split; :mod:`.fast` and :mod:`.layout` keep UMAP's stages per neighbour graph, :mod:`.sgd`
  is the layout itself.
- :mod:`.quality`: :func:`cluster_quality` (k-NN accuracy in the embedding and in pixel
  space, silhouette, per-class neighbourhood purity).
- :mod:`.store`: :class:`EmbeddingRequest` names one embedding; :func:`compute_cached`
  computes it once and keeps it under ``<cache>/embeddings/``; :func:`submit` has a
  background worker compute it; :func:`load_cached` reads it back.

Importing this package is cheap: scikit-learn and umap are imported only when computing.
"""

from mnist_core.embeddings.compute import (
    EMBED_SPLITS,
    MAX_PCA_COMPONENTS,
    METHODS,
    UMAP_METRICS,
    UMAP_STAGES,
    PCAResult,
    images_at,
    import_umap,
    pca,
    split_arrays,
    umap_embedding,
    warm_up_steps,
)
from mnist_core.embeddings.quality import QUALITY_SAMPLE, cluster_quality
from mnist_core.embeddings.store import (
    DEFAULT_PARAMS,
    EmbeddingRequest,
    EmbeddingResult,
    compute,
    compute_cached,
    load_cached,
    normalized_params,
    pixel_reference,
    quality_of,
    quality_on_axes,
    save,
    status_of,
    stored_pixel_reference,
    stored_quality,
    submit,
)
from mnist_core.embeddings.fast import read_progress

__all__ = [
    "DEFAULT_PARAMS", "EMBED_SPLITS", "MAX_PCA_COMPONENTS", "METHODS", "QUALITY_SAMPLE",
    "UMAP_METRICS", "EmbeddingRequest", "EmbeddingResult", "PCAResult", "cluster_quality",
    "compute", "compute_cached", "images_at", "import_umap", "load_cached",
    "normalized_params", "pca", "quality_on_axes", "save", "split_arrays", "status_of", "submit",
    "umap_embedding", "UMAP_STAGES", "pixel_reference", "read_progress", "stored_pixel_reference",
    "quality_of", "stored_quality", "warm_up_steps",
]  # fmt: skip
