"""Files written atomically (write, then rename) and arrays cached on disk: computed once,
recomputed when missing or damaged."""

from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def save_arrays_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to the ``.npz`` at ``path`` so readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved at ``path``, or None when the file is missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def cached_arrays(
    path: Path, compute: Callable[[], dict[str, np.ndarray]], *, keys: set[str]
) -> dict[str, np.ndarray]:
    """Arrays from ``path`` if it holds a readable cache with exactly ``keys``, else
    ``compute()``, saved there."""
    arrays = load_arrays(path)
    if arrays is None or set(arrays) != keys:
        arrays = compute()
        save_arrays_atomic(path, arrays)
    return arrays


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` so readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_array_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` to ``path`` so readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StorageError(OSError):
    """A file that could not be written or read, with one sentence for the user that names
    the folder and the cause (a full disk, a read-only folder, ...)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def storage_error(exc: OSError, path: str | os.PathLike) -> StorageError:
    """``exc`` as a :class:`StorageError` whose message names ``path``'s folder and the cause.

    >>> str(storage_error(OSError(errno.ENOSPC, "No space left on device"), "/c/runs/x/model.keras"))
    'The disk holding /c/runs/x is full: model.keras could not be written (No space left on device).'
    """
    if isinstance(exc, StorageError):
        return exc
    path = Path(path)
    folder, name = path.parent, path.name
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        text = f"The disk holding {folder} is full: {name} could not be written ({reason})."
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        text = f"The folder {folder} is read-only here: {name} could not be written ({reason})."
    else:
        text = f"{path} could not be written or read ({reason})."
    return StorageError(exc.errno, text)


_STORAGE_MESSAGES = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
}


def storage_error_in_message(exc: BaseException, directory: str | os.PathLike) -> StorageError | None:
    """A full or read-only disk reported by a library that raises its own error type rather than
    an ``OSError``: TensorFlow's file writers raise ``ResourceExhaustedError`` with the message
    ``"<path>; No space left on device"``. None when the message names no such cause.

    >>> str(storage_error_in_message(RuntimeError("/c/runs/x/tb/ev.1; No space left on device"), "/c"))
    'The disk holding /c/runs/x/tb is full: ev.1 could not be written (No space left on device).'
    """
    message = str(exc)
    for reason, number in _STORAGE_MESSAGES.items():
        if reason in message:
            head = message.split(reason)[0].strip().rstrip(";:,").strip()
            path = head if head.startswith(os.sep) else os.path.join(os.fspath(directory), "?")
            return storage_error(OSError(number, reason), path)
    return None


def disk_is_full(path: str | os.PathLike, *, margin: int = 64 * 1024) -> bool:
    """Whether the file system holding ``path`` has less than ``margin`` bytes free."""
    import shutil

    try:
        return shutil.disk_usage(path).free < margin
    except OSError:
        return False


def remove_temporaries(folder: Path) -> None:
    """Remove the temporary files an interrupted atomic write left in ``folder``."""
    for pattern in (".*-*.npz", ".*-*.npy", ".*-*.json"):
        for leftover in Path(folder).glob(pattern):
            leftover.unlink(missing_ok=True)
