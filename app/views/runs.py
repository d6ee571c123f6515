"""Runs: every run in the cache, live or finished. Compare them by their settings and
curves, weigh accuracy against time, stop or delete many at once, export histories, launch
a random-forest baseline. (The capacity grid is a study now: the Studies page's
*Capacity grid* step.)"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import loaders
from app.run_panel import run_panel
from app.sidebar import ActiveDataset, active_dataset
from app.text import plain
from mnist_core import figures, runs, studies

SELECTED_RUN = "selected_run"  # the run the user is looking at, shared by pages


def render(active: ActiveDataset) -> None:
    st.title("Runs")
    all_runs = runs.list_runs()
    launchers(active)
    if not all_runs:
        st.info("No runs yet: train a model on the Model builder page, launch a study on the "
                "Studies page, or fit a baseline above.")  # fmt: skip
        return
    labels = runs.distinguishing_labels(all_runs)
    table = runs_table(all_runs, labels)
    datasets = sorted(set(table["dataset"]))
    st.caption(f"{len(all_runs)} runs on {plain(', '.join(datasets))}, newest first (in "
               f"{plain(runs.runs_dir())}). Select rows to compare, stop or delete them; the first "
               "selected is shown in full below.")  # fmt: skip
    columns = [c for c in table.columns if c != "run"]
    if table["dataset"].nunique() == 1:  # the same for all: said in the caption instead
        columns.remove("dataset")
    event = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row",
        key="runs_table", column_order=columns, placeholder="—",
        column_config={
            "state": st.column_config.TextColumn(width=76, pinned=True),
            "run label": st.column_config.TextColumn(width=200, pinned=True),
            "dataset": st.column_config.TextColumn(width=80),
            "optimizer": st.column_config.TextColumn(width=72),
            "lr": st.column_config.NumberColumn(format="%g", width=56, help="learning rate"),
            "batch": st.column_config.NumberColumn(width=50),
            "epochs": st.column_config.TextColumn(width=62, help="epochs run / planned"),
            "params": st.column_config.NumberColumn(format="localized", width=76),
            "val acc": st.column_config.NumberColumn(
                format="%.2f %%", width=68,
                help="validation accuracy at the best epoch (the one of lowest validation loss)"),
            "test acc": st.column_config.NumberColumn(format="%.2f %%", width=68),
            "time (s)": st.column_config.NumberColumn(format="%.0f", width=62,
                                                      help="training time in seconds"),
        },
    )  # fmt: skip
    ticked = [all_runs[i] for i in (event.selection.rows if event else [])]
    # Shown (compared, in the panel) without a tick: the run last looked at. Acted on (stop,
    # delete): only the rows ticked.
    chosen = ticked
    remembered = st.session_state.get(SELECTED_RUN) or st.query_params.get("run")
    if not chosen and remembered in {r.run_id for r in all_runs}:
        chosen = [next(r for r in all_runs if r.run_id == remembered)]
    actions(ticked, all_runs, labels)
    compare(chosen, labels)
    tradeoff(table)
    st.divider()
    focus = chosen[0] if chosen else all_runs[0]
    st.session_state[SELECTED_RUN] = st.query_params["run"] = focus.run_id
    run_panel(focus.run_id)
    importances = focus.feature_importances()
    if importances is not None:
        st.markdown("**Feature importances** (which pixels the forest splits on)")
        st.plotly_chart(figures.runs.importance_figure(importances), width="content",
                        key="importances")  # fmt: skip


def runs_table(all_runs: list[runs.RunRecord], labels: dict[str, str]) -> pd.DataFrame:
    """One row per run: what it is, how it was trained, how it did. Numbers stay numbers
    (sortable); a value a run does not have is left empty."""
    rows = []
    for run in all_runs:
        summary, train = run.summary, run.spec.train if run.spec else None
        best = (summary.best if summary else None) or {}
        rows.append({
            "run": run.run_id,
            "state": run.state,
            "run label": labels[run.run_id],
            "dataset": run.dataset_name,
            "optimizer": train.optimizer if train else "forest",
            "lr": train.effective_learning_rate if train else None,
            "batch": train.batch_size if train else None,
            "epochs": f"{_epochs_run(run)} / {train.epochs}" if train else None,
            "params": run.params,
            "val acc": 100 * best["val_accuracy"] if best.get("val_accuracy") is not None else None,
            "test acc": 100 * summary.test_accuracy if summary and summary.test_accuracy is not None else None,
            "time (s)": summary.wall_seconds if summary else None,
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    for column in ("lr", "batch", "params", "val acc", "test acc", "time (s)"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _epochs_run(run: runs.RunRecord) -> int:
    """Epochs a run has finished: from its summary once it ended, from its events while it
    trains."""
    if run.summary is not None and run.summary.epochs_run is not None:
        return run.summary.epochs_run
    if run.state in ("running", "failed", "stopped"):
        return sum(e["type"] == "epoch" for e in run.events())
    return 0


def actions(ticked: list[runs.RunRecord], all_runs: list[runs.RunRecord],
            labels: dict[str, str]) -> None:
    """Stop, cancel or delete the ticked runs, or a whole study, at once."""
    if notice := st.session_state.pop("runs_notice", None):
        st.success(plain(notice))
    active_groups = sorted({r.group for r in all_runs if r.group and r.status.active})
    c_stop, c_delete, c_group = st.columns([1, 1, 2], vertical_alignment="bottom")
    active_ticked = [r for r in ticked if r.status.active]
    if c_stop.button(f"Stop selected ({len(active_ticked)})", icon=":material/stop_circle:",
                     disabled=not active_ticked, width="stretch", key="stop_selected"):  # fmt: skip
        for sentence in runs.stop_many(active_ticked):
            st.toast(plain(sentence))
    with c_delete.popover(f"Delete selected ({len(ticked)})", icon=":material/delete:",
                          disabled=not ticked, width="stretch"):  # fmt: skip
        st.markdown(f"Delete {len(ticked)} run{'s' if len(ticked) != 1 else ''} and all their "
                    "files? Runs still queued or training are kept: stop them first.")  # fmt: skip
        for run in ticked:
            st.caption(f"{plain(run.run_id)} · {plain(labels[run.run_id])} · {run.state}")
        if st.button("Delete", type="primary", key="confirm_delete"):
            deleted, refused = runs.delete_many(ticked)
            for sentence in refused:
                st.error(plain(sentence))
            if deleted:
                st.session_state["runs_notice"] = f"Deleted {deleted} run{'s' if deleted != 1 else ''}."
                if st.session_state.get(SELECTED_RUN) in {r.run_id for r in ticked}:
                    st.session_state.pop(SELECTED_RUN, None)
                    st.query_params.pop("run", None)
                if not refused:
                    st.rerun()
    for group in active_groups:
        pending = sum(r.group == group and r.status.active for r in all_runs)
        try:  # a study's runs: the study stops (its driver would start the next trials)
            study = studies.open_study(group)
        except studies.StudyError:
            study = None
        what = f"study {group}" if study else f"group {group}"
        if c_group.button(f"Stop the {plain(what)} ({pending} run{'s' if pending != 1 else ''} left)",
                          icon=":material/cancel:", key=f"cancel-{group}"):  # fmt: skip
            if study is not None:
                st.toast(plain(studies.stop(study)))
            else:
                sentences = runs.stop_group(group)
                st.toast(plain(f"{len(sentences)} runs of {group} cancelled or stopping."))


def compare(chosen: list[runs.RunRecord], labels: dict[str, str]) -> None:
    if not chosen:
        return
    history = runs.history_frame(chosen, labels=labels)
    c_smooth, c_csv = st.columns([2, 1], vertical_alignment="bottom")
    smoothing = c_smooth.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key="smoothing",
                                help="Exponential moving average; the raw curve stays faintly behind.")
    c_csv.download_button(
        "Export histories (CSV)", history.to_csv(index=False).encode(),
        file_name="histories.csv", mime="text/csv", icon=":material/download:",
        disabled=history.empty, width="stretch",
    )  # fmt: skip
    if history.empty:
        st.caption("The selected runs have no finished epoch yet (a baseline never has one).")
        return
    if smoothing > 0:  # smoothed here, drawn by the figure with the raw curve behind
        history = history.assign(smoothed=history.sort_values("epoch").groupby(
            ["run", "metric", "split"])["value"].transform(lambda v: runs.smooth(v.tolist(), smoothing)))
    st.plotly_chart(figures.runs.overlay_figure(history), key="overlay")


def tradeoff(table: pd.DataFrame) -> None:
    finished = table.dropna(subset=["test acc", "time (s)"])
    if len(finished) < 2:
        return
    st.subheader("Accuracy against training time")
    frame = finished.rename(columns={"run label": "label", "test acc": "test accuracy",
                                     "time (s)": "seconds"})  # fmt: skip
    st.plotly_chart(figures.runs.tradeoff_figure(frame), key="tradeoff")


def launchers(active: ActiveDataset) -> None:
    key, dataset = active
    with st.expander("Launch a baseline, or a capacity grid as a study"):
        left, right = st.columns(2, gap="large")
        with left, st.form("baseline_form"):
            st.markdown(f"**Random-forest baseline** (scikit-learn, {runs.BaselineSpec.trees} trees) "
                        f"fitted on a sample of the {len(dataset.x_train):,} training digits.")  # fmt: skip
            sample = st.number_input("training digits", 10, len(dataset.x_train),
                                     min(runs.BaselineSpec.sample, len(dataset.x_train)), step=500,
                                     key="baseline_sample")  # fmt: skip
            if st.form_submit_button("Fit baseline"):
                _launch([(runs.BaselineSpec(sample=int(sample)), None)], key, dataset)
        with right:
            st.markdown(f"**Capacity grid** ({studies.STUDY_PRESETS['capacity']}): a study now, "
                        "with its trials table, heat map, curves and pruning.")  # fmt: skip
            st.page_link("views/studies.py", label="Set up the capacity grid on the Studies page",
                         icon=":material/tune:", query_params={"tune": "capacity", "dataset": key})  # fmt: skip


def _launch(specs: list, key: str, dataset) -> None:
    """Create and queue a run per spec; one sentence on failure, nothing half-launched."""
    try:
        for spec, group in specs:
            record = runs.create_run(
                spec, dataset=loaders.source_of(key), fingerprint=dataset.fingerprint,
                input_shape=dataset.image_shape, n_classes=dataset.n_classes, group=group,
            )  # fmt: skip
            runs.start(record)
    except (ValueError, OSError) as exc:  # SpecError, RunError, StorageError
        st.error(plain(exc))
        return
    slots = runs.max_training()
    st.toast(f"{len(specs)} run{'s' if len(specs) > 1 else ''} queued; "
             f"{'one trains' if slots == 1 else f'{slots} train'} at a time.")  # fmt: skip


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
