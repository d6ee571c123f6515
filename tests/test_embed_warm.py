"""The warm embedding worker (:mod:`mnist_core.embeddings.warm`): embedding jobs run in
forks of one long-lived process that has its imports done, through the unchanged job
folder protocol. A killed job is a dead worker (failed, one sentence, Retry works); a
killed warm worker is started again by the next job. No timings here (see benchmarks/)."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from mnist_core import embeddings
from mnist_core.data import load_dataset
from mnist_core.runs import jobs
from mnist_core.runs.states import DONE, FAILED, RUNNING

WARM_LINE = re.compile(r"\[warm worker (\d+)\] job started in a fork")


@pytest.fixture
def warm(monkeypatch):
    monkeypatch.setenv("MNIST_WARM_WORKER", "1")
    monkeypatch.setenv("MNIST_WARM_IDLE", "120")
    started: list[int] = []
    yield started
    for pid in set(started):  # the warm workers these tests started, by their pid
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def warm_pids(request) -> list[int]:
    log = (request.directory / "worker.log").read_text()
    return [int(pid) for pid in WARM_LINE.findall(log)]


def finish(request, warm, *, retry=False):
    embeddings.submit(request, retry=retry)
    status = jobs.wait(request.directory, timeout=600, poll=0.1)
    warm.extend(warm_pids(request))
    return status


def test_embedding_jobs_run_in_forks_of_one_warm_worker(warm):
    digits = load_dataset("digits")
    first = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "all",
                                        {"n_components": 5})  # fmt: skip
    second = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "all",
                                         {"n_components": 6})  # fmt: skip
    assert finish(first, warm).state == DONE and finish(second, warm).state == DONE
    assert embeddings.load_cached(first).coords.shape == (len(digits.x_train) + len(digits.x_test), 5)
    assert len(warm_pids(first)) == len(warm_pids(second)) == 1
    assert warm_pids(first) == warm_pids(second)  # the same warm worker forked both


def test_a_killed_job_fails_in_one_sentence_and_retry_works(warm):
    digits = load_dataset("digits")
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "umap", "test",
                                          {"n_neighbors": 5})  # fmt: skip
    status = embeddings.submit(request)
    deadline = time.monotonic() + 120
    while status.state != RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
        status = jobs.read_status(request.directory)
    assert status.state == RUNNING and status.pid
    warm.extend(warm_pids(request))
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (status := jobs.read_status(request.directory)).state != FAILED:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status.error.startswith(f"The worker process (pid {status.pid}) stopped unexpectedly")
    assert "\n" not in status.error  # one sentence for the page
    assert embeddings.submit(request).state == FAILED  # nothing starts again by itself
    assert finish(request, warm, retry=True).state == DONE
    assert embeddings.load_cached(request) is not None


def test_a_killed_warm_worker_is_started_again_by_the_next_job(warm):
    digits = load_dataset("digits")
    first = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "test",
                                        {"n_components": 3})  # fmt: skip
    assert finish(first, warm).state == DONE
    (killed,) = warm_pids(first)
    os.kill(killed, signal.SIGKILL)
    time.sleep(0.5)
    second = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "test",
                                         {"n_components": 4})  # fmt: skip
    assert finish(second, warm).state == DONE
    (again,) = warm_pids(second)
    assert again != killed


def test_turned_off_an_embedding_job_runs_in_a_plain_worker(monkeypatch):
    monkeypatch.setenv("MNIST_WARM_WORKER", "0")
    digits = load_dataset("digits")
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "test",
                                          {"n_components": 2})  # fmt: skip
    embeddings.submit(request)
    assert jobs.wait(request.directory, timeout=300, poll=0.1).state == DONE
    assert warm_pids(request) == []
