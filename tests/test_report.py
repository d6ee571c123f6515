"""The HTML report and the evaluate/report commands, on a real finished run: contents,
escaping, and the output path's faults (a folder, a missing folder, /dev/full, a full or
read-only disk), each one sentence with exit status 2 and never a partial file."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_core import evaluation, runs
from mnist_core.evaluation import report
from tests.conftest import ROOT, fill_disk

HOSTILE = '<script>alert(1)</script>![t](http://127.0.0.1:9/x.png)<img src="http://127.0.0.1:9/y.png">'


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, check=False)  # fmt: skip


def test_report_is_self_contained_and_complete(finished_run):
    ev = evaluation.evaluate_run(runs.open_run(finished_run.name))
    text = report.build_report(ev)
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<script") >= 3 and 'src="http' not in text  # plotly inlined, nothing fetched
    for heading in ("Model", "Training curves", "Confusion matrix", "Statistics",
                    "The 25 most confident mistakes"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in text
    assert f"<b>{ev.overall['accuracy']:.2%}</b>" in text
    assert "<td>Dense 64 relu</td>" in text and "<td>4,160</td>" in text
    for name in ("Sensitivity", "Pos Pred Value", "Detection Prevalence", "Balanced Accuracy",
                 "No Information Rate", "P-Value [Acc &gt; NIR]", "95% CI", "Kappa"):  # fmt: skip
        assert f"<th>{name}</th>" in text
    assert "<th>Test images</th><td>359</td>" in text
    visible = re.sub(r"<script.*?</script>", "", text, flags=re.DOTALL)  # plotly.js aside
    for wrong in ("balanced_accuracy", "None", "nan", "e+0"):
        assert wrong not in visible
    # Print: figures wider than an A4 page are zoomed to fit it.
    assert "@media print" in text and "#figure-0 { zoom: 0.767; }" in text


def test_report_escapes_every_user_string(finished_run):
    record = runs.open_run(finished_run.name)
    hostile = dataclasses.replace(record, name=HOSTILE)
    ev = evaluation.evaluate_run(hostile)
    ev = dataclasses.replace(ev, class_names=(HOSTILE, *ev.class_names[1:]))
    text = report.build_report(ev)
    assert "<script>alert" not in text and "127.0.0.1:9/y.png\">" not in text
    assert "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;![t](http://127.0.0.1:9/x.png)" in text
    assert f"<title>Run {record.run_id}: &lt;script&gt;" in text


def test_cli_evaluate_prints_caret_statistics_as_json(finished_run):
    result = _cli("evaluate", finished_run.name)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    record = runs.open_run(finished_run.name)
    assert printed["run_id"] == record.run_id and printed["name"] == "ff64"
    assert printed["accuracy"] == pytest.approx(record.summary.test_accuracy, abs=1e-12)
    assert printed["accuracy_ci_low"] < printed["accuracy"] < printed["accuracy_ci_high"]
    assert set(printed["per_class"]) == {str(d) for d in range(10)}
    assert set(printed["per_class"]["0"]) == set(evaluation.PER_CLASS_STATISTICS)
    assert set(evaluation.OVERALL_STATISTICS) <= set(printed)
    bad = _cli("evaluate", "../etc")
    assert bad.returncode == 2 and bad.stderr.startswith("'../etc' is not a run id")
    missing = _cli("evaluate", "20000101-000000-abcdef")
    assert missing.returncode == 2 and missing.stderr.startswith("There is no run 20000101-000000-abcdef")
    assert "Traceback" not in bad.stderr + missing.stderr


def test_cli_report_writes_the_file(finished_run, tmp_path):
    out = tmp_path / "report.html"
    result = _cli("report", finished_run.name, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["report"] == str(out)
    assert out.stat().st_size > 1_000_000  # plotly.js is inside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "report.html"]  # no temporary


@pytest.mark.parametrize(
    "where, sentence",
    [
        ("folder", "{out} is a folder; pass a file name for the report, such as {out}/report.html.\n"),
        ("missing", "The folder {out_parent} does not exist; create it or write the report elsewhere.\n"),
        ("under_a_file", "{out_parent} is a file, not a folder; write the report into a folder.\n"),
        ("dev_full", "The report could not be written to /dev/full (No space left on device).\n"),
    ],
)  # fmt: skip
def test_cli_report_to_a_bad_path_says_why_in_one_sentence(finished_run, tmp_path, where, sentence):
    out = {
        "folder": tmp_path,
        "missing": tmp_path / "missing" / "dir" / "f.html",
        "under_a_file": tmp_path / "notes.txt" / "f.html",
        "dev_full": Path("/dev/full"),
    }[where]
    (tmp_path / "notes.txt").write_text("a file")
    result = _cli("report", finished_run.name, "-o", str(out))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == sentence.format(out=out, out_parent=out.parent)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "notes.txt"]


@pytest.mark.parametrize("filled", [False, True], ids=["fills-up-while-writing", "already-full"])
def test_cli_report_on_a_full_disk_leaves_no_partial_file(finished_run, small_disk, filled):
    out = small_disk / "report.html"
    out.write_text("the report of last week")
    if filled:
        fill_disk(small_disk)
    result = _cli("report", finished_run.name, "-o", str(out))
    assert result.returncode == 2, result.stdout
    assert result.stderr == (f"The disk holding {small_disk} is full: report.html could not be "
                             "written (No space left on device).\n")  # fmt: skip
    # The old report is intact, and nothing half-written is left beside it.
    assert out.read_text() == "the report of last week"
    assert sorted(p.name for p in small_disk.iterdir() if not p.name.startswith(".filler")) == [
        "report.html"
    ]


def test_cli_report_into_a_read_only_folder_says_so(finished_run, tmp_path, read_only):
    folder = read_only(tmp_path / "shared")
    result = _cli("report", finished_run.name, "-o", str(folder / "report.html"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"The folder {folder} is read-only here: report.html could "
                                    "not be written")  # fmt: skip
    assert list(folder.iterdir()) == []
