"""What every file reader shares: a first look at the file, the memory one dataset may take,
and reading a stream in chunks that grow only as the data arrives.

No reader trusts a size that a header claims. A claim is refused when it is more than one
dataset may take (:func:`max_dataset_bytes`, ``$MNIST_MAX_DATASET_BYTES``) or more than the
file could hold; what passes is still read chunk by chunk into a buffer that grows with the
bytes actually decompressed, so a lying header never costs more memory than its data.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from mnist_core.data.errors import DatasetError, fail

MAX_BYTES_ENV_VAR = "MNIST_MAX_DATASET_BYTES"
# All arrays of one dataset together. MNIST takes 55 MB and EMNIST ByClass (814,255 images)
# 0.64 GB; loading holds a dataset about twice (file arrays, then the held-out split), so
# 1 GiB keeps a load under ~2 GB: well inside a laptop's memory, far below this machine's.
DEFAULT_MAX_DATASET_BYTES = 1 << 30
_CHUNK = 1 << 20


def max_dataset_bytes() -> int:
    """How many bytes the arrays of one dataset may take: ``$MNIST_MAX_DATASET_BYTES`` or
    1 GiB. Read afresh on each call, so tests and scripts can change it."""
    value = os.environ.get(MAX_BYTES_ENV_VAR, "").strip()
    if not value:
        return DEFAULT_MAX_DATASET_BYTES
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise DatasetError(
            f"{MAX_BYTES_ENV_VAR} is {value!r}; set it to a positive number of bytes "
            f"(default {DEFAULT_MAX_DATASET_BYTES:,})."
        )
    return limit


def format_bytes(n: int | float) -> str:
    """``"1.0 GiB"``, ``"47.0 MiB"``, ``"1,440 bytes"``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n):,} bytes"


class ByteBudget:
    """The bytes one dataset may still take; every reader of its files claims from it.

    Args:
        limit: bytes for all arrays together; default :func:`max_dataset_bytes`.
    """

    def __init__(self, limit: int | None = None):
        self.limit = max_dataset_bytes() if limit is None else limit
        self.used = 0

    def claim(self, path: str | Path, what: str, nbytes: int, *, shape=None) -> None:
        """Take ``nbytes`` for ``what`` in ``path``, or raise :class:`DatasetError` saying
        the dataset would exceed the limit (``shape``: what the header claimed, if any)."""
        if self.used + nbytes > self.limit:
            claimed = (
                f"claims shape {tuple(shape)} ({format_bytes(nbytes)}), more than"
                if shape is not None
                else "holds more than"
            )
            raise fail(
                path,
                f"{what} {claimed} the {format_bytes(self.limit)} a dataset may take here "
                f"(set {MAX_BYTES_ENV_VAR} to allow more)",
            )
        self.used += nbytes


def claim_array(
    budget: ByteBudget, path: Path, what: str, shape, dtype: np.dtype, *, available: int
) -> int:
    """Bytes an array header claims, taken from ``budget``; refused when the file cannot
    hold that much (``available``: the most it could hold after the header)."""
    nbytes = math.prod(shape) * dtype.itemsize
    budget.claim(path, what, nbytes, shape=shape)
    if nbytes > available:
        raise fail(
            path,
            f"{what} claims shape {tuple(shape)} ({nbytes:,} bytes) "
            f"but the file holds at most {available:,} bytes; it is truncated or corrupt",
        )
    return nbytes


def check_plausible_file(path: Path, kind: str) -> bytes:
    """Refuse missing, empty and HTML files up front; return the first bytes (at most 512)."""
    if not path.is_file():
        raise fail(path, "no such file")
    with path.open("rb") as f:
        head = f.read(512)
    if not head:
        raise fail(path, "the file is empty")
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise fail(
            path,
            f"this is an HTML page, not {kind} (often a failed download or a saved web page)",
        )
    return head


def read_exactly(f, nbytes: int, path: Path, what: str) -> np.ndarray:
    """``nbytes`` bytes of the stream ``f`` as a uint8 array, read in 1 MiB chunks into a
    buffer that grows as they arrive: a stream that ends early costs only what it held."""
    buffer = bytearray()
    while len(buffer) < nbytes:
        chunk = f.read(min(_CHUNK, nbytes - len(buffer)))
        if not chunk:
            raise fail(
                path, f"{what} is truncated: expected {nbytes:,} bytes, found {len(buffer):,}"
            )
        buffer += chunk
    return np.frombuffer(buffer, dtype=np.uint8)
