"""Reader of IDX files (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels, raw or gzip), one at
a time or as the MNIST-named set of a folder; and the IDX encoding of an array, whose
checksum identifies a published dataset whatever file it came in."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from mnist_core.data.errors import fail
from mnist_core.data.files import ByteBudget, check_plausible_file, claim_array, read_exactly
from mnist_core.data.npz import MAX_DEFLATE_RATIO

# IDX type codes (third byte of the magic number) and the dtypes they stand for.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_IDX_ROLES = {
    "x_train": re.compile(r"^train-images.*idx3-ubyte(\.gz)?$"),
    "y_train": re.compile(r"^train-labels.*idx1-ubyte(\.gz)?$"),
    "x_test": re.compile(r"^(t10k|test)-images.*idx3-ubyte(\.gz)?$"),
    "y_test": re.compile(r"^(t10k|test)-labels.*idx1-ubyte(\.gz)?$"),
}


def read_idx(path: str | Path, *, budget: ByteBudget | None = None) -> np.ndarray:
    """The array in one IDX file, raw or gzip.

    The header's shape is checked against the dataset's byte budget and against what the
    file could hold before anything is read; the data is then decompressed chunk by chunk.

    Raises:
        DatasetError: one sentence naming the file and the problem.
    """
    path = Path(path)
    budget = budget or ByteBudget()
    head = check_plausible_file(path, "an IDX file")
    file_size = path.stat().st_size
    is_gzip = head[:2] == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if is_gzip else path.open("rb") as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise fail(path, "the file is too short to be an IDX file")
            if magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES or not 1 <= magic[3] <= 4:
                raise fail(
                    path,
                    f"bad IDX magic number 0x{magic.hex()} "
                    "(expected 0x00000803 for images or 0x00000801 for labels)",
                )
            dtype, ndim = _IDX_DTYPES[magic[2]], magic[3]
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise fail(path, "the IDX header is truncated")
            shape = struct.unpack(f">{ndim}I", dims_raw)
            header_size = 4 + 4 * ndim
            available = file_size * MAX_DEFLATE_RATIO if is_gzip else file_size - header_size
            nbytes = claim_array(budget, path, "the IDX header", shape, dtype, available=available)
            raw = read_exactly(f, nbytes, path, "the IDX data")
    except EOFError:
        raise fail(path, "the gzip stream is truncated (the file was cut short)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise fail(path, f"this is not a valid gzip file ({exc})") from None
    return raw.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def is_idx_name(name: str) -> bool:
    """Whether a file name looks like an IDX file (``...-idx3-ubyte`` or ``...-idx1-ubyte[.gz]``)."""
    return re.search(r"idx[13]-ubyte(\.gz)?$", name) is not None


def read_idx_folder(
    folder: str | Path, *, budget: ByteBudget | None = None
) -> dict[str, np.ndarray]:
    """The arrays of the MNIST-named IDX files in ``folder``.

    Needs ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (optionally ``.gz``);
    ``t10k-``/``test-`` images and labels are read when both are present. All four share
    one byte budget.
    """
    folder = Path(folder)
    budget = budget or ByteBudget()
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    files: dict[str, Path] = {}
    for role, pattern in _IDX_ROLES.items():
        matches = [n for n in names if pattern.match(n)]
        if len(matches) > 1:
            raise fail(folder, f"several files could be the {role} IDX file: {', '.join(matches)}")
        if matches:
            files[role] = folder / matches[0]
    if "x_train" not in files or "y_train" not in files:
        raise fail(
            folder,
            "needs train-images-idx3-ubyte and train-labels-idx1-ubyte (optionally .gz); "
            f"found {', '.join(names) or 'no files'}",
        )
    if ("x_test" in files) != ("y_test" in files):
        have, lack = ("images", "labels") if "x_test" in files else ("labels", "images")
        raise fail(folder, f"has test {have} but no test {lack} IDX file")
    return {role: read_idx(p, budget=budget) for role, p in files.items()}


def idx_sha256(array: np.ndarray) -> str | None:
    """SHA-256 of ``array`` written as an uncompressed IDX file, or None if it is not uint8.

    Publishers give the checksums of these files, so this identifies an array whatever
    container (gzip, npz, another IDX writer) it arrived in. Hashes in place, no copy.
    """
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 4:
        return None
    digest = hashlib.sha256(bytes([0, 0, 0x08, array.ndim]))
    digest.update(struct.pack(f">{array.ndim}I", *array.shape))
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()
