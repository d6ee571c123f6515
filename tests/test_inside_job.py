"""Runs without the export get it on first use, from a background job that also indexes
the training digits for the nearest-neighbour search (issue 12)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_core import inside
from mnist_core.data import load_dataset
from mnist_core.inside import neighbours
from mnist_core.runs import BaselineSpec, create_run, open_run, wait


@pytest.fixture(autouse=True)
def fresh_sessions():
    inside.forget_sessions()
    yield
    inside.forget_sessions()


@pytest.fixture
def old_run(finished_run):
    """A finished run as an older version of the app left it: no ONNX export."""
    record = open_run(finished_run.name)
    record.paths.onnx.unlink()
    return record


def test_an_old_run_is_exported_and_indexed_by_a_background_job(old_run):
    state = inside.readiness(old_run)
    assert (state.model, state.neighbours, state.status, state.supported) == (False, False,
                                                                              None, True)
    with pytest.raises(inside.NotReady):
        inside.open_model(old_run)
    status = inside.prepare(old_run)
    assert status.state in ("queued", "running")
    assert inside.prepare(old_run).submitted == status.submitted  # joined, not started twice
    assert wait(old_run.paths.onnx_job, timeout=300).state == "done"
    state = inside.readiness(old_run)
    assert state.ready and state.reason is None
    assert inside.prepare(old_run).stage == "done"  # nothing left to do: no new job

    model = inside.open_model(old_run)
    assert model.description.source == "the final model" and model.description.epoch == 3
    dataset = load_dataset("digits")
    probabilities = model.predict(dataset.x_test)
    np.testing.assert_allclose(probabilities, old_run.test_probabilities(), rtol=1e-5, atol=1e-5)
    # A training digit's nearest training digit is itself.
    for index in (0, 17, 500):
        found = inside.nearest_training_digits(old_run, dataset.x_train[index])
        assert len(found.indices) == 8 and found.indices[0] == index
        assert found.distances[0] == pytest.approx(0, abs=1e-3)
        assert np.all(np.diff(found.distances) >= 0)
        np.testing.assert_array_equal(found.labels, dataset.y_train[found.indices])
    assert found.space == "last hidden layer l2_dense (64 values)"
    # The neighbours are the nearest in that layer, checked by brute force.
    features = model.hidden_features(dataset.x_train)
    query = model.hidden_features(dataset.x_test[3])[0]
    brute = np.argsort(np.linalg.norm(features - query, axis=1))[:8]
    np.testing.assert_array_equal(inside.nearest_training_digits(old_run, dataset.x_test[3]).indices,
                                  brute)  # fmt: skip
    # A damaged index is removed when read, and the job makes it again.
    old_run.paths.features.write_bytes(b"PK\x03\x04 cut off")
    neighbours._CACHE.clear()
    with pytest.raises(inside.NotReady, match="index of training digits was damaged"):
        inside.nearest_training_digits(old_run, dataset.x_train[0])
    assert not inside.readiness(old_run).neighbours
    assert inside.prepare(old_run).state in ("queued", "running")
    assert wait(old_run.paths.onnx_job, timeout=300).state == "done"
    assert inside.nearest_training_digits(old_run, dataset.x_train[0]).indices[0] == 0


def test_a_crashed_run_is_exported_from_the_checkpoint_it_kept(old_run):
    old_run.paths.model.unlink()
    status = json.loads(old_run.paths.status.read_text())
    old_run.paths.status.write_text(json.dumps({**status, "state": "failed",
                                                "error": "The worker died."}))  # fmt: skip
    record = open_run(old_run.run_id)
    assert record.state == "failed" and inside.readiness(record).supported
    inside.prepare(record)
    assert wait(record.paths.onnx_job, timeout=300).state == "done"
    model = inside.open_model(record)
    assert model.description.source == "the checkpoint of epoch 3"
    assert model.predict(load_dataset("digits").x_test).shape == (359, 10)


def test_a_failed_job_keeps_its_sentence_until_retried(old_run):
    info = json.loads(old_run.paths.run.read_text())
    old_run.paths.run.write_text(json.dumps({**info, "fingerprint": "0" * 32}))
    record = open_run(old_run.run_id)
    first = inside.prepare(record)
    failed = wait(record.paths.onnx_job, timeout=300)
    assert failed.state == "failed"
    assert failed.error == f"digits: the data changed since run {record.run_id} was trained."
    state = inside.readiness(record)
    assert state.supported and not state.model and state.reason == failed.error
    assert inside.prepare(record) == failed  # not started again by itself
    again = inside.prepare(record, retry=True)
    assert again.state in ("queued", "running") and again.submitted > first.submitted
    assert wait(record.paths.onnx_job, timeout=300).state == "failed"


def test_runs_that_cannot_be_looked_inside_say_why(cache_dir):
    dataset = load_dataset("digits")
    baseline = create_run(BaselineSpec(sample=100), dataset="digits",
                          fingerprint=dataset.fingerprint, input_shape=(8, 8), n_classes=10)
    state = inside.readiness(baseline)
    assert not state.supported and not state.model
    assert state.reason == (f"Run {baseline.run_id} is a random forest (100 digits): it has no "
                            "layers to look inside.")  # fmt: skip
    with pytest.raises(inside.InsideError, match="no layers to look inside"):
        inside.prepare(baseline)
    with pytest.raises(inside.InsideError, match="no layers to look inside"):
        inside.open_model(baseline)


def test_wide_layers_are_indexed_after_a_pca(monkeypatch):
    """A CNN's flattened maps or raw pixels (over 256 values) are reduced to 128 by PCA;
    the search then runs in that space and says so."""
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(600, 300)).astype(np.float32)

    class Wide:
        hidden_layer = "l3_flatten"

        def hidden_features(self, images):
            return wide[np.asarray(images).reshape(len(images), -1)[:, 0].astype(int)]

    images = np.arange(600)[:, None, None] * np.ones((1, 2, 2))
    arrays = neighbours.compute_features(Wide(), images, np.arange(600) % 10)
    assert arrays["features"].shape == (600, 128) and int(arrays["dims"]) == 300
    indices, distances = neighbours.nearest(wide[42], arrays, k=5)
    assert indices[0] == 42 and distances[0] == pytest.approx(0, abs=1e-3)
    assert neighbours.describe_space("l3_flatten", 300, 128) == (
        "last hidden layer l3_flatten (300 values, PCA to 128)")
    assert neighbours.describe_space(None, 64, 64) == "raw pixels (64 values)"
