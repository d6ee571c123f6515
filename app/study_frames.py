"""What the Studies page draws, as frames read from a study and its trials' runs: the
trials table for people, each run's objective per epoch, when each trial ended, and the
links a study's best trial opens.

Runs that have ended never change, so what is read from them is cached for the server;
live runs are read afresh on every poll.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app import loaders
from mnist_core import runs, studies
from mnist_core.data import NAMED_DATASETS
from mnist_core.models import ModelSpec
from mnist_core.studies.results import curve


def _run_facts(run_id: str, objective: str) -> tuple[dict[int, float], float | None, float | None]:
    """A run's objective per epoch, and when it started and ended (epoch seconds)."""
    try:
        record = runs.open_run(run_id)
    except runs.RunError:
        return {}, None, None
    return curve(record.events(), objective), record.status.started, record.status.finished


@st.cache_data(max_entries=5_000, show_spinner=False)
def _ended_run_facts(runs_folder: str, run_id: str, objective: str):
    return _run_facts(run_id, objective)


def run_facts(run_id: str, state: str, objective: str):
    if state in runs.FINAL:
        return _ended_run_facts(str(runs.runs_dir()), run_id, objective)
    return _run_facts(run_id, objective)


def curves_frame(record: studies.StudyRecord) -> pd.DataFrame:
    """One row per (trial, repeat, epoch): the objective there, and the trial's state."""
    rows = []
    for trial in record.trials:
        for repeat, result in enumerate(trial.results, start=1):
            values, _, _ = run_facts(result.run_id, result.state, record.plan.objective)
            rows += [{"trial": trial.number, "repeat": repeat, "epoch": epoch, "value": value,
                      "state": trial.state} for epoch, value in sorted(values.items())]  # fmt: skip
    return pd.DataFrame(rows, columns=["trial", "repeat", "epoch", "value", "state"])


def ended_points(record: studies.StudyRecord) -> pd.DataFrame:
    """One row per trial with a result: minutes from the study's first run's start to the
    trial's last run's end, its objective and state."""
    starts, rows = [], []
    for trial in record.trials:
        facts = [run_facts(r.run_id, r.state, record.plan.objective) for r in trial.results]
        starts += [started for _, started, _ in facts if started]
        ends = [finished for _, _, finished in facts]
        if trial.state in ("complete", "pruned") and ends and all(ends):
            rows.append({"trial": trial.number, "end": max(ends), "objective": trial.value,
                         "state": trial.state})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["trial", "end", "objective", "state"])
    origin = min(starts) if starts else 0.0
    frame["minutes"] = (frame["end"].astype(float) - origin) / 60
    return frame.drop(columns="end")


def trials_table(record: studies.StudyRecord) -> pd.DataFrame:
    """The trials for people: trial, state, a column per varied parameter, the objective at
    the best epoch (validation loss when it is the objective, and always the validation
    accuracy in %), with repeats its ± sd and the seeds finished, the best epoch, training
    time, a link to the trial's run, and a note (why it failed, where it was pruned)."""
    frame = record.trials_frame()
    plan = record.plan
    notes = []
    for trial in record.trials:
        if trial.state == "pruned" and trial.pruned_at is not None:
            notes.append(f"after epoch {trial.pruned_at}")
        else:
            notes.append(trial.error or "")
    table = pd.DataFrame({"trial": frame["trial"], "state": frame["state"]})
    for path in plan.space.paths:
        table[path] = frame[path].map(_cell)
    if plan.objective == "val_loss":
        table["val loss"] = pd.to_numeric(frame["val_loss"], errors="coerce")
    table["val acc"] = pd.to_numeric(frame["val_accuracy"], errors="coerce") * 100
    if plan.repeats > 1:
        scale = 100 if plan.objective == "val_accuracy" else 1
        table["± sd"] = pd.to_numeric(frame["sd"], errors="coerce") * scale
        table["seeds"] = frame["repeats"]
    table["best epoch"] = pd.to_numeric(frame["best_epoch"], errors="coerce")
    table["time (s)"] = pd.to_numeric(frame["seconds"], errors="coerce")
    table["run"] = [f"runs?run={run_id}" if run_id else None for run_id in frame["run_id"]]
    table["note"] = notes
    return table


def _cell(value):
    """A parameter's value in a table cell: numbers stay numbers (sortable); true/false
    and names as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def export_frame(record: studies.StudyRecord) -> pd.DataFrame:
    """The CSV export: the engine's trials frame as it is (full precision, run ids)."""
    return record.trials_frame()


def dataset_key(source: str) -> str | None:
    """The sidebar's key of a plan's dataset (a name, or an upload's path); None when the
    dataset is neither (a file outside the uploads folder)."""
    if source in NAMED_DATASETS:
        return source
    try:
        return loaders.key_of(source)
    except ValueError:
        return None


def best_spec(record: studies.StudyRecord) -> ModelSpec | None:
    """The spec the best trial's first run trained (the plan's, when the run is gone)."""
    best = record.best
    if best is None:
        return None
    try:
        spec = runs.open_run(best.run_ids[0]).spec
    except (runs.RunError, IndexError):
        spec = None
    return spec or record.plan.trial_spec(best.params, record.plan.seeds[0])


def builder_link(spec: ModelSpec, dataset: str | None) -> str:
    """A relative link that opens the Model builder on ``spec`` (and the dataset)."""
    query = {"spec": spec.to_url(), **({"dataset": dataset} if dataset else {})}
    return "builder?" + urlencode(query)
