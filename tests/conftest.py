"""Shared fixtures: an isolated cache folder per test, the real MNIST file, tiny datasets."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> None:
    """Skip locally when something optional is missing; in CI everything must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every test)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty cache folder, and no download leaves the machine."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MNIST_CACHE_DIR", str(folder))
    monkeypatch.setenv("MNIST_DATASETS_URL", "http://127.0.0.1:9/")  # port 9: discard, closed
    # One run trains at a time unless a test says otherwise: queue tests count places, and
    # two runs side by side on a 2-core CI machine only make every test slower.
    monkeypatch.setenv("MNIST_MAX_TRAINING", "1")
    # Embedding jobs in their own worker each: a warm embedding worker per test's cache
    # would be a long-lived ~300 MB process per test (tests/test_embed_warm.py turns it on).
    monkeypatch.setenv("MNIST_WARM_WORKER", "0")
    return folder


@pytest.fixture(scope="session")
def mnist_npz() -> Path:
    """The full MNIST in the Keras layout: ../shared/data/mnist.npz or the project cache."""
    for candidate in (
        ROOT.parent / "shared" / "data" / "mnist.npz",
        ROOT / "cache" / "datasets" / "mnist.npz",
    ):
        if candidate.is_file():
            return candidate
    skip_or_fail("mnist.npz not found in ../shared/data or cache/datasets")


@pytest.fixture
def mnist_cached(cache_dir, mnist_npz) -> Path:
    """A cache folder that holds mnist.npz, as after a download."""
    target = cache_dir / "datasets" / "mnist.npz"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(mnist_npz, target)
    return cache_dir


def tiny_arrays(seed: int = 0, n_train: int = 40, n_test: int = 10, side: int = 6):
    """Seeded uint8 images and labels 0..3 in the Keras npz layout."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 4,
        "x_test": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 4,
    }


@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    path = tmp_path / "tiny.npz"
    np.savez(path, **tiny_arrays())
    return path


def copy_to(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="session")
def trained_run_template(tmp_path_factory) -> Path:
    """A finished run (logistic regression, 3 epochs on digits), trained once per session
    with the real CLI and worker; copy it with :func:`finished_run`."""
    import subprocess
    import sys

    cache = tmp_path_factory.mktemp("trained-cache")
    env = {**os.environ, "MNIST_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--preset", "ff64", "--dataset", "digits",
         "--epochs", "3"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout.strip().splitlines()[-1])["run_id"]
    return cache / "runs" / run_id


@pytest.fixture
def finished_run(cache_dir, trained_run_template) -> Path:
    """The session's finished run, copied into this test's cache folder."""
    target = cache_dir / "runs" / trained_run_template.name
    shutil.copytree(trained_run_template, target)
    return target


@pytest.fixture
def small_disk(tmp_path):
    """A folder on its own 2 MB tmpfs, to fill up: a real full disk (needs root, as in CI).
    Yields the folder; unmounted afterwards."""
    import subprocess

    folder = tmp_path / "small-disk"
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill_disk(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last byte."""
    for name, block in ((".filler", 65536), (".filler-small", 1)):  # then the last bytes
        f = open(folder / name, "wb", buffering=0)  # unbuffered: closing flushes nothing
        try:
            while True:
                f.write(b"\0" * block)
        except OSError:
            pass
        finally:
            f.close()


@pytest.fixture
def read_only(tmp_path):
    """``make_read_only(folder)``: remount a tmpfs holding a copy of ``folder`` read-only in
    its place (chmod does not stop root). Unmounted afterwards."""
    import subprocess

    mounted = []

    def make_read_only(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        keep = tmp_path / f"ro-copy-{len(mounted)}"
        shutil.copytree(folder, keep)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)],
                                capture_output=True, text=True)  # fmt: skip
        if result.returncode != 0:
            skip_or_fail(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(folder)
        shutil.copytree(keep, folder, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        return folder

    yield make_read_only
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def browser():
    """A headless Chromium (Playwright driving Debian's build) for one test."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def app_server(cache_dir):
    """The app served by ``streamlit run`` on a free port over this test's cache folder; its URL."""
    from tests.browser import streamlit_server

    cache_dir.mkdir(parents=True, exist_ok=True)
    with streamlit_server(cache_dir / "streamlit.log") as (url, _):
        yield url
