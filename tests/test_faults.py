"""Faults: damaged run folders, damaged caches, hostile names. Each leaves the app working,
loses no finished run, and says what happened."""

from __future__ import annotations

import shutil

import pytest

from mnist_core.runs import jobs, states
from mnist_core import runs
from tests.test_app import _app


def _damaged(finished_run, cache_dir, how: str):
    copy = cache_dir / "runs" / (finished_run.name[:-4] + "dmg0")
    shutil.copytree(finished_run, copy)
    if how == "model":
        data = (copy / "model.keras").read_bytes()
        (copy / "model.keras").write_bytes(data[: len(data) // 2])
    elif how == "events":
        data = (copy / "events.jsonl").read_bytes()
        (copy / "events.jsonl").write_bytes(data[:-25])
    elif how == "status":
        (copy / "status.json").unlink()
    elif how == "probabilities":
        data = (copy / "test_probabilities.npy").read_bytes()
        (copy / "test_probabilities.npy").write_bytes(data[: len(data) // 3])
    elif how == "run.json":
        (copy / "run.json").write_text("{not json")
    return copy


@pytest.mark.parametrize(
    "how, problem",
    [
        ("model", "model.keras is truncated or not a Keras file"),
        ("events", "events.jsonl ends in a cut-off line"),
        ("status", "status.json is missing"),
        ("probabilities", "test_probabilities.npy is truncated"),
        ("run.json", "run.json is missing or unreadable"),
    ],
)
def test_a_damaged_run_is_marked_and_the_pages_still_work(finished_run, cache_dir, how, problem):
    damaged = _damaged(finished_run, cache_dir, how)
    listed = {r.run_id: r for r in runs.list_runs()}
    assert listed[finished_run.name].state == "done"  # the good run is untouched
    assert listed[damaged.name].state == "damaged"
    assert listed[damaged.name].status.error == f"Run {damaged.name} is damaged: {problem}."
    at = _app("digits")
    at.query_params["run"] = damaged.name
    at.run()
    for page in ("views/runs.py", "views/evaluate.py", "views/builder.py", "views/data.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    at.switch_page("views/runs.py").run()
    table = at.dataframe[0].value.set_index("run")
    assert table.loc[damaged.name, "state"] == "damaged"
    assert table.loc[finished_run.name, "state"] == "done"
    # Shown on its own (as from a link to it), the run says what is wrong.
    direct = _app("digits")
    direct.query_params["run"] = damaged.name
    direct.run()
    direct.switch_page("views/runs.py")
    direct.query_params["run"] = damaged.name
    direct.run()
    assert f"Run {damaged.name} is damaged: {problem}." in [e.value.replace("\\", "") for e in direct.error]
    at.switch_page("views/evaluate.py").run()
    assert at.session_state["eval_run"] == finished_run.name  # only sound runs are offered


def test_a_worker_that_never_started_is_not_running_forever(cache_dir):
    directory = cache_dir / "runs" / "20260101-000000-dead"
    directory.mkdir(parents=True)
    states.transition(directory, "queued")
    states.transition(directory, "running", pid=2**22 + 12345)  # no such process
    status = jobs.read_status(directory)
    assert status.state == "failed" and "stopped unexpectedly" in status.error


def test_hostile_dataset_keys_and_run_ids_are_refused(cache_dir):
    from app import loaders
    from mnist_core.data import DatasetError

    for key in ("upload:../../../etc/passwd", "upload:/etc/passwd"):
        with pytest.raises(DatasetError, match="not a file in the uploads folder"):
            loaders.source_of(key)
    for run_id in ("../../etc", "/tmp", "..", "a/b"):
        with pytest.raises(runs.RunError):
            runs.open_run(run_id)


def test_server_config_limits_uploads_and_listens_on_localhost():
    import tomllib

    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["server"]["maxUploadSize"] == 200
    assert config["browser"]["gatherUsageStats"] is False


def test_a_spec_in_the_url_is_validated_like_the_form(cache_dir):
    from mnist_core.models import LayerSpec, ModelSpec, TrainSpec

    bad = ModelSpec((LayerSpec("Conv2D", {"kernel_size": 9}),), TrainSpec(learning_rate=-1.0))
    at = _app("digits")
    at.query_params["spec"] = bad.to_url()
    at.run()
    at.switch_page("views/builder.py")
    at.query_params["spec"] = bad.to_url()
    at.run()
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]  # shown escaped, as plain text
    assert "The learning rate must be greater than 0; got -1.0." in errors
    assert any(e.startswith("Layer 1 (Conv2D 32@9×9 relu): the 9×9 kernel") for e in errors)
    assert next(b for b in at.button if b.label == "Train").disabled
    # Unknown fields in a hand-made link are refused in one sentence, not a traceback.
    import base64
    import json
    import zlib

    forged = base64.urlsafe_b64encode(zlib.compress(json.dumps(
        {"layers": [{"type": "Lambda", "function": "os.system"}]}).encode())).decode()  # fmt: skip
    at = _app("digits")
    at.run()
    at.switch_page("views/builder.py")
    at.query_params["spec"] = forged
    at.run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error][0].startswith("Layer 1: Unknown layer type 'Lambda'")


def test_a_read_only_cache_says_so_on_the_runs_page_and_loses_nothing(finished_run, cache_dir,
                                                                      read_only):  # fmt: skip
    read_only(cache_dir / "runs")
    at = _app("digits")
    at.query_params["run"] = finished_run.name
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert at.dataframe[0].value["state"].tolist() == ["done"]  # still listed, still readable
    at.number_input(key="baseline_sample").set_value(300)
    next(b for b in at.button if b.label == "Fit baseline").click().run()
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]  # shown escaped, as plain text
    assert len(errors) == 1 and errors[0].startswith(f"The folder {cache_dir / 'runs'}")
    assert "is read-only here" in errors[0]
    assert [r.run_id for r in runs.list_runs()] == [finished_run.name]
