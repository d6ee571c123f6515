"""The real download path (keras.utils.get_file) against files served on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_core.data import DatasetError, fetch, is_cached, load_dataset
from mnist_core.data import named as datasets
from tests.conftest import ROOT, tiny_arrays
from tests.helpers import write_idx_folder


class _Server:
    """A static file server on a free port of 127.0.0.1 that counts its requests."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    server = _Server(folder)
    yield folder, server
    server.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served_mnist(served, monkeypatch):
    """A small mnist.npz on the server, registered under the checksum it really has."""
    folder, server = served
    path = folder / "mnist.npz"
    np.savez_compressed(path, **tiny_arrays())
    mnist = datasets.NAMED_DATASETS["mnist"]
    patched = dataclasses.replace(
        mnist, files=(datasets.RemoteFile("mnist.npz", _sha256(path)),), base_url=server.url
    )
    monkeypatch.setitem(datasets.NAMED_DATASETS, "mnist", patched)
    monkeypatch.delenv("MNIST_DATASETS_URL")
    return path, server


def test_good_file_is_downloaded_once_and_cached(served_mnist, cache_dir):
    source, server = served_mnist
    assert not is_cached("mnist")
    dataset = load_dataset("mnist")
    assert server.requests == ["/mnist.npz"]
    cached = cache_dir / "datasets" / "mnist.npz"
    assert cached.read_bytes() == source.read_bytes()
    np.testing.assert_array_equal(dataset.x_train, tiny_arrays()["x_train"])
    # A second load, and a second fetch, read the cache and send no request.
    load_dataset("mnist")
    assert fetch("mnist") == [cached]
    assert server.requests == ["/mnist.npz"]
    assert sorted(p.name for p in (cache_dir / "datasets").iterdir()) == ["mnist.npz"]


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing(served_mnist, cache_dir, monkeypatch):
    source, server = served_mnist
    source.write_bytes(source.read_bytes() + b"tampered")
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist")
    assert str(info.value) == (
        f"mnist.npz: the file downloaded from {server.url}mnist.npz does not match its "
        "published checksum, so it was discarded (nothing was saved)."
    )
    assert server.requests == ["/mnist.npz"]
    assert list((cache_dir / "datasets").iterdir()) == []
    assert not is_cached("mnist")


def test_unreachable_server_is_one_sentence(cache_dir):
    # conftest points MNIST_DATASETS_URL at 127.0.0.1:9, where nothing listens.
    with pytest.raises(DatasetError) as info:
        fetch("mnist")
    message = str(info.value)
    assert message.startswith(
        "mnist.npz: could not download MNIST handwritten digits from http://127.0.0.1:9/mnist.npz ("
    )
    assert message.endswith(").") and "\n" not in message
    assert list((cache_dir / "datasets").iterdir()) == []


def test_missing_file_on_server(served_mnist, cache_dir):
    source, server = served_mnist
    source.unlink()
    with pytest.raises(DatasetError, match=r"^mnist.npz: could not download .*\(HTTP 404 File not found\)\.$"):
        fetch("mnist")
    assert not is_cached("mnist")


def test_fashion_mnist_downloads_its_four_files(served, monkeypatch, cache_dir):
    folder, server = served
    arrays = tiny_arrays()
    write_idx_folder(folder, arrays, compress=True)
    fashion = datasets.NAMED_DATASETS["fashion_mnist"]
    files = tuple(
        datasets.RemoteFile(f.name, hashlib.md5(( folder / f.name).read_bytes()).hexdigest())
        for f in fashion.files
    )
    monkeypatch.setitem(
        datasets.NAMED_DATASETS, "fashion_mnist", dataclasses.replace(fashion, files=files)
    )
    fetch("fashion_mnist", base_url=server.url)
    assert sorted(server.requests) == sorted("/" + f.name for f in files)
    dataset = load_dataset("fashion_mnist", download=False)
    np.testing.assert_array_equal(dataset.x_test, arrays["x_test"])
    assert sorted(p.name for p in (cache_dir / "datasets" / "fashion-mnist").iterdir()) == sorted(
        f.name for f in files
    )


def test_fetch_in_subprocess_reports_the_same_sentence(cache_dir):
    with pytest.raises(DatasetError) as info:
        fetch("mnist", in_subprocess=True)
    assert str(info.value).startswith("mnist.npz: could not download MNIST handwritten digits")


# --------------------------------------------------------------------------- bad URLs, bad disks


@pytest.mark.parametrize("url", ["notaurl", "ftp://host/data/", "http://", "file:///tmp/x", "127.0.0.1:8000"])
def test_a_base_url_that_is_not_http_is_refused_before_anything_happens(url, cache_dir):
    with pytest.raises(DatasetError) as info:
        fetch("mnist", base_url=url)
    assert str(info.value) == (
        f"The download URL {url!r} is not a valid http(s) URL; pass one like "
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/."
    )
    assert not (cache_dir / "datasets").exists()


def test_a_bad_mirror_in_the_environment_is_named(monkeypatch, cache_dir):
    monkeypatch.setenv("MNIST_DATASETS_URL", "mirror.local/datasets")
    with pytest.raises(DatasetError) as info:
        fetch("fashion_mnist")
    assert str(info.value) == (
        "MNIST_DATASETS_URL 'mirror.local/datasets' is not a valid http(s) URL; pass one like "
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/."
    )


def _cli(*args, env=None):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "mnist_core", *args], capture_output=True, text=True,
        cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300,
    )  # fmt: skip


def test_cli_fetch_with_a_bad_base_url_exits_2_with_one_true_sentence(cache_dir):
    result = _cli("fetch", "mnist", "--base-url", "notaurl")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "The download URL 'notaurl' is not a valid http(s) URL; pass one like "
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/.\n"
    )


def test_fetch_into_a_read_only_cache_names_the_folder(served_mnist, cache_dir, read_only):
    read_only(cache_dir)
    with pytest.raises(OSError) as info:
        fetch("mnist")
    folder = cache_dir / "datasets"
    assert str(info.value) == (
        f"The folder {folder} is read-only here: mnist.npz could not be written "
        "(Read-only file system)."
    )


def test_cli_fetch_and_load_on_a_full_disk_say_so_and_leave_nothing(served_mnist, small_disk):
    from tests.conftest import fill_disk

    source, server = served_mnist
    # Bigger than what is left: the download itself runs out of space.
    np.savez(source, **tiny_arrays(n_train=4000, side=28))
    patched = dataclasses.replace(
        datasets.NAMED_DATASETS["mnist"], files=(datasets.RemoteFile("mnist.npz", _sha256(source)),)
    )
    datasets.NAMED_DATASETS["mnist"] = patched
    (small_disk / "datasets").mkdir()
    fill_disk(small_disk)
    (small_disk / ".filler").unlink()  # leave ~2 MB: less than the 3.2 MB file
    env = {"MNIST_CACHE_DIR": str(small_disk)}
    for command in (["fetch", "mnist", "--base-url", server.url], ["load", "mnist"]):
        result = _run_with_registry(command, env, patched, server.url)
        assert result.returncode == 2, result.stderr
        # TensorFlow (imported by keras.utils.get_file) logs a few lines first; ours is last.
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last == (
            f"The disk holding {small_disk / 'datasets'} is full: mnist.npz could not be "
            "written (No space left on device)."
        )
        leftovers = [p.name for p in (small_disk / "datasets").iterdir()]
        assert leftovers == [], leftovers


def _run_with_registry(command, env, patched, url):
    """The CLI in a child process whose registry has the test's checksum for mnist.npz."""
    import os
    import subprocess
    import sys

    script = (
        "import dataclasses, sys\n"
        "from mnist_core.data import named\n"
        f"named.NAMED_DATASETS['mnist'] = dataclasses.replace(named.NAMED_DATASETS['mnist'], "
        f"files=(named.RemoteFile('mnist.npz', {patched.files[0].checksum!r}),), base_url={url!r})\n"
        "from mnist_core.__main__ import main\n"
        f"sys.exit(main({command!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **env, "MNIST_DATASETS_URL": ""}, timeout=300,
    )  # fmt: skip


def test_cli_load_of_a_missing_dataset_in_a_read_only_cache_is_one_sentence(cache_dir, read_only, tiny_npz):
    read_only(cache_dir)
    result = _cli("load", "mnist")
    assert result.returncode == 2 and result.stdout == ""
    folder = cache_dir / "datasets"
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"The folder {folder} is read-only here: mnist.npz could not be written "
        "(Read-only file system)."
    )
    # Loading a file needs no cache at all.
    result = _cli("load", str(tiny_npz))
    assert result.returncode == 0 and json.loads(result.stdout)["train_shape"] == [40, 6, 6]
