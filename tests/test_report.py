"""The HTML report and the evaluate/report commands, on a real finished run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from mnist_core import evaluation
from mnist_core.evaluation import report
from mnist_core.data import load_dataset
from tests.conftest import ROOT


def test_run_predictions_fit_the_dataset(finished_run):
    probabilities, y_true, dataset = evaluation.run_predictions(finished_run)
    assert probabilities.shape == (359, 10)
    np.testing.assert_array_equal(y_true, load_dataset("digits").y_test)


def test_report_is_self_contained_and_complete(finished_run):
    text = report.build_report(finished_run)
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<script") >= 3 and "src=\"http" not in text  # plotly inlined, nothing fetched
    for heading in ("Model", "Training curves", "Confusion matrix", "Statistics",
                    "The 25 most confident mistakes"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in text
    summary = json.loads((finished_run / "summary.json").read_text())
    assert f"{summary['test_accuracy']:.2%}" in text
    assert "balanced_accuracy" in text and "Dense 64 relu" in text


def test_cli_evaluate_and_report(finished_run, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)  # fmt: skip

    result = cli("evaluate", finished_run.name)
    assert result.returncode == 0, result.stderr
    overall = json.loads(result.stdout)
    summary = json.loads((finished_run / "summary.json").read_text())
    assert overall["accuracy"] == summary["test_accuracy"] and overall["n"] == 359
    assert overall["accuracy_ci_low"] < overall["accuracy"] < overall["accuracy_ci_high"]
    assert set(overall) == {"run_id", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
                            "no_information_rate", "p_value_acc_gt_nir", "kappa", "n",
                            "mismatches"}  # fmt: skip
    out = tmp_path / "report.html"
    result = cli("report", finished_run.name, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1_000_000  # plotly.js is inside
    bad = cli("evaluate", "../etc")
    assert bad.returncode == 2 and bad.stderr.startswith("'../etc' is not a run id")
