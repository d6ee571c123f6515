"""What a dataset may cost in memory: a header's claim is capped, decompression grows only
with the data, and the server's dataset cache is bounded by bytes."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from app.memory_cache import ByteBoundedCache
from mnist_core.data import DatasetError, load_dataset
from tests.conftest import ROOT, tiny_arrays
from tests.helpers import idx_bytes, write_idx_folder

LIE = 2_700_000  # images a 2 MB gzip claims to hold


def _gzip_bomb(path, n_images: int, *, side: int = 28) -> None:
    """An IDX gzip whose header claims ``n_images`` images and whose data really is there:
    zeros, in gzip members of 64 MiB each compressed to ~64 KB (gzip readers concatenate
    members), so ~2 MB on disk decompress to the full ~2 GB."""
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", n_images, side, side)
    block = 64 << 20
    member = gzip.compress(bytes(block), compresslevel=9)
    total = n_images * side * side
    with open(path, "wb") as f:
        f.write(gzip.compress(header))
        for _ in range(total // block):
            f.write(member)
        f.write(gzip.compress(bytes(total % block)))


def _lying_folder(tmp_path, n_images: int, *, truncate_to: int | None = None):
    folder = tmp_path / "lie"
    folder.mkdir()
    images = folder / "train-images-idx3-ubyte.gz"
    if truncate_to is None:
        _gzip_bomb(images, n_images)
    else:  # the claim, then only ``truncate_to`` bytes of real (random) data
        header = bytes([0, 0, 8, 3]) + struct.pack(">3I", n_images, 28, 28)
        data = np.random.default_rng(0).integers(0, 256, truncate_to, dtype=np.uint8).tobytes()
        images.write_bytes(gzip.compress(header + data, compresslevel=1))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(10, np.uint8)))
    return folder


def _load_in_child(folder, env: dict | None = None) -> dict:
    """``python -m mnist_core load FOLDER`` in a fresh interpreter; its exit code, stderr and
    the peak memory (resident and virtual) it reached."""
    script = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from mnist_core.__main__ import main
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["load", {str(folder)!r}])
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        print(json.dumps({{
            "code": code, "stderr": err.getvalue(),
            # VmHWM, not getrusage: Linux carries ru_maxrss over execve from the forking
            # parent (here pytest, large after other tests), VmHWM is this process's own.
            "max_rss_mb": int(status["VmHWM"].split()[0]) / 1024,
            "vm_peak_mb": int(status["VmPeak"].split()[0]) / 1024,
        }}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_2_mb_gzip_claiming_2_7_million_images_is_refused_at_once(tmp_path):
    folder = _lying_folder(tmp_path, LIE)
    assert (folder / "train-images-idx3-ubyte.gz").stat().st_size < 3_000_000
    start = time.perf_counter()
    report = _load_in_child(folder)
    assert report["code"] == 2
    assert report["stderr"] == (
        "train-images-idx3-ubyte.gz: the IDX header claims shape (2700000, 28, 28) (2.0 GiB), "
        "more than the 1.0 GiB a dataset may take here (set MNIST_MAX_DATASET_BYTES to allow "
        "more).\n"
    )
    # Before the cap the CLI decompressed all of it and peaked at 4.2 GB.
    assert report["max_rss_mb"] < 300, report
    assert time.perf_counter() - start < 30


def test_a_claim_within_a_raised_limit_costs_only_the_data_that_is_there(tmp_path):
    """Decompression grows with the bytes that arrive: a 1.9 GB claim backed by 2 MB of
    data never reserves the 1.9 GB, not even as untouched virtual memory."""
    folder = _lying_folder(tmp_path, 2_400_000, truncate_to=2_000_000)
    report = _load_in_child(folder, env={"MNIST_MAX_DATASET_BYTES": str(4 << 30)})
    assert report["code"] == 2
    assert report["stderr"] == (
        "train-images-idx3-ubyte.gz: the IDX data is truncated: expected 1,881,600,000 bytes, "
        "found 2,000,000.\n"
    )
    baseline = _load_in_child(tmp_path / "nothing-here")
    assert report["vm_peak_mb"] - baseline["vm_peak_mb"] < 400, (report, baseline)
    assert report["max_rss_mb"] < 300, report


def test_the_limit_counts_all_arrays_of_a_dataset(tmp_path, monkeypatch):
    path = tmp_path / "tiny.npz"
    np.savez(path, **tiny_arrays())  # x_train 1,440 bytes, y_train 40 (uint8), x_test 360
    monkeypatch.setenv("MNIST_MAX_DATASET_BYTES", "1500")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == (
        "tiny.npz: array 'x_test' claims shape (10, 6, 6) (360 bytes), more than the "
        "1,500 bytes a dataset may take here (set MNIST_MAX_DATASET_BYTES to allow more)."
    )
    monkeypatch.setenv("MNIST_MAX_DATASET_BYTES", "1850")
    assert load_dataset(path).x_test.shape == (10, 6, 6)


def test_the_limit_applies_to_idx_folders_and_csv(tmp_path, monkeypatch):
    from tests.helpers import write_kaggle_csv

    arrays = tiny_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, compress=True)
    csv = write_kaggle_csv(tmp_path / "train.csv", arrays["x_train"], arrays["y_train"])
    # Training images and labels take 1,480 bytes: the test images no longer fit.
    monkeypatch.setenv("MNIST_MAX_DATASET_BYTES", "1700")
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        "t10k-images-idx3-ubyte.gz: the IDX header claims shape (10, 6, 6) (360 bytes), more "
        "than the 1,700 bytes a dataset may take here (set MNIST_MAX_DATASET_BYTES to allow more)."
    )
    # 1,440 bytes of pixels and 320 of int64 labels.
    with pytest.raises(DatasetError) as info:
        load_dataset(csv)
    assert str(info.value) == (
        "train.csv: the CSV holds more than the 1,700 bytes a dataset may take here "
        "(set MNIST_MAX_DATASET_BYTES to allow more)."
    )


@pytest.mark.parametrize("value", ["lots", "-5", "0"])
def test_a_bad_limit_in_the_environment_is_one_sentence(tiny_npz, monkeypatch, value):
    monkeypatch.setenv("MNIST_MAX_DATASET_BYTES", value)
    with pytest.raises(DatasetError) as info:
        load_dataset(tiny_npz)
    assert str(info.value) == (
        f"MNIST_MAX_DATASET_BYTES is {value!r}; set it to a positive number of bytes "
        "(default 1,073,741,824)."
    )


def test_full_mnist_fits_the_default_limit(mnist_npz):
    dataset = load_dataset(mnist_npz)
    assert dataset.nbytes == 70_000 * 784 + 70_000 * 8  # uint8 images, int64 labels


# --------------------------------------------------------------------------- the server's cache


class _Blob:
    def __init__(self, name: str, nbytes: int):
        self.name, self.nbytes = name, nbytes


def _cache(max_bytes: int) -> ByteBoundedCache:
    return ByteBoundedCache(max_bytes, size_of=lambda blob: blob.nbytes)


def test_cache_evicts_the_least_recently_used_to_stay_under_its_bytes():
    cache = _cache(100)
    for name, size in (("a", 40), ("b", 40)):
        cache.get(name, lambda n=name, s=size: _Blob(n, s))
    cache.get("a", lambda: pytest.fail("a is cached"))  # a is now the most recent
    cache.get("c", lambda: _Blob("c", 30))  # 110 > 100: b, the least recent, goes
    assert cache.keys() == ["a", "c"] and cache.nbytes == 70
    cache.get("d", lambda: _Blob("d", 90))  # 190: a goes, then c
    assert cache.keys() == ["d"] and cache.nbytes == 90


def test_cache_keeps_one_value_larger_than_its_bound_alone():
    cache = _cache(100)
    cache.get("small", lambda: _Blob("small", 10))
    big = cache.get("big", lambda: _Blob("big", 500))
    assert cache.keys() == ["big"] and cache.get("big", pytest.fail) is big
    cache.get("small", lambda: _Blob("small", 10))
    assert cache.keys() == ["small"]


def test_cache_does_not_store_a_failed_load_and_can_forget():
    cache = _cache(100)
    with pytest.raises(DatasetError):
        cache.get("bad", lambda: (_ for _ in ()).throw(DatasetError("bad.npz: broken.")))
    assert cache.keys() == []
    cache.get("x", lambda: _Blob("x", 1))
    cache.pop("x")
    assert "x" not in cache


def test_cache_loads_a_key_once_when_sessions_ask_together():
    cache = _cache(100)
    calls = []

    def slow_load():
        calls.append(1)
        time.sleep(0.2)
        return _Blob("m", 50)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("m", slow_load))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_server_cache_holds_datasets_by_bytes(mnist_cached, monkeypatch):
    """Switching MNIST -> digits with a 1 MB bound leaves only the digits in memory."""
    from streamlit.testing.v1 import AppTest

    from app import loaders

    monkeypatch.setenv("MNIST_DATASET_CACHE_MB", "1")
    loaders.dataset_cache.clear()  # built afresh with the bound above
    try:
        at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120)
        at.query_params["dataset"] = "mnist"
        at.run()
        assert not at.exception
        cache = loaders.dataset_cache()
        assert [key for _, key in cache.keys()] == ["mnist"]
        assert cache.nbytes == 70_000 * (784 + 8)  # kept alone, although over the bound
        at.selectbox(key="dataset").set_value("digits").run()
        assert not at.exception
        assert [key for _, key in cache.keys()] == ["digits"]
        assert cache.nbytes < 1 << 20
    finally:
        loaders.dataset_cache.clear()


@pytest.mark.parametrize("value, expected", [("", 1024 << 20), ("64", 64 << 20), ("0.5", 1 << 19)])
def test_cache_bound_from_the_environment(monkeypatch, value, expected):
    from app import loaders

    monkeypatch.setenv("MNIST_DATASET_CACHE_MB", value)
    assert loaders.cache_bytes() == expected
    monkeypatch.setenv("MNIST_DATASET_CACHE_MB", "plenty")
    with pytest.raises(ValueError, match=r"^MNIST_DATASET_CACHE_MB is 'plenty'; set it to a number"):
        loaders.cache_bytes()
