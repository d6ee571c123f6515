"""Streamlit caches of a run's evaluation and report, shared by all sessions.

Keyed by the run id and :func:`results_key` (the run's ``stamp``, which changes when its
results change, plus what the run's record says about them), so a re-evaluated run is never
served stale. The dataset comes through the app's shared dataset cache, so evaluating a run
does not load a second copy of MNIST.
"""

from __future__ import annotations

import json

import streamlit as st

from app.loaders import dataset_of_source
from mnist_core import runs
from mnist_core.data import DatasetError
from mnist_core.evaluation import RunEvaluation, evaluate_run
from mnist_core.evaluation.report import build_report


def results_key(record: runs.RunRecord) -> str:
    """What a run's evaluation depends on besides its id, as one string for the caches."""
    summary = record.summary.to_json() if record.summary else None
    return json.dumps([record.stamp, record.state, record.name, summary], default=str)


@st.cache_resource(show_spinner="Reading the run's predictions…", max_entries=16)
def run_evaluation(run_id: str, key: str) -> RunEvaluation:
    """:func:`~mnist_core.evaluation.evaluate_run` of run ``run_id`` (read-only, shared).
    Raises RunError (one sentence) when it cannot be evaluated; errors are not cached."""
    record = runs.open_run(run_id)
    try:
        data = dataset_of_source(record.dataset)
    except DatasetError as exc:
        raise runs.RunError(f"Run {run_id}: {exc}") from None
    return evaluate_run(record, dataset=data)


@st.cache_data(show_spinner="Writing the report…", max_entries=4)
def report_html(run_id: str, key: str) -> str:
    """The HTML report of run ``run_id`` (``key``: see :func:`results_key`)."""
    return build_report(run_evaluation(run_id, key))
