"""Downloads of named datasets into the cache: checksum verified, never half-written, and
(for the Streamlit server) in a child process so the caller never imports TensorFlow."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from mnist_core import paths
from mnist_core.data.errors import DatasetError
from mnist_core.data.named import NamedDataset, named_dataset
from mnist_core.diskcache import storage_error

# Points every download at a mirror (or, in tests, a server on 127.0.0.1).
BASE_URL_ENV_VAR = "MNIST_DATASETS_URL"
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def fetch(name: str, *, base_url: str | None = None, in_subprocess: bool = False) -> list[Path]:
    """Download the files of a named dataset into the cache, once; return their paths.

    Files go through ``keras.utils.get_file`` into a temporary folder, are checked against
    their published checksum, and only then move into place, so an interrupted or corrupt
    download leaves nothing behind. Files already cached are not fetched again.

    Args:
        name: a key of :data:`NAMED_DATASETS` that has files (not ``"digits"``).
        base_url: where to fetch from (an http or https URL); defaults to
            ``$MNIST_DATASETS_URL`` or the Keras bucket.
        in_subprocess: run the download in a child Python process, so the calling process
            never imports TensorFlow (the Streamlit server uses this).

    Raises:
        DatasetError: the URL is not http(s), the download failed or a checksum did not match.
        StorageError: the cache folder is full or read-only (one sentence naming it).
    """
    named = named_dataset(name)
    if not named.downloadable:
        raise DatasetError(f"{name}: this dataset is bundled and needs no download.")
    base_url = _checked_base_url(named, base_url)
    if in_subprocess:
        return _fetch_in_subprocess(named, base_url)
    targets = named.local_paths()
    missing = [(f, t) for f, t in zip(named.files, targets) if not t.is_file()]
    if not missing:
        return targets
    try:
        _download(named, missing, base_url)
    except OSError as exc:  # the cache folder, not the network (get_file wraps those)
        target = missing[0][1]
        failed = Path(exc.filename) if exc.filename else target
        # A folder that could not be made: name the file that was to go in it.
        raise storage_error(exc, target if target.is_relative_to(failed) else failed) from None
    return targets


def _checked_base_url(named: NamedDataset, base_url: str | None) -> str:
    if base_url is not None:
        where, value = "The download URL", base_url
    elif os.environ.get(BASE_URL_ENV_VAR):
        where, value = f"{BASE_URL_ENV_VAR}", os.environ[BASE_URL_ENV_VAR]
    else:
        return named.base_url
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DatasetError(
            f"{where} {value!r} is not a valid http(s) URL; pass one like {named.base_url}."
        )
    return value


def _download(named: NamedDataset, missing: list, base_url: str) -> None:
    folder = missing[0][1].parent
    folder.mkdir(parents=True, exist_ok=True)
    from keras.utils import get_file  # lazy: imports TensorFlow, seconds and hundreds of MB

    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        downloaded = []
        for remote, target in missing:
            url = base_url.rstrip("/") + "/" + remote.name
            try:
                path = get_file(
                    remote.name, origin=url, file_hash=remote.checksum,
                    cache_dir=tmp, cache_subdir="",
                )  # fmt: skip
            except ValueError:
                raise DatasetError(
                    f"{remote.name}: the file downloaded from {url} does not match its "
                    "published checksum, so it was discarded (nothing was saved)."
                ) from None
            except OSError as exc:
                if exc.errno in _STORAGE_ERRNOS:
                    raise  # a full or read-only disk: the caller names the folder
                raise DatasetError(  # the connection broke or timed out while reading
                    f"{remote.name}: could not download {named.title} from {url} "
                    f"({exc.strerror or exc})."
                ) from None
            except Exception as exc:  # get_file wraps every other network error in Exception
                # get_file words it "URL fetch failure on URL: CODE -- MESSAGE".
                code, _, text = str(exc).split(f"{url}: ", 1)[-1].partition(" -- ")
                reason = f"HTTP {code} {text}" if code.isdigit() else (text or code)
                raise DatasetError(
                    f"{remote.name}: could not download {named.title} from {url} ({reason})."
                ) from None
            downloaded.append((Path(path), target))
        for path, target in downloaded:
            os.replace(path, target)


def _fetch_in_subprocess(named: NamedDataset, base_url: str) -> list[Path]:
    command = [sys.executable, "-m", "mnist_core", "fetch", named.name, "--base-url", base_url]
    project_root = str(paths.PROJECT_ROOT)
    pythonpath = os.pathsep.join(filter(None, [project_root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise DatasetError(lines[-1] if lines else f"{named.name}: the download process failed.")
    return named.local_paths()
