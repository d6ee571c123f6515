"""The Evaluation page through AppTest: which run it opens on (issue 9 #7), what it says of
a crashed run's kept weights, hostile names and links as plain text (#19), caret's names
and text in its tables (#24)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import evaluation, runs
from mnist_core.diskcache import write_json_atomic
from mnist_core.runs import states
from tests.conftest import ROOT

APP = str(ROOT / "app" / "streamlit_app.py")
HOSTILE_NAME = "![t](http://127.0.0.1:9/x.png)"
BEST_ID = "20000101-000000-b0b0b0"  # older than the session's run: the best is not the newest


def make_two_runs(finished_run) -> tuple[runs.RunRecord, runs.RunRecord]:
    """The session's run (newest, ~87 %) and an older, better copy of it named
    :data:`HOSTILE_NAME`, with half of the first run's mistakes put right."""
    first = runs.open_run(finished_run.name)
    shutil.copytree(first.directory, first.directory.parent / BEST_ID)
    best = runs.open_run(BEST_ID)
    ev = evaluation.evaluate_run(first)
    probabilities = ev.probabilities.copy()
    fixed = ev.mistakes["index"].to_numpy()[::2]
    probabilities[fixed] = np.eye(probabilities.shape[1])[ev.y_true[fixed]] * 0.9 + 0.01
    best.save_probabilities(probabilities)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == ev.y_true))
    best.write_summary(dataclasses.replace(best.summary, test_accuracy=accuracy))
    info = json.loads(best.paths.run.read_text())
    write_json_atomic(best.paths.run, {**info, "name": HOSTILE_NAME, "run_id": BEST_ID})
    best = runs.open_run(BEST_ID)
    assert best.evaluated and best.summary.test_accuracy > first.summary.test_accuracy
    return first, best


@pytest.fixture
def two_runs(finished_run):
    return make_two_runs(finished_run)


def _evaluation_page(*, run: str | None = None, selected: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.run()  # the Data page first, as a session starts
    at.switch_page("views/evaluate.py")
    if run is not None:
        at.query_params["run"] = run
    if selected is not None:
        at.session_state["selected_run"] = selected
    return at.run()


def _shown(at: AppTest) -> str:
    assert not at.exception, at.exception
    return at.selectbox(key="eval_run").value


def test_opens_on_the_best_finished_run_not_the_newest(two_runs):
    first, best = two_runs
    assert [r.run_id for r in runs.list_runs()] == [first.run_id, BEST_ID]  # newest first
    at = _evaluation_page()
    assert _shown(at) == BEST_ID
    assert at.session_state["selected_run"] == BEST_ID and at.query_params["run"] == BEST_ID
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{best.summary.test_accuracy:.2%}"


def test_opens_on_the_run_the_user_was_looking_at_and_a_link_wins(two_runs):
    first, _ = two_runs
    at = _evaluation_page(selected=first.run_id)  # set by the Builder or Runs page
    assert _shown(at) == first.run_id and at.query_params["run"] == first.run_id
    at = _evaluation_page(run=first.run_id, selected=BEST_ID)
    assert _shown(at) == first.run_id and at.session_state["selected_run"] == first.run_id


def test_a_pick_is_kept_for_the_session_and_in_the_url(two_runs):
    first, _ = two_runs
    at = _evaluation_page()
    at.selectbox(key="eval_run").select(first.run_id).run()
    assert _shown(at) == first.run_id
    assert at.session_state["selected_run"] == first.run_id
    assert at.query_params["run"] == first.run_id
    at.run()  # a rerun (another widget) keeps it
    assert _shown(at) == first.run_id
    labels = at.selectbox(key="eval_run").options
    assert sorted(labels) == sorted([f"ff64 · digits · {first.summary.test_accuracy:.2%}",
                                     f"{HOSTILE_NAME} · digits · {two_runs[1].summary.test_accuracy:.2%}"])  # fmt: skip


def test_a_link_to_an_unknown_run_says_so_as_plain_text(two_runs):
    at = _evaluation_page(run=HOSTILE_NAME)
    assert _shown(at) == BEST_ID
    assert [w.value for w in at.warning] == [
        (f"Run `{HOSTILE_NAME}` has no test results to show (it does not exist, or has not "
         "finished); showing another run.")
    ]
    # The run's own name is shown with st.text: no Markdown at all.
    assert f"Run {BEST_ID}, {HOSTILE_NAME} on digits: results of the weights of epoch 3 (the last)." in [
        t.value for t in at.text]  # fmt: skip
    markdown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert HOSTILE_NAME not in markdown


def test_literal_is_a_code_span_whatever_the_backticks():
    from app.run_picker import literal

    assert literal("plain") == "`plain`"
    assert literal("a`b") == "``a`b``"
    assert literal("`x`") == "`` `x` ``"
    assert literal("two\nlines") == "`two lines`"


def test_a_crashed_run_is_listed_with_the_epoch_its_weights_come_from(finished_run):
    record = runs.open_run(finished_run.name)
    record.write_summary(dataclasses.replace(record.summary, from_checkpoint=True, model_epoch=2))
    write_json_atomic(record.directory / states.STATUS_FILE, dataclasses.replace(
        record.status, state="failed", error="The worker process stopped unexpectedly.").to_json())  # fmt: skip
    at = _evaluation_page()
    assert _shown(at) == record.run_id
    assert at.selectbox(key="eval_run").options == [
        f"ff64 · digits · {record.summary.test_accuracy:.2%} · failed"]
    assert at.text[0].value == (
        f"Run {record.run_id}, ff64 on digits, is failed: its results are those of the weights "
        "of epoch 2 (kept when the worker died)."
    )


def test_statistics_read_like_caret_with_no_none_or_nan(finished_run):
    at = _evaluation_page()
    overall, per_class = at.dataframe[0].value, at.dataframe[1].value
    assert list(overall.index) == ["Accuracy", "95% CI", "No Information Rate",
                                   "P-Value [Acc > NIR]", "Kappa", "Mcnemar's Test P-Value",
                                   "Test images", "Mismatches"]  # fmt: skip
    assert overall.loc["P-Value [Acc > NIR]", "Value"] == "< 1e-16"
    assert overall.loc["Test images", "Value"] == "359"
    assert overall.loc["Mcnemar's Test P-Value", "Value"] == "NA"
    assert list(per_class.index)[:4] == ["Sensitivity", "Specificity", "Pos Pred Value",
                                         "Neg Pred Value"]  # fmt: skip
    cells = [*overall["Value"], *per_class.to_numpy().ravel()]
    assert not any(c in ("None", "nan", "") or "e+" in c for c in cells)


def _model_view_links(at: AppTest) -> list[str]:
    return [link.proto.query_string for link in at.get("page_link")
            if link.proto.label == "Open in model view"]  # fmt: skip


def test_a_likely_label_error_opens_in_the_model_view(finished_run):
    at = _evaluation_page()
    assert not at.exception
    ev = evaluation.evaluate_run(runs.open_run(finished_run.name))
    errors = ev.label_errors["index"].to_numpy()
    assert len(errors) >= 2
    query = f"source=test&index={{}}&run={finished_run.name}"
    # The mistakes' link and the label errors' link (the first error until one is clicked).
    assert query.format(errors[0]) in _model_view_links(at)
    assert f"Test image #{errors[0]:,} · given / model" in " ".join(t.value for t in at.text)
    # A click on the second error (what the chart keeps under its key) moves the link to it.
    from mnist_core.figures.digits import _CELLS_TRACE

    at.session_state["label_errors"] = {"selection": {"points": [
        {"curve_number": _CELLS_TRACE, "point_index": 1}]}}  # fmt: skip
    at.run()
    assert not at.exception
    links = _model_view_links(at)
    assert links[-1] == query.format(errors[1])  # the label errors come last on the page
    assert f"Test image #{errors[1]:,} · given / model" in " ".join(t.value for t in at.text)
