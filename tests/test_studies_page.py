"""The Studies page through AppTest: bad input is the engine's one sentence and launches
nothing; the tutorial steps and links fill the form; a study launched from the page on the
8×8 digits shows its trials (one complete, one failed with its sentence); Stop and Resume
act and say what they did; the Runs page stops a study's runs through the study."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import runs, studies
from mnist_core.models import PRESETS, with_train
from tests.conftest import ROOT
from tests.helpers import as_shown

APP = str(ROOT / "app" / "streamlit_app.py")
LOGISTIC = with_train(PRESETS["logistic"].spec, epochs=1)


def _studies_page(spec=None, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    if spec is not None:
        at.query_params["spec"] = spec.to_url()
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    at.switch_page("views/studies.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _errors(at: AppTest) -> list[str]:
    return [as_shown(e.value) for e in at.error]


def _plan_text(at: AppTest) -> list[str]:
    return [as_shown(s.value) for s in at.success]


def _set_values(at: AppTest, params: list[str], values: dict[str, str]) -> None:
    at.multiselect(key="study_params").set_value(params).run()
    for path, text in values.items():
        at.text_input(key=f"study_values:{path}").set_value(text)
    at.run()


@pytest.mark.parametrize("params, values, options, sentence", [
    (["batch_size"], {"batch_size": "0,16"}, {},
     "'batch_size' must be a whole number from 1 to 65,536; got 0."),
    (["learning_rate"], {"learning_rate": "0..0.1:log"}, {"study_search": "tpe"},
     "A log range must lie above 0; 'learning_rate' got 0..0.1:log."),
    (["learning_rate"], {"learning_rate": "1e-4..1e-1:log"}, {},
     "A grid needs a list of values for 'learning_rate'; give a list, a range with a number of "
     "points (1e-4..1e-1:log:4), or search random or tpe."),
    (["optimizer"], {"optimizer": "sgd,lion"}, {},
     "'optimizer' must be one of sgd, rmsprop, adam, adamw, adagrad, adadelta, nadam; got 'lion'."),
    (["batch_size"], {"batch_size": ""}, {},
     "'batch_size' has no values; give a list (a,b,c) or a range (low..high)."),
    (["layer 2.units"], {"layer 2.units": "1000000"}, {},
     "With layer 2.units=1000000: the model has 75,000,010 parameters, more than the limit of "
     "50,000,000 (MNIST_MAX_PARAMS); use fewer or smaller layers."),
    (["seed"], {"seed": "1,2"}, {"study_repeats": 2},
     "Vary the seed or repeat each trial with several seeds, not both."),
    ([], {}, {}, "Pick at least one parameter to vary."),
])  # fmt: skip
def test_bad_input_is_one_sentence_and_nothing_launches(params, values, options, sentence, cache_dir):
    at = _studies_page()
    for key, value in options.items():
        widget = at.selectbox(key=key) if key == "study_search" else at.number_input(key=key)
        widget.set_value(value)
    _set_values(at, params, values)
    assert not at.exception
    assert _errors(at) == [sentence]
    assert _button(at, "Launch").disabled
    assert not (cache_dir / "studies").exists() and not (cache_dir / "runs").exists()


def test_the_form_starts_from_the_builders_spec_and_says_the_plan():
    at = _studies_page(LOGISTIC)
    base = next(as_shown(c.value) for c in at.caption if as_shown(c.value).startswith("Base:"))
    assert base == ("Base: logistic: Flatten · adam, lr 0.001, batch 32, 1 epoch, validation "
                    "split 0.2.")  # fmt: skip
    options = at.multiselect(key="study_params").options
    assert "hidden_dense_layers" not in options and "learning_rate" in options  # no Dense layer
    _set_values(at, ["batch_size", "learning_rate"],
                {"batch_size": "16,64", "learning_rate": "0.001,0.01"})  # fmt: skip
    assert _plan_text(at) == ["Grid over batch_size, learning_rate: 4 trials × 1 seed = 4 runs "
                              "of 1 epoch on scikit-learn 8x8 digits."]  # fmt: skip
    at.number_input(key="study_repeats").set_value(3)
    at.selectbox(key="study_prune").set_value("median").run()
    assert _plan_text(at) == ["Grid over batch_size, learning_rate: 4 trials × 3 seeds = 12 "
                              "runs of 1 epoch on scikit-learn 8x8 digits, median pruning."]  # fmt: skip
    assert not _button(at, "Launch").disabled
    # Another page and back: the form is as it was.
    at.switch_page("views/runs.py").run()
    at.switch_page("views/studies.py").run()
    assert at.multiselect(key="study_params").value == ["batch_size", "learning_rate"]
    assert at.text_input(key="study_values:batch_size").value == "16,64"
    assert at.number_input(key="study_repeats").value == 3


def test_a_damaged_spec_link_is_one_sentence_and_the_builders_spec_is_used():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.query_params["spec"] = "not-a-spec"
    at.run()
    at.switch_page("views/studies.py").run()
    assert not at.exception
    assert _errors(at) == ["The spec in the link is damaged; it could not be read. The "
                           "builder's spec in this session is used instead."]  # fmt: skip
    assert any(as_shown(c.value).startswith("Base: ff64: Flatten → Dense 64") for c in at.caption)


@pytest.mark.parametrize("how", ["button", "link"])
def test_the_capacity_grid_step_fills_the_form(how):
    at = _studies_page(tune="capacity") if how == "link" else _studies_page()
    if how == "button":
        _button(at, "Capacity grid").click().run()
    assert at.multiselect(key="study_params").value == ["layer 2.units", "hidden_dense_layers"]
    assert at.text_input(key="study_values:layer 2.units").value == "128,256,512,1024"
    assert at.text_input(key="study_values:hidden_dense_layers").value == "1,2,3"
    assert at.selectbox(key="study_search").value == "grid"
    assert _plan_text(at) == ["Grid over layer 2.units, hidden_dense_layers: 12 trials × 1 seed "
                              "= 12 runs of 10 epochs on scikit-learn 8x8 digits."]  # fmt: skip


def test_the_dropout_step_adds_a_dropout_layer_to_a_spec_without_one():
    at = _studies_page(LOGISTIC)
    _button(at, "Dropout").click().run()
    base = next(as_shown(c.value) for c in at.caption if as_shown(c.value).startswith("Base:"))
    assert base.startswith("Base: logistic: Flatten → Dense 128 → Dropout · adam")
    assert at.multiselect(key="study_params").value == ["Dropout.rate"]
    assert at.text_input(key="study_values:Dropout.rate").value == "0,0.2,0.4,0.5"


def test_a_link_to_an_unknown_study_says_so():
    at = _studies_page(study="20990101-000000-abcdef")
    assert _errors(at)[0].startswith("There is no study 20990101-000000-abcdef in ")
    assert at.selectbox(key="study_choice").value == "new"


def _launch_from_page(at: AppTest, params: list[str], values: dict[str, str],
                      optimizer: str | None = None) -> str:  # fmt: skip
    _set_values(at, params, values)
    assert _errors(at) == [], _errors(at)
    _button(at, "Launch").click().run()
    assert not at.exception, at.exception
    study_id = at.selectbox(key="study_choice").value
    assert study_id != "new" and at.query_params["study"] in (study_id, [study_id])
    return study_id


def test_a_study_launched_from_the_page_shows_its_trials(cache_dir):
    spec = with_train(LOGISTIC, optimizer="sgd")
    at = _studies_page(spec)
    at.number_input(key="study_repeats").set_value(2)
    study_id = _launch_from_page(at, ["learning_rate"], {"learning_rate": "1e6,0.05"})
    infos = [as_shown(i.value) for i in at.info]
    assert f"Study {study_id} launched: 2 trials of 2 runs each go through the training queue." in infos
    record = studies.open_study(study_id)
    assert record.plan.base.train.optimizer == "sgd" and record.plan.dataset == "digits"
    assert record.plan.seeds == (0, 1)
    assert studies.wait(record, timeout=600).state == "done"
    at.run()
    assert not at.exception
    (table,) = [d.value for d in at.dataframe]
    assert sorted(table["state"]) == ["complete", "failed"]
    done = table[table["state"] == "complete"].iloc[0]
    failed = table[table["state"] == "failed"].iloc[0]
    assert done["learning_rate"] == 0.05 and failed["learning_rate"] == 1e6
    best = record.refresh().best
    accuracies = [max(e["val_accuracy"] for e in runs.open_run(run_id).events() if e["type"] == "epoch")
                  for run_id in best.run_ids]  # fmt: skip
    mean = sum(accuracies) / 2
    sd = abs(accuracies[0] - accuracies[1]) / 2**0.5
    assert done["val acc"] == pytest.approx(100 * mean)  # the mean over the two seeds
    assert done["± sd"] == pytest.approx(100 * sd) and done["seeds"] == 2
    assert done["best epoch"] == 1 and done["run"] == f"runs?run={best.run_ids[0]}"
    assert failed["note"].startswith("The loss exploded")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trials ended"] == "2 / 2"
    assert metrics["Best validation accuracy"] == f"{mean:.2%}"
    assert metrics["Best trial"] == f"#{best.number}"
    # Drawn: parallel coordinates, best so far, curves, repeats (mean ± sd); importance
    # cannot be told from one complete trial, and the page says why.
    assert [s.value for s in at.subheader] == ["Trials", "Parallel coordinates", "Best so far",
                                               "Parameter importance", "Curves",
                                               "Repeats: mean ± sd"]  # fmt: skip
    assert len(at.get("plotly_chart")) == 4
    captions = [as_shown(c.value) for c in at.caption]
    assert "Needs at least 2 complete trials that differ in their settings (1 complete so far)." in captions
    assert _button(at, "Resume").disabled  # done: every trial has a result
    # The page never loads TensorFlow or Keras to draw the study: checked in a fresh
    # interpreter (this one may hold Keras from other tests).
    script = textwrap.dedent(f"""
        import json, sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(APP)!r}, default_timeout=120)
        at.query_params["dataset"] = "digits"
        at.query_params["study"] = {study_id!r}
        at.run()
        at.switch_page("views/studies.py").run()
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("tensorflow", "keras", "jax", "umap", "ray"))
        print(json.dumps({{"exception": [e.value for e in at.exception], "heavy": heavy,
                          "tables": len(at.dataframe)}}))
        """)  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, env={**os.environ})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exception": [], "heavy": [], "tables": 1}


@pytest.fixture
def occupied_queue(cache_dir, monkeypatch):
    """The training queue's only slot held by the test: a study's runs wait in the queue."""
    monkeypatch.setenv("MNIST_MAX_TRAINING", "1")
    slots = cache_dir / "runs" / ".slots"
    slots.mkdir(parents=True)
    handle = open(slots / "slot-0.lock", "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    yield handle
    handle.close()


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_stop_and_resume_act_and_say_what_they_did(occupied_queue):
    at = _studies_page(LOGISTIC)
    study_id = _launch_from_page(at, ["batch_size"], {"batch_size": "32,64"})
    record = studies.open_study(study_id)

    def members():
        return [r for r in runs.list_runs() if r.group == study_id]

    _wait_for(lambda: any(r.state == "queued" for r in members()), 90, "no run queued")
    # The Runs page offers to stop the study (not only its runs: its driver would go on).
    at.switch_page("views/runs.py").run()
    assert f"Stop the study {study_id} (1 run left)" in [as_shown(b.label) for b in at.button]
    at.switch_page("views/studies.py").run()
    assert at.selectbox(key="study_choice").value == study_id
    _button(at, "Stop study").click().run()
    assert not at.exception
    assert f"Study {study_id} stops: 1 queued run cancelled, 0 running runs stopping within a " \
        "few batches." in [as_shown(i.value) for i in at.info]
    assert studies.wait(record, timeout=90).state == "stopped"
    at.run()
    assert record.refresh().counts() == {"cancelled": 1}
    (table,) = [d.value for d in at.dataframe]
    assert list(table["state"]) == ["cancelled"]
    occupied_queue.close()  # the queue frees up
    _button(at, "Resume").click().run()
    assert not at.exception
    assert f"Study {study_id} resumed: its driver goes on with the same Optuna study." in [
        as_shown(i.value) for i in at.info]
    assert studies.wait(record, timeout=400).state == "done"
    at.run()
    assert record.refresh().counts() == {"complete": 2, "cancelled": 1}
    (table,) = [d.value for d in at.dataframe]
    assert sorted(table["state"]) == ["cancelled", "complete", "complete"]
    assert "Stop study" not in [b.label for b in at.button]


def test_the_backend_choice_says_what_a_ray_cluster_needs_and_an_unreachable_one_launches_nothing(
        cache_dir):  # fmt: skip
    at = _studies_page(LOGISTIC)
    assert at.selectbox(key="study_backend").value == "local"
    at.selectbox(key="study_backend").set_value("ray").run()
    assert _errors(at) == ["Give the Ray cluster's address (HOST:PORT of its head, port 6379 "
                           "by default)."]  # fmt: skip
    at.text_input(key="study_address").set_value("nowhere").run()
    assert _errors(at)[0].startswith("The Ray address 'nowhere' is not HOST:PORT")
    assert _button(at, "Launch").disabled
    at.text_input(key="study_address").set_value("127.0.0.1:9").run()  # nothing listens there
    assert _errors(at) == [] and not _button(at, "Launch").disabled
    _button(at, "Launch").click().run()
    assert not at.exception
    assert _errors(at) == ["Cannot reach the Ray cluster at 127.0.0.1:9: connection refused; "
                           "start one with `ray start --head` or check MNIST_RAY_ADDRESS."]  # fmt: skip
    assert at.selectbox(key="study_choice").value == "new"
    assert not any((cache_dir / "studies").glob("*")) and not (cache_dir / "runs").exists()


def test_epochs_per_run_follow_the_base_spec():
    at = _studies_page(LOGISTIC)
    assert at.number_input(key="study_epochs").value == 1
    at.segmented_control(key="study_source").set_value("preset").run()
    assert at.number_input(key="study_epochs").value == 10  # ff64, the preset box's default
    at.selectbox(key="study_preset").set_value("dense512").run()
    assert at.number_input(key="study_epochs").value == 5
    assert _errors(at) == ["A study compares trials on validation data, and the base spec has "
                           "no validation split; set one (0.2, say)."]  # fmt: skip
