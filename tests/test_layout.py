"""The architecture, checked: the folders say what the code does, and the rules that keep
it so hold (issue: one run record, one evaluation, one layer registry)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

RUN_FILES = ("run.json", "spec.json", "summary.json", "status.json", "events.jsonl",
             "model.keras", "test_probabilities.npy", "feature_importances.npy",
             "checkpoint-last", "checkpoint-best", "worker.log", "model.onnx",
             "train-features")  # fmt: skip


def _sources(folder: str) -> list:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("app"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_names_a_run_file(path):
    text = path.read_text()
    assert [name for name in RUN_FILES if name in text] == []


def test_only_the_run_package_names_a_run_file():
    offenders = {
        str(path.relative_to(ROOT)): [name for name in RUN_FILES if f'"{name}' in path.read_text()]
        for path in _sources("mnist_core")
        if "runs" not in path.relative_to(ROOT / "mnist_core").parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("path", _sources("mnist_core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_never_imports_streamlit(path):
    assert not re.search(r"^\s*(import|from)\s+streamlit", path.read_text(), re.M)


@pytest.mark.parametrize("path", _sources("mnist_core") + _sources("app"),
                         ids=lambda p: str(p.relative_to(ROOT)))  # fmt: skip
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 420, f"{path.name} has {lines} lines; split it by idea"


def test_the_engine_is_grouped_by_subject():
    packages = {p.name for p in (ROOT / "mnist_core").iterdir() if (p / "__init__.py").exists()}
    assert packages >= {"data", "embeddings", "models", "runs", "evaluation", "figures"}
