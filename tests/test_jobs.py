"""Background jobs with the real worker process: lifecycle, joining, failures, dead workers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mnist_core import embeddings
from mnist_core.runs import jobs, states
from mnist_core.data import load_dataset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _request(digits, split="train", dataset="digits"):
    return embeddings.EmbeddingRequest(dataset, digits.fingerprint, "pca", split, {})


def _watch(directory, timeout=120):
    """Poll the status quickly; the sequence of states seen (without repeats)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = jobs.read_status(directory).state
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("done", "failed"):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job still {seen[-1]} after {timeout} s")


def test_lifecycle_queued_running_done(digits, cache_dir):
    request = _request(digits)
    status = embeddings.submit(request)
    assert status.state == "queued" and status.pid > 0
    assert _watch(request.directory) in (["queued", "running", "done"], ["running", "done"])
    final = jobs.read_status(request.directory)
    assert final.started >= final.submitted and final.finished >= final.started
    assert embeddings.load_cached(request).coords.shape == (1438, 50)
    log = (request.directory / "worker.log").read_text()
    assert "PCA of 1,438 images" in log and "measuring cluster quality" in log


def test_second_request_joins_the_running_job(digits, cache_dir):
    request = _request(digits, split="test")
    first = embeddings.submit(request)
    second = embeddings.submit(request)
    assert second.pid == first.pid
    _watch(request.directory)
    log = (request.directory / "worker.log").read_text()
    assert log.count("loading the dataset") == 1


def test_cache_hit_starts_no_worker(digits, cache_dir):
    request = _request(digits, split="all")
    embeddings.submit(request)
    _watch(request.directory)
    log_before = (request.directory / "worker.log").read_text()
    status = embeddings.submit(request)
    assert status.state == "done" and status.pid is None
    assert (request.directory / "worker.log").read_text() == log_before


def test_failure_is_recorded_in_one_sentence(digits, cache_dir, tmp_path):
    missing = str(tmp_path / "gone.npz")
    request = _request(digits, dataset=missing)
    embeddings.submit(request)
    assert _watch(request.directory)[-1] == "failed"
    status = jobs.read_status(request.directory)
    assert status.error == (
        "gone.npz: no such file or folder, and no dataset has this name "
        "(named datasets: mnist, fashion_mnist, digits)."
    )
    assert "Traceback" in (request.directory / "worker.log").read_text()


def test_failed_job_can_be_submitted_again(digits, cache_dir):
    request = _request(digits)
    request.directory.mkdir(parents=True)
    states.transition(request.directory, "queued")
    states.transition(request.directory, "failed", error="earlier failure")
    assert embeddings.submit(request).state == "failed"  # nothing retries by itself
    assert embeddings.submit(request, retry=True).state == "queued"
    assert _watch(request.directory)[-1] == "done"


def test_killed_worker_is_marked_failed_not_running(digits, cache_dir):
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "umap", "train", {})
    status = embeddings.submit(request)
    deadline = time.monotonic() + 60
    # Kill it once it is running and has logged a stage (not between the two).
    log = request.directory / "worker.log"
    while jobs.read_status(request.directory).state != "running" or not (
            log.is_file() and "loading the dataset" in log.read_text()):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(status.pid, signal.SIGKILL)
    time.sleep(0.5)
    status = jobs.read_status(request.directory)
    assert status.state == "failed"
    assert status.error.startswith(
        f"The worker process (pid {status.pid}) stopped unexpectedly; its last words: "
    )
    # The last lines of its log, the stages it had reached, are in the sentence.
    assert "loading the dataset" in status.error or "PCA" in status.error


def test_a_done_job_whose_result_is_gone_is_computed_again(digits, cache_dir):
    request = _request(digits)
    embeddings.submit(request)
    assert _watch(request.directory)[-1] == "done"
    (request.directory / "embedding.npz").unlink()
    assert embeddings.submit(request).state == "queued"
    assert _watch(request.directory)[-1] == "done"
    assert embeddings.load_cached(request) is not None


def test_the_state_machine_refuses_impossible_transitions(tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    assert jobs.read_status(folder).state is None
    with pytest.raises(states.TransitionError, match="A job that is new cannot become running"):
        states.transition(folder, "running")
    states.transition(folder, "queued")
    states.transition(folder, "running")
    states.transition(folder, "done")
    with pytest.raises(states.TransitionError,
                       match=r"A job that is done cannot become failed \(it can become nothing else\)"):
        states.transition(folder, "failed")
    with pytest.raises(states.TransitionError, match="with transition"):
        states.update(folder, state="queued")
    # Reading never writes: a status file left as it was.
    before = (folder / "status.json").read_bytes()
    jobs.read_status(folder)
    assert (folder / "status.json").read_bytes() == before
