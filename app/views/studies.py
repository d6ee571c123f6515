"""Studies: tune a model by training many variants of it. Define the space from the Model
builder's spec, a preset or a tutorial step, launch, and follow the trials live; stop,
resume, open the best in the builder, export the trials.

The study shown is picked at the top and kept in the URL (``?study=ID``), so a study is
followed from any tab and after a server restart: everything shown comes from its folder.
"""

from __future__ import annotations

import streamlit as st

from app import loaders, page_state
from app import study_form as form
from app.sidebar import ActiveDataset, active_dataset
from app.study_live import say, study_panel
from app.text import plain
from mnist_core import studies

CHOICE = "study_choice"  # the picker: NEW or a study id
NEW = "new"
LAUNCH_ERROR = "study_launch_error"


def render(active: ActiveDataset) -> None:
    st.title("Studies")
    st.caption("A study trains many variants of one model, searched by Optuna (grid, random "
               "or TPE), and compares them on validation data at their best epoch. Each "
               "trial is an ordinary run: it is listed on the Runs page and evaluated like "
               "any other.")  # fmt: skip
    chosen = study_picker()
    if chosen == NEW:
        new_study(active)
    else:
        study_panel(chosen)


# --------------------------------------------------------------------------- picker


def study_picker() -> str:
    """A new study or one of the studies in the cache, newest first (``?study=``)."""
    records = {r.study_id: r for r in studies.list_studies()}
    options = [NEW, *records]
    wanted = st.query_params.get("study")
    if wanted and wanted not in records and CHOICE not in st.session_state:
        try:
            studies.open_study(wanted)
        except studies.StudyError as exc:  # a hand-made or stale link: said, as plain text
            st.error(plain(f"{exc} Pick a study below or define a new one."))
    page_state.restore(CHOICE, NEW, options=options, url="study")

    def label(option: str) -> str:
        if option == NEW:
            return "New study…"
        record = records[option]  # no state here: a label may not be redrawn when it changes
        dataset = record.plan.dataset.rsplit("/", 1)[-1] if record.plan else "?"
        return f"{option} · {record.name} on {dataset}"

    chosen = st.selectbox(f"Study ({len(records)} in {studies.studies_dir()})", options,
                          key=CHOICE, format_func=label)  # fmt: skip
    page_state.remember(CHOICE, url="study")
    return chosen


# --------------------------------------------------------------------------- new study


def new_study(active: ActiveDataset) -> None:
    key, _ = active
    st.subheader("New study")
    base, signature = form.base_picker()
    for note in st.session_state.pop(form.NOTES, []):  # a link's spec or step that was wrong
        st.error(plain(note))
    st.caption(plain(f"Base: {form.describe(base)}."))
    form.tutorial_steps(base, signature)
    st.markdown("**What varies**")
    vary = form.space_fields(base)
    st.markdown("**Search**")
    options = form.search_fields(base, [v.partition("=")[0] for v in vary])
    plan, problem = (None, "Pick at least one parameter to vary.") if not vary else (
        form.make_plan(base, vary, options, active))  # fmt: skip
    c_plan, c_launch = st.columns([4, 1], vertical_alignment="center")
    if problem:
        c_plan.error(plain(problem), icon=":material/error:")
    else:
        c_plan.success(plain(form.plan_text(plan, loaders.plain_title(key))),
                       icon=":material/check_circle:")  # fmt: skip
    c_launch.button("Launch", type="primary", icon=":material/rocket_launch:", width="stretch",
                    disabled=plan is None, key="study_launch", on_click=_launch, args=(plan,))  # fmt: skip
    if error := st.session_state.pop(LAUNCH_ERROR, None):
        st.error(plain(error))


def _launch(plan: studies.StudyPlan) -> None:
    """Launch's callback: create and start the study, then show it (the picker moves to it
    before it is drawn)."""
    study_id, error = form.launch(plan)
    if study_id is None:
        st.session_state[LAUNCH_ERROR] = error
        return
    say(study_id, f"Study {study_id} launched: {plan.trials} trials of {plan.repeats} "
        f"run{'s' if plan.repeats != 1 else ''} each go through the training queue.")  # fmt: skip
    st.session_state[CHOICE] = study_id
    page_state.keep_value(CHOICE, study_id, url="study")


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
