"""Streamlit caches of a run's evaluation and report, shared by all sessions."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.loaders import UPLOAD_PREFIX, dataset
from mnist_core import evaluation, runs
from mnist_core.data import NAMED_DATASETS, Dataset, load_dataset
from mnist_core.evaluation.report import build_report
from mnist_core.paths import uploads_dir


@st.cache_resource(show_spinner="Reading the run's predictions…", max_entries=16)
def run_evaluation(run_id: str, stamp: float) -> dict:
    """Everything the Evaluation page shows about a run, from its directory (``stamp``, the
    predictions file's mtime, keeps a replaced file from being served stale)."""
    directory = runs.run_path(run_id)
    info = runs.read_json(directory / "run.json") or {}
    probabilities, y_true, data = evaluation.run_predictions(
        directory, dataset=_dataset_of_run(str(info.get("dataset", "?")))
    )
    y_pred = probabilities.argmax(axis=1)
    return {
        "info": info,
        "summary": runs.read_json(directory / "summary.json") or {},
        "dataset": data,
        "probabilities": probabilities,
        "y_true": y_true,
        "y_pred": y_pred,
        "stats": evaluation.classification_stats(y_true, y_pred, class_names=data.class_names),
        "mistakes": evaluation.mistakes(y_true, probabilities),
        "label_errors": evaluation.likely_label_errors(y_true, probabilities, top=60),
    }


def _dataset_of_run(source: str) -> Dataset:
    """The dataset a run was trained on, through the shared caches where possible."""
    if source in NAMED_DATASETS:
        return dataset(source)
    path = Path(source)
    if path.is_relative_to(uploads_dir().resolve()):
        return dataset(UPLOAD_PREFIX + path.relative_to(uploads_dir().resolve()).as_posix())
    return _dataset_from_path(source)


@st.cache_resource(max_entries=4)
def _dataset_from_path(source: str) -> Dataset:
    return load_dataset(source, download=False)


@st.cache_data(show_spinner="Writing the report…", max_entries=4)
def report_html(run_id: str, stamp: float) -> str:
    return build_report(runs.run_path(run_id))
