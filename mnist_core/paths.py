"""Where the project keeps what it computes or downloads.

Everything lives under one cache folder: ``./cache`` unless the environment variable
``MNIST_CACHE_DIR`` names another. The folder is read afresh on every call so that tests
and scripts can point it elsewhere without reloading modules.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "MNIST_CACHE_DIR"
# The checkout: child processes (workers, downloads) run `python -m mnist_core...` from here.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """The cache root: ``$MNIST_CACHE_DIR`` if set, else ``./cache``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or "cache").expanduser().absolute()


def datasets_dir() -> Path:
    """Downloaded datasets, in the layout ``keras.datasets`` uses (``mnist.npz``, ...)."""
    return cache_dir() / "datasets"


def uploads_dir() -> Path:
    """Files users uploaded in the app, one folder per upload, named by content hash."""
    return cache_dir() / "uploads"
