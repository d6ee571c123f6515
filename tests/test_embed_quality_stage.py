"""The chart before the cluster quality: an embedding job stores its coordinates first (the
page draws them), then measures the cluster quality as its own stage and writes it into
the stored result; a job killed in between keeps its chart, and the next job only measures
the quality. And the Streamlit server starts the warm embedding worker in the background,
once, unless MNIST_WARM_WORKER=0. No timings here (see benchmarks/embed_bench.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import embeddings
from mnist_core.data import load_dataset
from mnist_core.embeddings import store, warm
from mnist_core.runs import jobs
from tests.conftest import ROOT

APP = str(ROOT / "app" / "streamlit_app.py")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _request(digits, split="test", method="pca"):
    return embeddings.EmbeddingRequest("digits", digits.fingerprint, method, split, {})


def test_the_chart_is_stored_before_the_quality_is_measured(cache_dir, digits, monkeypatch):
    request = _request(digits)
    seen = {}
    measure = store.quality_of

    def quality_of(req, result, pixels=None):
        # At this point the page can already draw the chart; the quality is pending.
        drawable = embeddings.load_cached(req, drawable=True)
        seen.update(drawable=drawable, complete=embeddings.load_cached(req),
                    status=embeddings.status_of(req).state, quality=embeddings.stored_quality(req))
        return measure(req, result, pixels)

    monkeypatch.setattr(store, "quality_of", quality_of)
    stages = []
    result, cached = embeddings.compute_cached(request, digits, on_stage=stages.append)
    assert not cached
    assert seen["drawable"] is not None and seen["drawable"].quality is None
    np.testing.assert_array_equal(seen["drawable"].coords, result.coords)
    assert seen["complete"] is None and seen["quality"] is None and seen["status"] == "done"
    assert stages.index("measuring cluster quality") > stages.index(f"PCA of {len(digits.x_test):,} images")
    stored = embeddings.load_cached(request)
    assert stored is not None and stored.quality == json.loads(json.dumps(result.quality))
    assert embeddings.stored_quality(request)["knn_accuracy"] == result.quality["knn_accuracy"]
    assert result.quality["knn_accuracy_pixels"] is not None


def test_a_job_killed_in_the_quality_stage_keeps_its_chart_and_only_measures_again(
    cache_dir, digits, monkeypatch
):
    request = _request(digits)
    measure = store.quality_of

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the worker died here

    monkeypatch.setattr(store, "quality_of", killed)
    with pytest.raises(KeyboardInterrupt):
        embeddings.compute_cached(request, digits)
    kept = embeddings.load_cached(request, drawable=True)
    assert kept is not None and kept.quality is None and embeddings.load_cached(request) is None
    assert embeddings.status_of(request).state == "done"  # drawable
    monkeypatch.setattr(store, "quality_of", measure)
    monkeypatch.setattr(store, "compute", None)  # the coordinates are not computed again
    result, cached = embeddings.compute_cached(request, digits)
    assert not cached and result.quality is not None
    np.testing.assert_array_equal(result.coords, kept.coords)
    assert embeddings.load_cached(request).quality["knn_accuracy"] == result.quality["knn_accuracy"]


def test_the_page_draws_a_pending_result_and_measures_its_quality_on_request(cache_dir, digits):
    request = _request(digits, split="train")
    pending = embeddings.compute(request, digits, measure_quality=False)
    assert pending.quality is None
    request.directory.mkdir(parents=True)
    (request.directory / "request.json").write_text(json.dumps(request.to_json()))
    embeddings.save(pending, request.directory)  # as a job killed in its quality stage leaves it
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.run()
    at.switch_page("views/embeddings.py").run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart"), "the chart is drawn before the quality is measured"
    assert not [m for m in at.markdown if m.value == "**Cluster quality**"]
    assert any("cluster quality was not measured" in w.value for w in at.warning)
    at.button(key="emb_quality_retry").click().run()
    assert jobs.wait(request.directory, timeout=300).state == "done"
    assert embeddings.load_cached(request).quality is not None
    deadline = time.monotonic() + 60
    while not [m for m in at.markdown if m.value == "**Cluster quality**"]:
        assert time.monotonic() < deadline, [m.value for m in at.markdown]
        time.sleep(0.5)
        at.run()
    quality = embeddings.stored_quality(request)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["k-NN accuracy in PC1–PC2"] == f"{quality['knn_accuracy']:.1%}"
    assert not at.warning


_SERVER = """
import json, sys, time
from streamlit.testing.v1 import AppTest
from mnist_core.embeddings import warm
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.query_params["dataset"] = "digits"
at.run()
deadline = time.monotonic() + 120
while warm.enabled() and not warm.socket_path().exists() and time.monotonic() < deadline:
    time.sleep(0.1)
heavy = sorted({m.split(".")[0] for m in sys.modules}
               & {"umap", "numba", "pynndescent", "tensorflow", "jax"})
print(json.dumps({"exceptions": [e.value for e in at.exception], "heavy": heavy,
                  "listening": warm.socket_path().exists(), "held": warm.starting()}))
"""


def _server(flag: str) -> dict:
    env = {**os.environ, warm.ENV: flag}
    result = subprocess.run([sys.executable, "-c", _SERVER, APP], capture_output=True, text=True, check=False,
                            cwd=ROOT, timeout=300, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_server_starts_the_warm_worker_in_the_background_and_it_leaves_with_it(cache_dir):
    got = _server("1")
    assert got["exceptions"] == [] and got["heavy"] == []
    assert got["listening"] and got["held"]
    deadline = time.monotonic() + 60  # its server is gone: it leaves by itself
    while warm.starting():
        assert time.monotonic() < deadline, "the warm worker outlived its server"
        time.sleep(0.2)
    assert not warm.socket_path().exists()


def test_no_warm_worker_is_started_by_the_server_when_turned_off(cache_dir):
    got = _server("0")
    assert got["exceptions"] == [] and got["heavy"] == []
    assert not got["listening"] and not got["held"]
    assert not warm.starting()


def test_start_for_server_is_a_background_thread_guarded_by_the_switch(cache_dir, monkeypatch):
    monkeypatch.setenv(warm.ENV, "0")
    assert warm.start_for_server() is None
    started = []
    monkeypatch.setenv(warm.ENV, "1")
    monkeypatch.setattr(warm, "start", lambda **kwargs: started.append(kwargs))
    thread = warm.start_for_server()
    assert thread is not None and thread.daemon
    thread.join(timeout=30)
    assert started == [{"parent": os.getpid()}]


def _children_warm_workers() -> list[int]:
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"embeddings.warm" in (proc / "cmdline").read_bytes() \
                    and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


def _settle(pid: int, quiet: float = 3.0, limit: float = 600) -> int:
    """Wait until ``pid`` uses no CPU for ``quiet`` seconds; its CPU time in clock ticks."""
    def cpu():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    used, still, deadline = cpu(), time.monotonic(), time.monotonic() + limit
    while time.monotonic() - still < quiet and time.monotonic() < deadline:
        time.sleep(0.5)
        if cpu() != used:
            used, still = cpu(), time.monotonic()
    return used


def test_a_servers_warm_worker_compiles_umap_and_its_forks_give_the_same_umap(cache_dir, digits,
                                                                              monkeypatch):
    """Told a UMAP may come, the server's warm worker compiles umap's functions (parallel
    ones too, on numba's workqueue layer); a seeded UMAP in its fork equals one in this process,
    and a parallel one completes (GNU OpenMP would abort the fork)."""
    import signal

    monkeypatch.setenv(warm.ENV, "1")
    cache_dir.mkdir(parents=True, exist_ok=True)
    warm.start(parent=os.getpid())
    try:
        deadline = time.monotonic() + 120
        while not warm.socket_path().exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        first = _request(digits)  # a PCA: no compiling after it
        embeddings.submit(first)
        assert jobs.wait(first.directory, timeout=300).state == "done"
        (pid,) = _children_warm_workers()
        before = _settle(pid)
        warm.prepare_umap()  # as the page does when it shows the UMAP form
        # Its compile warm-up done (parallel functions run in it; it worked): now fork.
        assert _settle(pid) - before > 100, "the warm worker compiled nothing"
        seeded = _request(digits, split="all", method="umap")
        parallel = embeddings.EmbeddingRequest("digits", digits.fingerprint, "umap", "all",
                                               {"parallel": True})  # fmt: skip
        for request in (seeded, parallel):
            embeddings.submit(request)
            assert jobs.wait(request.directory, timeout=600).state == "done", \
                (request.directory / "worker.log").read_text()
            assert "warm worker" in (request.directory / "worker.log").read_text()
        images = embeddings.split_arrays(digits, "all")[0]
        here = embeddings.umap_embedding(images, **embeddings.DEFAULT_PARAMS["umap"])
        np.testing.assert_array_equal(embeddings.load_cached(seeded).coords, here)
        assert embeddings.load_cached(parallel).coords.shape == here.shape
    finally:
        for pid in _children_warm_workers():  # the warm worker this test started
            os.kill(pid, signal.SIGTERM)
