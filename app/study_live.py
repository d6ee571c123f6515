"""A study followed live: where it is, Stop / Resume / Open best in builder / CSV, the
trials table and the figures (parallel coordinates, best so far against time, parameter
importance, the trials' curves, repeats as mean ± sd, a two-parameter grid's heat map).

The view polls the study folder every second while the driver is queued or running, and
stops polling when it ends; everything comes from the folder, so a reload, another tab or
a restarted server shows the same study.
"""

from __future__ import annotations

import streamlit as st

from app import study_frames
from app.run_panel import STATE_ICONS, duration
from app.text import plain
from mnist_core import figures, studies

MESSAGE = "study_message"  # (study id, sentence, failed) of the last Launch, Stop or Resume
POLL_SECONDS = 1.0
STUDY_ICONS = {**STATE_ICONS, "new": ":material/fiber_new:", "complete": ":material/check_circle:",
               "pruned": ":material/content_cut:"}  # fmt: skip


def study_panel(study_id: str) -> None:
    """The study's live view; polls while its driver is active."""
    try:
        record = studies.open_study(study_id)
    except studies.StudyError as exc:
        st.error(plain(exc))
        return
    active = record.status.active
    st.fragment(run_every=POLL_SECONDS if active else None)(_study_view)(study_id, active)


def _study_view(study_id: str, was_active: bool) -> None:
    try:
        record = studies.open_study(study_id)
    except studies.StudyError as exc:  # deleted meanwhile
        st.error(plain(exc))
        return
    if was_active and not record.status.active:
        st.rerun(scope="app")  # ended: draw the final view once, without polling
    header(record)
    if record.plan is None:
        return
    actions(record)
    table = study_frames.trials_table(record)
    if table.empty:
        st.info("No trial has started yet: the study's first runs are being created.",
                icon=":material/schedule:")  # fmt: skip
        return
    trials_table(record, table)
    study_figures(record)


# --------------------------------------------------------------------------- header


def header(record: studies.StudyRecord) -> None:
    plan, status, state = record.plan, record.status, record.state
    dataset = plan.dataset.rsplit("/", 1)[-1] if plan else "?"
    st.markdown(f"**Study** {plain(record.study_id)} · {plain(record.name)} on "
                f"{plain(dataset)} · {STUDY_ICONS.get(state, '')} **{state}**")  # fmt: skip
    if plan is None:
        st.error(plain(status.error or f"Study {record.study_id} cannot be read."))
        return
    search = {"grid": "grid", "random": "random search", "tpe": "TPE"}[plan.search]
    spaces = "; ".join(d.text() for d in plan.space.dimensions)
    where = f" · trials on the Ray cluster at {plan.address}" if plan.backend == "ray" else ""
    st.caption(plain(f"{search} over {spaces} · {plan.trials} trials × {plan.repeats} "
                     f"seed{'s' if plan.repeats != 1 else ''} · objective "
                     f"{figures.studies.objective_label(plan.objective)} at the best epoch"
                     f"{' · ' + plan.pruner + ' pruning' if plan.pruner else ''}{where}"))  # fmt: skip
    counts = record.counts()
    ended = sum(n for s, n in counts.items() if s in ("complete", "pruned", "failed"))
    if status.active:
        text = status.stage or ("waiting for a worker" if state == "queued" else "starting")
        st.progress(min(ended / max(plan.trials, 1), 1.0),
                    text=plain(f"{ended} of {plan.trials} trials ended · {text}"))  # fmt: skip
    elif status.error:
        st.error(plain(status.error))
    best = record.best
    cols = st.columns(4)
    cols[0].metric("Trials ended", f"{ended} / {plan.trials}",
                   help=", ".join(f"{n} {s}" for s, n in counts.items()) or "none yet")  # fmt: skip
    label = figures.studies.objective_label(plan.objective)
    if best is not None:
        value = f"{best.value:.2%}" if plan.objective == "val_accuracy" else f"{best.value:.4f}"
        cols[1].metric(f"Best {label}", value, help=f"trial {best.number}"
                       + (f", ± {best.sd:.2g} over {plan.repeats} seeds" if best.sd else ""))  # fmt: skip
        cols[2].metric("Best trial", f"#{best.number}",
                       help=plain(figures.studies.params_text(best.params, plan.space.paths)))  # fmt: skip
    else:
        cols[1].metric(f"Best {label}", "—")
        cols[2].metric("Best trial", "—")
    elapsed = (status.finished or status.updated or 0) - (status.started or 0)
    cols[3].metric("Driver time", duration(elapsed) if status.started else "—")
    if best is not None:
        st.caption(plain(f"Best so far: trial {best.number}, "
                         f"{figures.studies.params_text(best.params, plan.space.paths)}."))  # fmt: skip


# --------------------------------------------------------------------------- actions


def actions(record: studies.StudyRecord) -> None:
    """Stop / Resume, Open best in builder, Export trials (CSV)."""
    status, state = record.status, record.state
    c_stop, c_best, c_csv = st.columns([1, 1, 1], vertical_alignment="bottom")
    if status.active:
        stopping = record.stop_requested
        c_stop.button("Stopping…" if stopping else "Stop study", icon=":material/stop_circle:",
                      disabled=stopping, width="stretch", key=f"study-stop-{record.study_id}",
                      on_click=_stop, args=(record.study_id,),
                      help="Cancels its queued trials and stops the running ones within "
                           "a few batches; Resume goes on later.")  # fmt: skip
    else:
        c_stop.button("Resume", icon=":material/play_arrow:", width="stretch",
                      disabled=state == "done", key=f"study-resume-{record.study_id}",
                      on_click=_resume, args=(record.study_id,),
                      help="The study is done: every trial has a result." if state == "done"
                      else "Starts its driver again on the same Optuna study.")  # fmt: skip
    spec = study_frames.best_spec(record)
    if spec is None:
        c_best.button("Open best in builder", icon=":material/open_in_new:", disabled=True,
                      width="stretch", help="No trial is complete yet.",
                      key=f"study-best-{record.study_id}")  # fmt: skip
    else:
        link = study_frames.builder_link(spec, study_frames.dataset_key(record.plan.dataset))
        c_best.link_button("Open best in builder", link, icon=":material/open_in_new:",
                           width="stretch", help="Opens the best trial's model in the Model "
                           "builder, in a new tab.")  # fmt: skip
    frame = study_frames.export_frame(record)
    c_csv.download_button("Export trials (CSV)", frame.to_csv(index=False).encode(),
                          file_name=f"study-{record.study_id}.csv", mime="text/csv",
                          icon=":material/download:", on_click="ignore", width="stretch",
                          disabled=frame.empty, key=f"study-csv-{record.study_id}")  # fmt: skip
    message = st.session_state.get(MESSAGE)
    if message and message[0] == record.study_id:
        _, sentence, failed = message
        if failed:
            st.error(plain(sentence), icon=":material/error:")
        elif status.active:  # what Launch, Stop or Resume did; once it ended, its state says it
            st.info(plain(sentence), icon=":material/info:")


def say(study_id: str, sentence: str, *, failed: bool = False) -> None:
    """Keep what an action did (or why it could not) for the study's view."""
    st.session_state[MESSAGE] = (study_id, sentence, failed)


def _stop(study_id: str) -> None:
    try:
        say(study_id, studies.stop(studies.open_study(study_id)))
    except (studies.StudyError, OSError) as exc:
        say(study_id, str(exc), failed=True)


def _resume(study_id: str) -> None:
    try:
        studies.resume(studies.open_study(study_id))
    except (studies.StudyError, OSError) as exc:
        say(study_id, str(exc), failed=True)
    else:
        say(study_id, f"Study {study_id} resumed: its driver goes on with the same Optuna study.")


# --------------------------------------------------------------------------- table


def trials_table(record: studies.StudyRecord, table) -> None:
    plan = record.plan
    st.subheader("Trials")
    sd_help = (f"standard deviation of the {figures.studies.objective_label(plan.objective)} "
               "over the seeds" + (", in points" if plan.objective == "val_accuracy" else ""))
    config = {
        "trial": st.column_config.NumberColumn(width=44, pinned=True),
        "state": st.column_config.TextColumn(width=74, pinned=True),
        "val acc": st.column_config.NumberColumn(format="%.2f %%", width=72,
                                                 help="validation accuracy at the best epoch "
                                                      "(mean over the seeds)"),
        "val loss": st.column_config.NumberColumn(format="%.4f", width=72,
                                                  help="validation loss at the best epoch "
                                                       "(mean over the seeds)"),
        "± sd": st.column_config.NumberColumn(format="%.2f", width=56, help=sd_help),
        "seeds": st.column_config.NumberColumn(width=52, help="seeds (repeats) finished"),
        "best epoch": st.column_config.NumberColumn(format="%d", width=76),
        "time (s)": st.column_config.NumberColumn(format="%.1f", width=64,
                                                  help="training time (mean over the seeds)"),
        "run": st.column_config.LinkColumn(display_text="open", width=52,
                                           help="the trial's (first) run on the Runs page"),
        "note": st.column_config.TextColumn(width="medium", help="why a trial failed; the "
                                            "epoch after which a pruned one was stopped"),
    }  # fmt: skip
    for path in plan.space.paths:
        config[path] = st.column_config.Column(width=min(120, 24 + 8 * len(path)))
    if not table["note"].astype(bool).any():  # no failure, nothing pruned: no empty column
        table = table.drop(columns="note")
    st.dataframe(table, hide_index=True, width="stretch", column_config=config, placeholder="—",
                 key=f"study-table-{record.study_id}")  # fmt: skip


# --------------------------------------------------------------------------- figures


@st.cache_resource(max_entries=256, show_spinner=False)
def figure(builder: str, *args, **kwargs):
    """``figures.studies.<builder>(*args, **kwargs)``, built once per distinct data: the
    view polls every second and most polls change nothing, while building a plotly figure
    costs tens of milliseconds. (Figures are only read after this: never changed.)"""
    return getattr(figures.studies, builder)(*args, **kwargs)


def study_figures(record: studies.StudyRecord) -> None:
    plan, sid = record.plan, record.study_id
    frame = record.trials_frame()
    complete = frame[(frame["state"] == "complete") & frame["objective"].notna()]
    params = plan.space.paths
    if len(complete):
        st.subheader("Parallel coordinates")
        st.caption("One line per complete trial through its settings and its objective; the "
                   "best trials are bright. Drag along an axis to pick a range.")  # fmt: skip
        # No tool bar: it would sit on the last axis's title, and a parallel plot has no zoom.
        st.plotly_chart(figure("parallel_figure", frame, params=tuple(params),
                               objective=plan.objective),
                        key=f"study-parallel-{sid}", config={"displayModeBar": False})  # fmt: skip
    left, right = st.columns(2, gap="medium")
    with left:
        st.subheader("Best so far")
        points = study_frames.ended_points(record)
        if points.empty:
            st.caption("Drawn once a trial has ended.")
        else:
            st.plotly_chart(figure("best_so_far_figure", points, objective=plan.objective),
                            key=f"study-best-so-far-{sid}")  # fmt: skip
    with right:
        st.subheader("Parameter importance")
        importances = record.importances
        if importances:
            st.plotly_chart(figure("importance_figure", importances),
                            key=f"study-importance-{sid}")  # fmt: skip
            st.caption("Optuna's fANOVA over the complete trials: how much of the objective's "
                       "variance each setting explains.")  # fmt: skip
        else:
            st.caption(f"Needs at least 2 complete trials that differ in their settings "
                       f"({len(complete)} complete so far).")  # fmt: skip
    curves = study_frames.curves_frame(record)
    st.subheader("Curves")
    if curves.empty:
        st.caption("Drawn once a trial's first epoch has ended.")
    else:
        labels = {int(row["trial"]): f"trial {row['trial']}: "
                  + figures.studies.params_text(row, params) for _, row in frame.iterrows()}  # fmt: skip
        best = record.best
        st.plotly_chart(figure("curves_figure", curves, objective=plan.objective, labels=labels,
                               best=best.number if best else None),
                        key=f"study-curves-{sid}")  # fmt: skip
        st.caption(f"{figures.studies.objective_label(plan.objective).capitalize()} of every run "
                   "per epoch; pruned trials are dotted and end in a cross; the best trial is "
                   "drawn thicker.")  # fmt: skip
    grid = [d.path for d in plan.space.dimensions if not d.is_range]
    two_way = len(params) == 2 and len(grid) == 2
    if len(complete) and (plan.repeats > 1 or two_way):
        both = plan.repeats > 1 and two_way
        left, right = st.columns(2, gap="medium") if both else (st.container(), st.container())
        if plan.repeats > 1:
            with left:
                st.subheader("Repeats: mean ± sd")
                st.plotly_chart(figure("repeats_figure", frame, params=tuple(params),
                                       objective=plan.objective),
                                key=f"study-repeats-{sid}")  # fmt: skip
        if two_way:
            with right:
                st.subheader(f"{params[1]} × {params[0]}")
                st.plotly_chart(figure("grid_heatmap_figure", frame, x=params[0], y=params[1],
                                       objective=plan.objective),
                                key=f"study-heatmap-{sid}")  # fmt: skip
