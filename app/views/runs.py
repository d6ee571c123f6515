"""Runs: every training run in the cache, live or finished; pick one to see it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.widgets import ActiveDataset, active_dataset, run_panel
from mnist_core import runs


def render(active: ActiveDataset) -> None:
    st.title("Runs")
    all_runs = runs.list_runs()
    if not all_runs:
        st.info("No runs yet: train a model on the Model builder page.")
        return
    st.caption(f"{len(all_runs)} runs in `{runs.runs_dir()}`, newest first. "
               "Select a row to see the run.")  # fmt: skip
    table = pd.DataFrame([_row(run) for run in all_runs])
    event = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun",
        selection_mode="single-row", key="runs_table",
        column_config={"test accuracy": st.column_config.NumberColumn(format="%.2f%%")},
    )  # fmt: skip
    rows = event.selection.rows if event else []
    chosen = all_runs[rows[0]] if rows else None
    if chosen is None and st.query_params.get("run") in {r.run_id for r in all_runs}:
        chosen = next(r for r in all_runs if r.run_id == st.query_params["run"])
    if chosen is None:
        chosen = all_runs[0]
    st.query_params["run"] = chosen.run_id
    st.divider()
    run_panel(chosen.run_id)


def _row(run: runs.RunInfo) -> dict:
    summary = run.summary or {}
    accuracy = summary.get("test_accuracy")
    return {
        "run": run.run_id,
        "model": run.info.get("name", "?"),
        "dataset": _short(run.info.get("dataset", "?")),
        "state": run.state,
        "parameters": run.info.get("params"),
        "epochs": summary.get("epochs_run"),
        "test accuracy": None if accuracy is None else 100 * accuracy,
        "seconds": summary.get("wall_seconds"),
    }


def _short(dataset: str) -> str:
    return dataset.rsplit("/", 1)[-1]


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
