"""Runs: every run in the cache, live or finished. Compare curves, weigh accuracy against
time, export histories, delete runs, launch a capacity grid or a random-forest baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import loaders
from app.run_panel import run_panel
from app.sidebar import ActiveDataset, active_dataset
from mnist_core.runs import baseline
from mnist_core import figures, runs
from mnist_core.models.spec import GRID_DEPTHS, GRID_UNITS, capacity_grid


def render(active: ActiveDataset) -> None:
    st.title("Runs")
    all_runs = runs.list_runs()
    launchers(active)
    if not all_runs:
        st.info("No runs yet: train a model on the Model builder page, or launch a grid or "
                "a baseline above.")  # fmt: skip
        return
    table = pd.DataFrame([_row(run) for run in all_runs])
    st.caption(f"{len(all_runs)} runs in `{runs.runs_dir()}`, newest first. Select rows to "
               "compare them; the first selected is shown in full below.")  # fmt: skip
    event = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun",
        selection_mode="multi-row", key="runs_table",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.2f %%"),
            "best val accuracy": st.column_config.NumberColumn(format="%.2f %%"),
            "seconds": st.column_config.NumberColumn("training s", format="%.1f"),
        },
    )  # fmt: skip
    chosen = [all_runs[i] for i in (event.selection.rows if event else [])]
    if not chosen and st.query_params.get("run") in {r.run_id for r in all_runs}:
        chosen = [next(r for r in all_runs if r.run_id == st.query_params["run"])]
    compare(chosen)
    tradeoff(table)
    grid_results(all_runs)
    st.divider()
    focus = chosen[0] if chosen else all_runs[0]
    st.query_params["run"] = focus.run_id
    run_panel(focus.run_id)
    importances = focus.directory / "feature_importances.npy"
    if importances.exists():
        st.markdown("**Feature importances** (which pixels the forest splits on)")
        st.plotly_chart(figures.importance_figure(np.load(importances)), width="content",
                        key="importances")  # fmt: skip


def _row(run: runs.RunInfo) -> dict:
    summary = run.summary or {}
    best = summary.get("best") or {}
    accuracy = summary.get("test_accuracy")
    best_acc = best.get("val_accuracy")
    return {
        "run": run.run_id,
        "model": run.info.get("name", "?"),
        "dataset": str(run.info.get("dataset", "?")).rsplit("/", 1)[-1],
        "parameters": run.info.get("params"),
        "epochs": summary.get("epochs_run"),
        "best val accuracy": None if best_acc is None else 100 * best_acc,
        "best epoch": best.get("epoch"),
        "test accuracy": None if accuracy is None else 100 * accuracy,
        "seconds": summary.get("wall_seconds"),
        "state": run.state,
    }


def compare(chosen: list[runs.RunInfo]) -> None:
    if not chosen:
        return
    history = runs.history_frame([r.directory for r in chosen])
    c_smooth, c_csv, c_delete = st.columns([2, 1, 1], vertical_alignment="bottom")
    smoothing = c_smooth.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key="smoothing",
                                help="Exponential moving average; the raw curve stays faintly behind.")
    c_csv.download_button(
        "Export histories (CSV)", history.to_csv(index=False).encode(),
        file_name="histories.csv", mime="text/csv", icon=":material/download:",
        disabled=history.empty, width="stretch",
    )  # fmt: skip
    with c_delete.popover("Delete selected", icon=":material/delete:", width="stretch"):
        st.write(f"Delete {len(chosen)} run{'s' if len(chosen) > 1 else ''} and all their files?")
        if st.button("Delete", type="primary", key="confirm_delete"):
            problems = []
            for run in chosen:
                try:
                    runs.delete_run(run.directory)
                except runs.RunError as exc:
                    problems.append(str(exc))
            for problem in problems:
                st.error(problem)
            if not problems:
                st.query_params.pop("run", None)
                st.rerun()
    if history.empty:
        st.caption("The selected runs have no epoch history (baselines have none).")
        return
    st.plotly_chart(figures.runs_overlay_figure(history, smoothing=smoothing), key="overlay")


def tradeoff(table: pd.DataFrame) -> None:
    finished = table.dropna(subset=["test accuracy", "seconds"])
    if len(finished) < 2:
        return
    st.subheader("Accuracy against training time")
    st.plotly_chart(figures.tradeoff_figure(finished), key="tradeoff")


def launchers(active: ActiveDataset) -> None:
    key, dataset = active
    with st.expander("Launch a capacity grid or a baseline"):
        left, right = st.columns(2, gap="large")
        with left, st.form("grid_form"):
            st.markdown(f"**Capacity grid** on {loaders.title_of(key)}: dense networks of "
                        f"{', '.join(map(str, GRID_UNITS))} units × {', '.join(map(str, GRID_DEPTHS))} "
                        "hidden layers, 12 runs through the same queue.")  # fmt: skip
            epochs = st.number_input("epochs per run", 1, 100, 5, key="grid_epochs")
            if st.form_submit_button("Launch grid"):
                for spec in capacity_grid(epochs=int(epochs)):
                    runs.start(runs.create_run(
                        spec, dataset=loaders.source_of(key), fingerprint=dataset.fingerprint,
                        input_shape=dataset.image_shape, n_classes=dataset.n_classes,
                    ))  # fmt: skip
                st.toast("12 grid runs queued; they train one after another.")
        with right, st.form("baseline_form"):
            st.markdown(f"**Random-forest baseline** (scikit-learn, {baseline.DEFAULT_TREES} trees) "
                        f"fitted on a sample of the {len(dataset.x_train):,} training digits.")  # fmt: skip
            sample = st.number_input("training digits", 10, len(dataset.x_train),
                                     min(baseline.DEFAULT_SAMPLE, len(dataset.x_train)), step=500,
                                     key="baseline_sample")  # fmt: skip
            if st.form_submit_button("Fit baseline"):
                baseline.create_baseline_run(
                    dataset=loaders.source_of(key), fingerprint=dataset.fingerprint,
                    input_shape=dataset.image_shape, n_classes=dataset.n_classes, sample=int(sample),
                )  # fmt: skip
                st.toast("Baseline queued.")


def grid_results(all_runs: list[runs.RunInfo]) -> None:
    cells = []
    for run in all_runs:
        name = str(run.info.get("name", ""))
        best = (run.summary or {}).get("best") or {}
        if name.startswith("grid ") and best.get("val_loss") is not None:
            units, depth = name.removeprefix("grid ").split("x")
            cells.append({"run": run.run_id, "units": int(units), "hidden layers": int(depth),
                          "best val_loss": best["val_loss"], "best epoch": best["epoch"],
                          "test accuracy": 100 * (run.summary or {}).get("test_accuracy", 0)})  # fmt: skip
    if not cells:
        return
    st.subheader("Capacity grid")
    frame = pd.DataFrame(cells).sort_values("best val_loss")
    # The newest run of each cell counts when a grid was launched more than once.
    latest = frame.sort_values("run", ascending=False).drop_duplicates(["units", "hidden layers"])
    left, right = st.columns([1, 1])
    left.dataframe(latest.sort_values("best val_loss"), hide_index=True, width="stretch",
                   column_config={"test accuracy": st.column_config.NumberColumn(format="%.2f %%")})
    right.plotly_chart(figures.grid_heatmap_figure(latest), key="grid_heatmap")


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
