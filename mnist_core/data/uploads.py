"""Files users upload in the app, kept in ``<cache>/uploads/<hash>/`` beside a small info file
(``.upload.json``) that says what to call the upload and, once a user names them, its classes.

The folder is named by a hash of the content so the same files uploaded twice are kept once;
people never see the hash: an upload is called after its files, after the published dataset
it turned out to be (see :func:`mnist_core.data.named.recognise`), or what the user named it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mnist_core import paths
from mnist_core.data.errors import DatasetError
from mnist_core.diskcache import storage_error, write_json_atomic

INFO_FILE = ".upload.json"
MAX_TITLE_LENGTH = 80
MAX_CLASS_NAME_LENGTH = 40
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class UploadInfo:
    """What an upload is called.

    Attributes:
        title: its name for people.
        files: the uploaded file names, as the user's browser gave them.
        class_names: one name per class, when the user named them; else None.
        named_by: ``"files"`` (after its files), ``"recognised"`` (a published dataset) or
            ``"user"``.
    """

    title: str
    files: tuple[str, ...]
    class_names: tuple[str, ...] | None = None
    named_by: str = "files"


def save_upload(files: list[tuple[str, bytes]]) -> Path:
    """Keep uploaded files in ``<cache>/uploads/<hash>/`` and return the path to load.

    ``files`` is a list of ``(file name, content)``; several files are IDX files of one
    dataset. Uploading the same files again reuses the folder (and what it was named).
    Returns the single file's path, or the folder for several files.

    Raises:
        DatasetError: no file was given.
        StorageError: the uploads folder is full or read-only (one sentence naming it).
    """
    if not files:
        raise DatasetError("No file was uploaded.")
    digest = hashlib.sha256()
    safe = []
    for name, content in sorted(files):
        clean = _SAFE_NAME.sub("_", Path(name).name).lstrip(".") or "upload"
        digest.update(clean.encode() + b"\0" + hashlib.sha256(content).digest())
        safe.append((clean, content))
    root = paths.uploads_dir()
    folder = root / digest.hexdigest()[:16]
    if not folder.is_dir():
        originals = tuple(Path(name).name for name, _ in sorted(files))
        info = UploadInfo(default_title(originals), originals)
        writing = root / safe[0][0]
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=".upload-"))
            try:
                for clean, content in safe:
                    writing = root / clean
                    (tmp / clean).write_bytes(content)
                writing = root / INFO_FILE
                (tmp / INFO_FILE).write_text(json.dumps(asdict(info), indent=1))
                os.replace(tmp, folder)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                if not folder.is_dir():  # else another session saved the same upload first
                    raise
        except OSError as exc:
            raise storage_error(exc, writing) from None
    return folder / safe[0][0] if len(safe) == 1 else folder


def list_uploads() -> list[Path]:
    """Loadable paths of earlier uploads, newest first (see :func:`save_upload`)."""
    root = paths.uploads_dir()
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    result = []
    for folder in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True):
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        if len(files) == 1:
            result.append(files[0])
        elif files:
            result.append(folder)
    return result


def upload_folder(path: str | os.PathLike) -> Path | None:
    """The upload folder that holds ``path`` (an upload's file or folder), or None when
    ``path`` is not an upload."""
    root = paths.uploads_dir().resolve()
    path = Path(path).resolve()
    if not path.is_relative_to(root) or path == root:
        return None
    return root / path.relative_to(root).parts[0]


def upload_info(path: str | os.PathLike) -> UploadInfo | None:
    """What the upload at ``path`` is called, or None when ``path`` is not an upload.

    An upload saved before info files existed, or whose info file is damaged, is called
    after its files."""
    folder = upload_folder(path)
    if folder is None:
        return None
    try:
        data = json.loads((folder / INFO_FILE).read_text())
        return UploadInfo(
            title=str(data["title"]),
            files=tuple(map(str, data["files"])),
            class_names=tuple(map(str, data["class_names"])) if data.get("class_names") else None,
            named_by=str(data.get("named_by", "files")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        names = tuple(sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")))
        return UploadInfo(default_title(names) if names else folder.name, names)


def remember_title(path: str | os.PathLike, title: str) -> UploadInfo:
    """Call a not yet user-named upload ``title`` (the published dataset it turned out to be)."""
    info = _require_info(path)
    if info.named_by == "user" or info.title == title:
        return info
    return _write_info(path, UploadInfo(title, info.files, info.class_names, "recognised"))


def name_upload(
    path: str | os.PathLike, *, title: str, class_names: Sequence[str], n_classes: int
) -> UploadInfo:
    """Name the upload at ``path`` and its ``n_classes`` classes, as the user typed them.

    Raises:
        DatasetError: a name is empty, too long, repeated, holds control characters or
            ``<``/``>``, or there are not ``n_classes`` class names (one sentence).
        StorageError: the info file cannot be written.
    """
    info = _require_info(path)
    title = _checked_name(title, "The name", MAX_TITLE_LENGTH)
    names = [_checked_name(n, f"Class name {n.strip()!r}", MAX_CLASS_NAME_LENGTH) for n in class_names]
    if len(names) != n_classes:
        raise DatasetError(
            f"Give {n_classes} class names, one per label 0 to {n_classes - 1}; "
            f"got {len(names)}."
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DatasetError(f"Class names must differ; {repeated[0]!r} is given twice.")
    return _write_info(path, UploadInfo(title, info.files, tuple(names), "user"))


def parse_class_names(text: str) -> list[str]:
    """Class names typed one per line, or on one line separated by commas."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) == 1:
        lines = [part.strip() for part in lines[0].split(",")]
    return [line for line in lines if line]


def default_title(file_names: Sequence[str]) -> str:
    """An upload called after its files: ``"train.csv"``, ``"a.gz and 3 more files"``."""
    first = _shorten(file_names[0], MAX_TITLE_LENGTH - 20)
    if len(file_names) == 1:
        return first
    more = len(file_names) - 1
    return f"{first} and {more} more file{'s' if more > 1 else ''}"


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _checked_name(text: str, what: str, max_length: int) -> str:
    name = str(text).strip()
    if not name:
        raise DatasetError(f"{what} is empty; type at least one letter.")
    if len(name) > max_length:
        raise DatasetError(f"{what} has {len(name)} characters; at most {max_length} fit.")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise DatasetError(f"{what} holds control characters; use plain text.")
    if "<" in name or ">" in name:
        raise DatasetError(f"{what} holds < or >, which charts would read as markup.")
    return name


def _require_info(path: str | os.PathLike) -> UploadInfo:
    info = upload_info(path)
    if info is None:
        raise DatasetError(f"{Path(path).name}: not an upload, so it cannot be renamed here.")
    return info


def _write_info(path: str | os.PathLike, info: UploadInfo) -> UploadInfo:
    target = upload_folder(path) / INFO_FILE
    try:
        write_json_atomic(target, asdict(info))
    except OSError as exc:
        raise storage_error(exc, target) from None
    return info
