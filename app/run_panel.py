"""A training run's live panel: status, progress bar with time left, curves, Stop; once
finished, its test result. Used by the Model builder and Runs pages."""

from __future__ import annotations

import streamlit as st

from mnist_core import figures, runs
from mnist_core.runs import jobs


STATE_ICONS = {
    "queued": ":material/schedule:", "running": ":material/play_circle:",
    "done": ":material/check_circle:", "stopped": ":material/stop_circle:",
    "diverged": ":material/trending_up:", "failed": ":material/error:",
    "damaged": ":material/warning:", "missing": ":material/help:",
}  # fmt: skip


def run_panel(run_id: str) -> None:
    """A run's live view: status, progress bar with time left, curves, Stop button; once
    finished, its test result. Polls the run directory every second while it is active."""
    try:
        directory = runs.run_path(run_id)
    except runs.RunError as exc:
        st.error(str(exc))
        return
    active = runs.status_of(directory)["state"] in jobs.ACTIVE
    st.fragment(run_every=1.0 if active else None)(_run_view)(directory, active)


def _run_view(directory, was_active: bool) -> None:
    status = runs.status_of(directory)
    state = status["state"]
    if was_active and state not in jobs.ACTIVE:
        st.rerun(scope="app")  # finished: draw the final view once, without polling
    info = runs.read_json(directory / "run.json") or {}
    events = runs.read_events(directory)
    st.markdown(
        f"**Run `{directory.name}`** · {info.get('name', '?')} on {info.get('dataset', '?')} · "
        f"{STATE_ICONS.get(state, '')} **{state}**"
    )
    if state == "queued":
        st.info(f"Queued: {status.get('stage', 'waiting for a worker')}.", icon=":material/schedule:")
    progress = runs.progress_of(events)
    if state == "running":
        if progress is None:
            st.progress(0.0, text=f"{status.get('stage', 'starting')}…")
        else:
            left = f", about {_duration(progress.seconds_left)} left" if progress.seconds_left else ""
            st.progress(
                progress.fraction,
                text=f"epoch {progress.epoch}/{progress.epochs} · batch {progress.batch}/"
                f"{progress.steps} · {_duration(progress.elapsed)} elapsed{left}",
            )
    if state in jobs.ACTIVE:
        if runs.stop_requested(directory):
            st.caption("Stopping after the current batch…")
        elif st.button("Stop", key=f"stop-{directory.name}", icon=":material/stop_circle:"):
            runs.request_stop(directory)
            st.caption("Stopping after the current batch…")
    if any(e["type"] in ("batch", "epoch") for e in events):
        st.plotly_chart(figures.training_curves_figure(events), key=f"curves-{directory.name}")
    if state in ("failed", "diverged", "damaged"):
        st.error(status.get("error") or f"The run {state}.")
    summary = runs.read_json(directory / "summary.json")
    if summary and state in ("done", "stopped"):
        _run_result(summary, state)


def _run_result(summary: dict, state: str) -> None:
    cols = st.columns(5)
    cols[0].metric("Test accuracy", f"{summary['test_accuracy']:.2%}")
    cols[1].metric("Test loss", f"{summary['test_loss']:.4f}")
    cols[2].metric("Epochs run", summary.get("epochs_run") or "—")
    cols[3].metric("Parameters", f"{summary['params']:,}" if summary.get("params") else "—")
    per_epoch = summary.get("seconds_per_epoch")
    cols[4].metric("Training time", _duration(summary["wall_seconds"]),
                   help=f"{per_epoch:.2f} s per epoch" if per_epoch else None)  # fmt: skip
    notes = []
    if state == "stopped":
        notes.append("Stopped on request; the weights reached so far were evaluated.")
    if summary.get("restored_best_epoch"):
        notes.append(
            f"Early stopping restored the best weights, from epoch "
            f"{summary['restored_best_epoch']} (Keras does this at the end of training even "
            "when it did not stop early)."
        )
    for note in notes:
        st.caption(note)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
