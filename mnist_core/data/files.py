"""Readers for dataset files: ``.npz`` archives, IDX files (raw or gzip) and Kaggle-style CSV.

Each reader returns plain arrays and raises :class:`DatasetError` for anything it cannot
read, with one sentence that names the file and the problem. No reader trusts a size that
a header claims: the claim is checked against what the file can hold before any memory
is allocated, and ``.npz`` archives are never unpickled.
"""

from __future__ import annotations

import gzip
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

# A generous ceiling for one array: MNIST's training images take 47 MB.
MAX_ARRAY_BYTES = 2 * 1024**3
# Deflate cannot compress better than about 1032:1, so a claim beyond this ratio is a lie.
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# IDX type codes (third byte of the magic number) and the dtypes they stand for.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetError(ValueError):
    """A dataset source that cannot be used. ``str(error)`` is one sentence for the user."""


def fail(path: str | Path, problem: str) -> DatasetError:
    """A :class:`DatasetError` whose message names the file: ``"<name>: <problem>."``."""
    return DatasetError(f"{Path(path).name}: {problem}.")


def _check_plausible_file(path: Path, kind: str) -> bytes:
    """Refuse missing, empty and HTML files up front; return the first bytes."""
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


def _read_bounded(f, nbytes: int, path: Path, what: str) -> np.ndarray:
    """Read exactly ``nbytes`` bytes from ``f`` into a uint8 array, chunk by chunk."""
    out = np.empty(nbytes, dtype=np.uint8)
    view = memoryview(out)
    pos = 0
    while pos < nbytes:
        chunk = f.read(min(_CHUNK, nbytes - pos))
        if not chunk:
            raise fail(path, f"{what} is truncated: expected {nbytes:,} bytes, found {pos:,}")
        view[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    return out


def _check_claim(path: Path, what: str, shape, dtype: np.dtype, available: int) -> int:
    """Bytes a header claims, refused when it exceeds what the file could hold."""
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise fail(
            path,
            f"{what} claims shape {tuple(shape)} ({nbytes / 2**30:,.1f} GiB), "
            f"more than the {MAX_ARRAY_BYTES / 2**30:.0f} GiB limit",
        )
    if nbytes > available:
        raise fail(
            path,
            f"{what} claims shape {tuple(shape)} ({nbytes:,} bytes) "
            f"but the file holds at most {available:,} bytes; it is truncated or corrupt",
        )
    return nbytes


# --------------------------------------------------------------------------- npz


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a Keras-layout ``.npz`` file, without unpickling anything.

    Returns a dict with ``x_train`` and ``y_train`` and, when both are present, ``x_test``
    and ``y_test``. Other keys are ignored.
    """
    path = Path(path)
    head = _check_plausible_file(path, "an .npz archive")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        if head.startswith(b"PK\x03\x04"):
            raise fail(path, "the .npz archive is truncated or damaged (its zip index is missing)") from None
        raise fail(path, "this is not an .npz archive (it is not a zip file)") from None
    with archive:
        members = {
            info.filename.removesuffix(".npy"): info
            for info in archive.infolist()
            if info.filename.endswith(".npy")
        }
        found = ", ".join(sorted(members)) or "no arrays"
        required = ["x_train", "y_train"]
        if "x_test" in members or "y_test" in members:
            required += ["x_test", "y_test"]
        missing = [key for key in required if key not in members]
        if missing:
            raise fail(
                path,
                f"missing array {', '.join(repr(k) for k in missing)} "
                f"(found {found}; expected {', '.join(NPZ_KEYS)})",
            )
        file_size = path.stat().st_size
        return {
            key: _read_npy_member(path, archive, members[key], key, file_size)
            for key in required
        }


def _read_npy_member(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, file_size: int
) -> np.ndarray:
    what = f"array {key!r}"
    if info.compress_size > file_size:
        raise fail(path, f"{what} claims more bytes than the file holds; it is truncated")
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
            if dtype.hasobject:
                raise fail(
                    path,
                    f"{what} holds Python objects (a pickled array), "
                    "which are never loaded; save plain numeric arrays instead",
                )
            available = min(info.file_size - f.tell(), info.compress_size * ratio)
            nbytes = _check_claim(path, what, shape, dtype, available)
            raw = _read_bounded(f, nbytes, path, what)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise fail(path, f"{what} cannot be read ({exc})") from None
    except ValueError as exc:
        if isinstance(exc, DatasetError):
            raise
        raise fail(path, f"{what} is not a valid .npy array ({exc})") from None
    array = raw.view(dtype)
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


# --------------------------------------------------------------------------- IDX


def read_idx(path: str | Path) -> np.ndarray:
    """The array in one IDX file (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels), raw or gzip."""
    path = Path(path)
    head = _check_plausible_file(path, "an IDX file")
    file_size = path.stat().st_size
    is_gzip = head[:2] == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if is_gzip else path.open("rb")) as f:
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
            available = (
                file_size * _MAX_DEFLATE_RATIO if is_gzip else file_size - header_size
            )
            nbytes = _check_claim(path, "the IDX header", shape, dtype, available)
            raw = _read_bounded(f, nbytes, path, "the IDX data")
    except EOFError:
        raise fail(path, "the gzip stream is truncated (the file was cut short)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise fail(path, f"this is not a valid gzip file ({exc})") from None
    return raw.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


_IDX_ROLES = {
    "x_train": re.compile(r"^train-images.*idx3-ubyte(\.gz)?$"),
    "y_train": re.compile(r"^train-labels.*idx1-ubyte(\.gz)?$"),
    "x_test": re.compile(r"^(t10k|test)-images.*idx3-ubyte(\.gz)?$"),
    "y_test": re.compile(r"^(t10k|test)-labels.*idx1-ubyte(\.gz)?$"),
}


def is_idx_name(name: str) -> bool:
    """Whether a file name looks like an IDX file (``...-idx3-ubyte`` or ``...-idx1-ubyte[.gz]``)."""
    return re.search(r"idx[13]-ubyte(\.gz)?$", name) is not None


def read_idx_folder(folder: str | Path) -> dict[str, np.ndarray]:
    """The arrays of the MNIST-named IDX files in ``folder``.

    Needs ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (optionally ``.gz``);
    ``t10k-``/``test-`` images and labels are read when both are present.
    """
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
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
    return {role: read_idx(p) for role, p in files.items()}


# --------------------------------------------------------------------------- CSV

_CSV_WIDTH_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, side, side)`` as float64 and labels ``(n,)`` from a Kaggle digit-recognizer CSV.

    The header must be ``label,pixel0,...,pixelN`` with ``N + 1`` a square number.
    """
    import pandas as pd  # lazy: only CSV needs it

    path = Path(path)
    head = _check_plausible_file(path, "a CSV file")
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    columns = [c.strip().strip('"') for c in first_line.split(",")]
    n_pixels = len(columns) - 1
    expected = ["label"] + [f"pixel{i}" for i in range(n_pixels)]
    if n_pixels < 1 or columns != expected:
        shown = first_line if len(first_line) <= 40 else first_line[:40] + "..."
        raise fail(
            path,
            f"the first line must be the header 'label,pixel0,...,pixelN' "
            f"(Kaggle digit-recognizer layout), not '{shown}'",
        )
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise fail(path, f"{n_pixels} pixel columns do not make a square image")
    try:
        frame = pd.read_csv(path, header=0, engine="c", low_memory=False)
    except pd.errors.ParserError as exc:
        match = _CSV_WIDTH_ERROR.search(str(exc))
        if match:
            want, line, saw = match.groups()
            raise fail(path, f"line {line} has {saw} values but the header has {want}") from None
        raise fail(path, f"cannot be parsed as CSV ({exc})") from None
    except UnicodeDecodeError:
        raise fail(path, "this is not a text CSV file") from None
    if frame.empty:
        raise fail(path, "the CSV has a header but no rows")
    for column in frame.columns:
        if frame[column].dtype.kind not in "iufb":
            numeric = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column][numeric.isna() & frame[column].notna()]
            if len(bad):
                row = int(bad.index[0])
                raise fail(
                    path,
                    f"line {row + 2}, column {column}, holds {str(bad.iloc[0])!r}, not a number",
                )
            frame[column] = numeric
    short_rows = np.flatnonzero(frame.isna().to_numpy().any(axis=1))
    if len(short_rows):
        row = int(short_rows[0])
        n_values = int(frame.iloc[row].notna().sum())
        raise fail(
            path,
            f"line {row + 2} has {n_values} values but the header has {len(columns)}",
        )
    values = frame.to_numpy(dtype=np.float64)
    return values[:, 1:].reshape(-1, side, side), values[:, 0]
