"""evaluate_run on a real finished run; the report, the page and the CLI show its numbers."""

from __future__ import annotations

import dataclasses
import html
import json
import subprocess
import sys

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import evaluation, runs
from mnist_core.data import load_dataset
from mnist_core.diskcache import write_json_atomic
from mnist_core.evaluation import report, tables
from mnist_core.runs import states
from tests.conftest import ROOT

APP = str(ROOT / "app" / "streamlit_app.py")


def test_evaluate_run_holds_everything_the_views_need(finished_run):
    record = runs.open_run(finished_run.name)
    ev = evaluation.evaluate_run(record)
    digits = load_dataset("digits")
    np.testing.assert_array_equal(ev.y_true, digits.y_test)
    assert ev.probabilities.shape == (359, 10) and ev.class_names == tuple(digits.class_names)
    np.testing.assert_array_equal(ev.y_pred, ev.probabilities.argmax(axis=1))
    # The statistics agree with what the worker measured, and with each other.
    assert ev.overall["accuracy"] == pytest.approx(record.summary.test_accuracy, abs=1e-12)
    assert ev.overall["n"] == 359 == int(ev.confusion.sum())
    assert ev.overall["mismatches"] == len(ev.mistakes) == int((ev.y_pred != ev.y_true).sum())
    assert set(ev.label_errors["index"]) <= set(ev.mistakes["index"])
    assert [e["epoch"] for e in ev.curves if e["type"] == "epoch"] == [1, 2, 3]
    assert ev.weights == "weights of epoch 3 (the last)"
    # The dataset can be handed in (the page's shared cache): the same numbers.
    again = evaluation.evaluate_run(record, dataset=digits)
    assert again.to_json() == ev.to_json()


def test_a_crashed_run_evaluated_from_its_checkpoint_says_which_weights(finished_run):
    record = runs.open_run(finished_run.name)
    record.write_summary(dataclasses.replace(record.summary, from_checkpoint=True, model_epoch=2))
    write_json_atomic(record.directory / states.STATUS_FILE, dataclasses.replace(
        record.status, state="failed", error="The worker process stopped unexpectedly.").to_json())  # fmt: skip
    crashed = runs.open_run(record.run_id)
    assert crashed.state == "failed" and crashed.evaluated
    ev = evaluation.evaluate_run(crashed)
    assert ev.weights == "weights of epoch 2 (kept when the worker died)"
    assert "Failed, weights of epoch 2 (kept when the worker died)" in report.build_report(ev)


def test_a_run_without_results_or_with_changed_data_is_refused_in_one_sentence(finished_run):
    record = runs.open_run(finished_run.name)
    no_results = dataclasses.replace(record, summary=None)
    with pytest.raises(runs.RunError, match=rf"^Run {record.run_id} has no test results to "
                       r"evaluate \(it is done\); evaluate a finished or stopped run\.$"):  # fmt: skip
        evaluation.evaluate_run(no_results)
    other = dataclasses.replace(record, fingerprint="0" * 16)
    with pytest.raises(runs.RunError, match=rf"^Run {record.run_id}: its dataset digits changed "
                       r"since it was trained\.$"):  # fmt: skip
        evaluation.evaluate_run(other)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, check=False)  # fmt: skip


def test_report_page_and_cli_show_the_same_numbers(finished_run, tmp_path):
    run_id = finished_run.name
    ev = evaluation.evaluate_run(runs.open_run(run_id))
    overall = ev.overall

    # The CLI prints evaluate_run's numbers.
    result = _cli("evaluate", run_id)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    for key in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "kappa",
                "p_value_acc_gt_nir", "no_information_rate"):  # fmt: skip
        assert printed[key] == overall[key], key
    assert printed["n"] == 359 and printed["mismatches"] == overall["mismatches"]
    assert printed["mcnemar_p_value"] is None or printed["mcnemar_p_value"] == overall["mcnemar_p_value"]
    assert printed["per_class"]["7"]["balanced_accuracy"] == ev.per_class.loc["7", "balanced_accuracy"]
    assert printed["weights"] == ev.weights

    # The report's tables are evaluate_run's, as text.
    out = tmp_path / "report.html"
    result = _cli("report", run_id, "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for name, value in tables.overall_table(ev.stats)["Value"].items():
        assert f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" in text
    per_class = tables.per_class_table(ev.stats)
    row = "".join(f"<td>{v}</td>" for v in per_class.loc["Balanced Accuracy"])
    assert f"<tr><th>Balanced Accuracy</th>{row}</tr>" in text
    assert f"<b>{overall['accuracy']:.2%}</b>" in text
    assert f"<b>{overall['mismatches']} of 359</b>" in text

    # The page shows the same.
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.run()
    at.switch_page("views/evaluate.py").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{overall['accuracy']:.2%}"
    assert metrics["Kappa"] == tables.format_ratio(overall["kappa"])
    assert metrics["Mismatches"] == f"{overall['mismatches']:,}"
    shown_overall, shown_per_class = at.dataframe[0].value, at.dataframe[1].value
    assert shown_overall["Value"].to_dict() == tables.overall_table(ev.stats)["Value"].to_dict()
    assert shown_per_class.equals(per_class)
    assert "Pos Pred Value" in shown_per_class.index
