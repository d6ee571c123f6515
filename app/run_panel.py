"""A run's live panel: status, queue place or progress bar with time left, curves, Stop;
once finished, its test result; for a crashed run, the model it kept. Used by the Model
builder and Runs pages."""

from __future__ import annotations

import streamlit as st

from app.text import plain
from mnist_core import figures, runs
from mnist_core.runs.backend import used_backend

STATE_ICONS = {
    "queued": ":material/schedule:", "running": ":material/play_circle:",
    "done": ":material/check_circle:", "stopped": ":material/stop_circle:",
    "cancelled": ":material/cancel:", "diverged": ":material/trending_up:",
    "failed": ":material/error:", "damaged": ":material/warning:",
}  # fmt: skip


def run_panel(run_id: str) -> None:
    """A run's live view; polls the run folder every second while the run is active."""
    try:
        record = runs.open_run(run_id)
    except runs.RunError as exc:
        st.error(plain(exc))
        return
    active = record.status.active or runs.checkpoint_status(record).active
    st.fragment(run_every=1.0 if active else None)(_run_view)(run_id, active)


def _run_view(run_id: str, was_active: bool) -> None:
    try:
        record = runs.open_run(run_id)
    except runs.RunError as exc:  # deleted meanwhile
        st.error(plain(exc))
        return
    status, state = record.status, record.state
    if was_active and not (status.active or runs.checkpoint_status(record).active):
        st.rerun(scope="app")  # finished: draw the final view once, without polling
    st.markdown(
        f"**Run** `{record.run_id}` · {plain(record.name)} on {plain(record.dataset_name)} · "
        f"{STATE_ICONS.get(state, '')} **{state}**"
    )
    events = record.events()
    if state == "queued":
        st.info(f"Queued: {status.stage or 'waiting for a worker'}.", icon=":material/schedule:")
    progress = runs.progress_of(events)
    if state == "running":
        if progress is None:
            st.progress(0.0, text=f"{status.stage or 'starting'}…")
        else:
            left = f", about {duration(progress.seconds_left)} left" if progress.seconds_left else ""
            st.progress(
                progress.fraction,
                text=f"epoch {progress.epoch}/{progress.epochs} · batch {progress.batch}/"
                f"{progress.steps} · {duration(progress.elapsed)} elapsed{left}",
            )
    if status.active:
        if record.stop_requested:
            st.caption("Cancelling before it trains…" if state == "queued"
                       else "Stopping within a few batches…")  # fmt: skip
        elif st.button("Cancel" if state == "queued" else "Stop", key=f"stop-{record.run_id}",
                       icon=":material/stop_circle:"):  # fmt: skip
            st.caption(plain(runs.stop(record)))
    if any(e["type"] in ("batch", "epoch") for e in events):
        st.plotly_chart(figures.training.curves_figure(events), key=f"curves-{record.run_id}")
    if state in ("failed", "diverged", "damaged"):
        st.error(plain(status.error or f"The run {state}."))
    if state == "failed":
        _kept_checkpoint(record)
    if record.evaluated:
        _run_result(record)


def _kept_checkpoint(record: runs.RunRecord) -> None:
    """A crashed run's kept weights: say which epoch, and evaluate them on request."""
    kept = record.checkpoint()
    if kept is None:
        return
    _, epoch = kept
    if record.evaluated:
        st.caption(f"The test results below are those of the weights of epoch {epoch}, kept "
                   "when the worker died.")  # fmt: skip
        return
    job = runs.checkpoint_status(record)
    st.caption(f"The run kept the weights of epoch {epoch} before its worker died.")
    if job.active:
        st.progress(0.5, text=f"Evaluating them: {job.stage or 'starting'}…")
    elif st.button("Evaluate the kept model on the test set", key=f"ckpt-{record.run_id}",
                   icon=":material/fact_check:"):  # fmt: skip
        runs.evaluate_checkpoint(record)
        st.rerun()
    elif job.state == "failed":
        st.error(plain(job.error or "Evaluating the kept model failed."))


def _run_result(record: runs.RunRecord) -> None:
    summary = record.summary
    cols = st.columns(5)
    cols[0].metric("Test accuracy", f"{summary.test_accuracy:.2%}")
    cols[1].metric("Test loss", f"{summary.test_loss:.4f}")
    cols[2].metric("Epochs run", summary.epochs_run or "—")
    cols[3].metric("Parameters", f"{summary.params:,}" if summary.params else "—")
    per_epoch = summary.seconds_per_epoch
    used = used_backend(record)
    on = f" on {used['label']}" if used else ""
    cols[4].metric("Training time", duration(summary.wall_seconds),
                   help=f"{per_epoch:.2f} s per epoch{on}" if per_epoch else None)  # fmt: skip
    if used:
        st.caption(plain(f"Trained with Keras{on} ({used.get('reason') or 'as requested'})."))
    if record.state == "stopped":
        st.caption("Stopped on request; the weights reached so far were evaluated.")
    if summary.restored_best_epoch:
        st.caption(
            f"Early stopping restored the best weights, from epoch {summary.restored_best_epoch} "
            "(Keras does this at the end of training even when it did not stop early)."
        )


def duration(seconds: float | None) -> str:
    """``75.2`` → ``"1 min 15 s"``; None → ``"—"``."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
