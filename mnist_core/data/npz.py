"""Reader of ``.npz`` archives in the Keras layout (``x_train, y_train, x_test, y_test``),
without unpickling anything and without trusting the sizes the archive claims."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from mnist_core.data.errors import DatasetError, fail
from mnist_core.data.files import ByteBudget, check_plausible_file, claim_array, read_exactly

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# Deflate cannot compress better than about 1032:1, so a claim beyond this ratio is a lie.
MAX_DEFLATE_RATIO = 1100


def read_npz(path: str | Path, *, budget: ByteBudget | None = None) -> dict[str, np.ndarray]:
    """Arrays of a Keras-layout ``.npz`` file.

    Returns a dict with ``x_train`` and ``y_train`` and, when both are present, ``x_test``
    and ``y_test``. Other keys are ignored.

    Args:
        path: the archive.
        budget: the bytes the dataset may take (default: a fresh :class:`ByteBudget`).

    Raises:
        DatasetError: one sentence naming the file and the problem.
    """
    path = Path(path)
    budget = budget or ByteBudget()
    head = check_plausible_file(path, "an .npz archive")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        if head.startswith(b"PK\x03\x04"):
            raise fail(
                path, "the .npz archive is truncated or damaged (its zip index is missing)"
            ) from None
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
            key: _read_member(path, archive, members[key], key, file_size, budget)
            for key in required
        }


def _read_member(
    path: Path,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    key: str,
    file_size: int,
    budget: ByteBudget,
) -> np.ndarray:
    what = f"array {key!r}"
    if info.compress_size > file_size:
        raise fail(path, f"{what} claims more bytes than the file holds; it is truncated")
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
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
            nbytes = claim_array(budget, path, what, shape, dtype, available=available)
            raw = read_exactly(f, nbytes, path, what)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise fail(path, f"{what} cannot be read ({exc})") from None
    except ValueError as exc:
        if isinstance(exc, DatasetError):
            raise
        raise fail(path, f"{what} is not a valid .npy array ({exc})") from None
    array = raw.view(dtype)
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)
