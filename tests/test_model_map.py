"""The model's map of the data (issue 12, part 4): the engine on ``digits`` (the background
job for real: the last hidden layer's width, both maps' shapes, the raw-pixel map shared
with the Embeddings page's cache, a cache hit that starts no job, a damaged cache computed
again, a failed job's sentence that stays until Retry) and its figures (traces, mistake
markers, selection decoding, captions)."""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pytest

from mnist_core import embeddings, figures, inside, runs
from mnist_core.data import load_dataset
from mnist_core.diskcache import write_json_atomic
from mnist_core.inside import model_map
from mnist_core.runs import jobs
from tests.helpers import cache_at

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mapped_cache_template(trained_run_template, tmp_path_factory):
    """A cache holding the session's ff64 run on digits and its map, made once by the
    real background job."""
    cache = tmp_path_factory.mktemp("model-map-cache")
    shutil.copytree(trained_run_template, cache / "runs" / trained_run_template.name)
    with cache_at(cache):
        record = runs.open_run(trained_run_template.name)
        inside.prepare(record)  # the page's own job (its training digits indexed): not here
        assert jobs.wait(record.paths.onnx_job, timeout=600).state == "done"
        status = model_map.submit(record)
        assert status.state in ("queued", "running")
        done = jobs.wait(model_map.map_request(record).directory, timeout=600)
        assert done.state == "done", done.error
    return cache


@pytest.fixture
def mapped_run(cache_dir, mapped_cache_template) -> runs.RunRecord:
    """The mapped run, copied into this test's cache (its map's key names the export's
    modification time, which copy2 keeps)."""
    shutil.copytree(mapped_cache_template, cache_dir, dirs_exist_ok=True)
    (record,) = runs.list_runs()
    return record


# --------------------------------------------------------------------------- the engine


def test_the_map_has_both_layouts_of_every_test_digit_and_the_run_s_mistakes(mapped_run):
    digits = load_dataset("digits")
    result = model_map.load_map(mapped_run)
    model = inside.open_model(mapped_run)
    width = model.layer(model.hidden_layer).output_shape[-1]
    assert (result.layer, result.dims, width) == ("l2_dense", 64, 64)  # ff64: Dense 64
    assert model.hidden_features(digits.x_test).shape == (359, 64)
    n = len(digits.y_test)
    assert result.model.shape == result.raw.shape == (n, 2) and result.model.dtype == np.float32
    assert np.array_equal(result.labels, digits.y_test)
    assert np.isfinite(result.model).all() and not np.allclose(result.model, result.raw)
    predicted = mapped_run.test_probabilities().argmax(axis=1)
    assert np.array_equal(result.predicted, predicted)
    assert np.array_equal(result.mistakes, np.flatnonzero(predicted != digits.y_test))
    assert 0 < len(result.mistakes) < n
    for quality in (result.model_quality, result.raw_quality):
        assert 0.5 < quality["knn_accuracy"] <= 1 and -1 <= quality["silhouette"] <= 1
        assert quality["k"] == 15 and set(quality["purity"]) == {str(c) for c in range(10)}
    assert set(result.seconds) == {"features", "model_umap", "model_quality", "raw_umap", "total"}
    # The raw-pixel map is the Embeddings page's UMAP of the test split, same parameters.
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "umap", "test",
                                          model_map.map_params())  # fmt: skip
    shared = embeddings.load_cached(request)
    assert shared is not None and np.array_equal(shared.coords, result.raw)
    assert model_map.map_params() == {**embeddings.DEFAULT_PARAMS["umap"], "seed": 0}


def test_the_job_reports_each_step_as_its_stage(mapped_run):
    log = (model_map.map_request(mapped_run).directory / "worker.log").read_text()
    stages = ["loading the dataset", "computing the last hidden layer of 359 test digits",
              "the model's map, last hidden layer (64 values): ",  # then UMAP's own stages
              "the model's map: measuring its cluster quality",
              "the raw-pixel map: ", "saving the maps"]  # fmt: skip
    positions = [log.find(stage) for stage in stages]
    assert -1 not in positions and positions == sorted(positions), positions


def test_a_stored_map_starts_no_job(mapped_run):
    directory = model_map.map_request(mapped_run).directory
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    status = model_map.submit(mapped_run)
    assert (status.state, status.pid) == ("done", None)  # answered, not a job's status
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == before


def test_the_key_names_the_run_its_export_and_its_data(mapped_run):
    request = model_map.map_request(mapped_run)
    assert request.key.startswith(mapped_run.run_id + "-")
    assert request.fingerprint == load_dataset("digits").fingerprint
    other = {dataclasses.replace(request, stamp="1-2").key,
             dataclasses.replace(request, fingerprint="f" * 32).key,
             dataclasses.replace(request, params={**request.params, "seed": 1}).key}  # fmt: skip
    assert len(other) == 3 and request.key not in other
    os.utime(mapped_run.paths.onnx, ns=(1, 1))  # a new export: a new map is asked for
    assert model_map.map_request(mapped_run).key != request.key
    assert model_map.load_map(mapped_run) is None
    assert model_map.status_of(mapped_run).state is None


def test_a_damaged_map_is_computed_again(mapped_run):
    first = model_map.load_map(mapped_run)
    directory = model_map.map_request(mapped_run).directory
    (directory / "map.npz").write_bytes(b"PK\x03\x04 not a zip any more")
    assert model_map.load_map(mapped_run) is None
    assert model_map.status_of(mapped_run).state == "done"  # the job ended; its result is gone
    status = model_map.submit(mapped_run)
    assert status.state in ("queued", "running")
    assert jobs.wait(directory, timeout=600).state == "done"
    again = model_map.load_map(mapped_run)
    assert again is not None and np.allclose(again.model, first.model, atol=1e-4)


def test_a_failed_job_says_one_sentence_and_waits_for_retry(mapped_run):
    stale = dataclasses.replace(model_map.map_request(mapped_run), stamp="1-1")
    jobs.submit(stale.directory, kind=model_map.JOB_KIND, spec=stale.to_json())
    status = jobs.wait(stale.directory, timeout=600)
    assert status.state == "failed"
    assert status.error == (f"Run {mapped_run.run_id}'s model was exported again since its "
                            "map was asked for; Retry maps the new export.")  # fmt: skip

    # A failed job of the run's own map is not started again by itself, only by Retry.
    directory = model_map.map_request(mapped_run).directory
    shutil.rmtree(directory)
    directory.mkdir()
    write_json_atomic(directory / "status.json", {"state": "failed", "error": "The disk is full."})
    for _ in range(2):
        status = model_map.submit(mapped_run)
        assert (status.state, status.error) == ("failed", "The disk is full.")
    assert not (directory / "job.json").exists()
    assert model_map.submit(mapped_run, retry=True).state in ("queued", "running")
    assert jobs.wait(directory, timeout=600).state == "done"
    assert model_map.load_map(mapped_run) is not None


def test_a_run_not_exported_yet_is_not_ready(finished_run):
    record = runs.open_run(finished_run.name)
    record.paths.onnx.unlink()
    with pytest.raises(inside.NotReady, match="model is not exported yet"):
        model_map.submit(record)


# --------------------------------------------------------------------------- the figures

COORDS = np.array([[0, 0], [1, 0], [2, 1], [3, 3], [4, 1], [5, 2]], dtype=np.float32)
LABELS = np.array([0, 1, 1, 2, 0, 2])
PREDICTED = np.array([0, 1, 2, 2, 1, 2])  # rows 2 and 4 are mistakes
NAMES = ("zero", "one", "two")


def test_map_traces_are_the_classes_then_the_mistakes_as_crosses():
    fig = figures.inside_map.map_figure(COORDS, LABELS, PREDICTED, class_names=NAMES)
    assert [t.name for t in fig.data] == ["zero", "one", "two", "✕ mistakes (2)"]
    assert [t.type for t in fig.data] == ["scattergl"] * 4
    rows = [[int(c[0]) for c in t.customdata] for t in fig.data]
    assert rows == [[0], [1], [3, 5], [2, 4]]  # mistakes are in no class trace
    mistakes = fig.data[-1]
    assert mistakes.marker.symbol == "x" and fig.data[0].marker.symbol is None
    assert list(mistakes.marker.color) == [figures.style.class_color(1),
                                           figures.style.class_color(0)]  # their true labels
    assert list(mistakes.text) == ["true one, predicted two", "true zero, predicted one"]
    assert [list(c) for c in mistakes.customdata] == [[2, 2], [4, 1]]
    assert fig.data[2].text == "true two, predicted right"
    assert fig.layout.dragmode == "lasso"


def test_map_without_mistakes_or_predictions_has_no_cross_trace_and_shows_a_selection():
    for predicted in (None, LABELS.copy()):
        fig = figures.inside_map.map_figure(COORDS, LABELS, predicted, class_names=NAMES,
                                            selected=np.array([1, 3]),
                                            outlines=[{"kind": "box", "x": [0, 1], "y": [0, 1]}])
        assert [t.name for t in fig.data] == ["zero", "one", "two"]
        assert [list(t.selectedpoints) for t in fig.data] == [[], [0], [0]]
        assert fig.layout.shapes[0].type == "rect"


def test_map_refuses_mismatched_lengths_quoting_both():
    with pytest.raises(ValueError, match=r"coords must be \(n, 2\) for n labels; got coords of "
                       r"shape \(6, 2\) and 5 labels\."):  # fmt: skip
        figures.inside_map.map_figure(COORDS, LABELS[:5], None, class_names=NAMES)
    with pytest.raises(ValueError, match="labels and predicted differ in length: 6, 2."):
        figures.inside_map.map_figure(COORDS, LABELS, PREDICTED[:2], class_names=NAMES)


def test_selected_rows_reads_each_point_s_row_from_its_customdata():
    state = {"selection": {"points": [
        {"curve_number": 3, "point_index": 1, "customdata": [4, 1]},
        {"curve_number": 2, "point_index": 0, "customdata": {"0": 3, "1": 2}},  # a dict
        {"curve_number": 0, "point_index": 0, "customdata": [0, 0]},
        {"curve_number": 3, "point_index": 0, "customdata": [4, 1]},  # twice: once
        {"curve_number": 1, "point_index": 0, "customdata": [99, 1]},  # beyond n
        {"curve_number": 1, "point_index": 0, "customdata": ["x", 1]},
        {"curve_number": 1, "point_index": 0},
    ], "box": [], "lasso": []}}  # fmt: skip
    assert figures.inside_map.selected_rows(state, 6).tolist() == [0, 3, 4]
    assert figures.inside_map.selected_rows(None, 6).tolist() == []
    assert figures.inside_map.selected_rows({"selection": {"points": "no"}}, 6).tolist() == []


def test_selected_rows_round_trip_through_a_figure():
    fig = figures.inside_map.map_figure(COORDS, LABELS, PREDICTED, class_names=NAMES)
    points = [{"curve_number": c, "point_index": i, "customdata": list(fig.data[c].customdata[i])}
              for c in range(len(fig.data)) for i in range(len(fig.data[c].x))
              if fig.data[c].x[i] >= 2]  # fmt: skip
    rows = figures.inside_map.selected_rows({"selection": {"points": points}}, len(LABELS))
    assert rows.tolist() == [2, 3, 4, 5]


def test_gallery_captions_and_the_quality_line():
    assert figures.inside_map.gallery_captions(LABELS, PREDICTED, NAMES) == [
        "zero", "one", "one→two ✕", "two", "zero→one ✕", "two"]  # fmt: skip
    assert figures.inside_map.gallery_captions(LABELS[:2], None, NAMES) == ["zero", "one"]
    quality = {"knn_accuracy": 0.9412, "silhouette": 0.5123, "purity_mean": 0.93, "k": 15}
    assert figures.inside_map.quality_caption(quality) == (
        "k-NN accuracy in the map 94.1% · silhouette 0.51 · neighbour purity (k=15) 93.0%")
    assert "silhouette" not in figures.inside_map.quality_caption({**quality, "silhouette": None})
