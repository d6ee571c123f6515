"""benchmarks.page_cost serves each commit from its own exported tree."""

from __future__ import annotations

import subprocess

from benchmarks.common import ROOT
from benchmarks.page_cost import export


def test_export_writes_the_commits_files_as_committed(tmp_path):
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    tree = export(commit, tmp_path / "tree")
    committed = subprocess.run(["git", "show", f"{commit}:app/streamlit_app.py"], cwd=ROOT,
                               capture_output=True, check=True).stdout  # fmt: skip
    assert (tree / "app" / "streamlit_app.py").read_bytes() == committed
    assert not (tree / ".git").exists()
