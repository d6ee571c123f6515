"""Evaluation: how a run does on the test set, drawn from its ``evaluate_run``.

The run picker, the headline (accuracy with its interval) and the report, the confusion
matrix (click a cell for its digits), caret's statistics, the mistakes, the mismatch plot,
the likely label errors.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import run_cache
from app.inside_links import model_view_link
from app.run_picker import SELECTED_RUN, asked_run, best_run
from app.run_picker import run_picker as shared_picker
from app.sidebar import ActiveDataset, active_dataset
from app.text import plain
from mnist_core import evaluation, figures, runs
from mnist_core.evaluation import RunEvaluation, tables

NORMALIZATION_LABELS = {"true": "by true class", "pred": "by predicted class", "all": "of all",
                        "none": "counts only"}  # fmt: skip
GALLERY_MAX = 100
PICKER = "eval_run"


def render(active: ActiveDataset) -> None:
    st.title("Evaluation")
    evaluated = [r for r in runs.list_runs() if r.evaluated]
    if not evaluated:
        st.info("No finished run yet: train one on the Model builder page.")
        return
    run = run_picker(evaluated)
    try:
        ev = run_cache.run_evaluation(run.run_id, run_cache.results_key(run))
    except runs.RunError as exc:
        st.error(plain(exc))
        return
    except OSError as exc:
        from mnist_core.diskcache import storage_error

        st.error(plain(storage_error(exc, run.directory)))
        return
    headline(ev)
    confusion_section(ev)
    statistics_section(ev)
    mistakes_section(ev)
    st.subheader("Mismatches: true against predicted")
    st.caption("Errors only; each bubble is one kind of mistake, sized by how often it happens.")
    st.plotly_chart(figures.evaluation.mismatch_figure(ev.confusion, class_names=ev.class_names),
                    key="mismatch")  # fmt: skip
    label_errors_section(ev)


def run_picker(records: list[runs.RunRecord]) -> runs.RunRecord:
    """The run to show: ``?run=``, else the run the user was looking at on another page,
    else the best finished run. Kept for the session and in the URL."""
    asked = asked_run(records, missing="has no test results to show")
    ids = {r.run_id for r in records}
    shown = next((c for c in (asked, st.session_state.get(SELECTED_RUN)) if c in ids),
                 best_run(records).run_id)  # fmt: skip
    return shared_picker(records, shown, key=PICKER)


def headline(ev: RunEvaluation) -> None:
    overall, run = ev.overall, ev.run
    ci = f"{overall['accuracy_ci_low']:.2%} – {overall['accuracy_ci_high']:.2%}"
    cols = st.columns(5)
    cols[0].metric("Test accuracy", f"{overall['accuracy']:.2%}", help=f"Exact 95% interval: {ci}")
    cols[0].caption(f"95% CI {ci}")
    cols[1].metric("Kappa", tables.format_ratio(overall["kappa"]))
    cols[2].metric("Mismatches", tables.format_count(overall["mismatches"]))
    cols[2].caption(f"of {tables.format_count(overall['n'])} test images")
    summary = run.summary
    cols[3].metric("Parameters", tables.format_count(summary.params if summary else None))
    seconds = summary.wall_seconds if summary else None
    cols[4].metric("Training time", tables.NA if seconds is None else f"{seconds:,.0f} s",
                   help=f"{summary.epochs_run or 'no'} epochs" if summary else None)  # fmt: skip
    # User strings (the run's name, an upload's file name) as text, never Markdown.
    about = f"Run {run.run_id}, {run.name} on {run.dataset_name}"
    if run.state == "done":
        st.text(f"{about}: results of the {ev.weights}.")
    else:
        st.text(f"{about}, is {run.state}: its results are those of the {ev.weights}.")
    st.download_button(
        # Built on click (on another thread), so opening the page never waits for it.
        "Download report (HTML)",
        data=lambda: run_cache.report_html(run.run_id, run_cache.results_key(run)),
        file_name=f"report-{run.run_id}.html", mime="text/html", icon=":material/download:",
        help="One self-contained file: model, summary, curves, confusion matrix, statistics and "
        "the 25 most confident mistakes. Opens offline and prints on A4 or letter.",
    )  # fmt: skip


def confusion_section(ev: RunEvaluation) -> None:
    st.subheader("Confusion matrix")
    how = st.segmented_control(
        "Percentages", list(NORMALIZATION_LABELS), format_func=NORMALIZATION_LABELS.get,
        default="true", required=True, key="cm_normalization",
    )  # fmt: skip
    cm, names = ev.confusion, ev.class_names
    chart_key = f"cm-{ev.run.run_id}"
    cell = figures.evaluation.clicked_cell(st.session_state.get(chart_key))
    # The matrix gets the page's whole width (at 1,280 px it needs most of it); the digits
    # of the clicked cell come below it.
    st.caption("Click a cell to see its digits.")
    st.plotly_chart(
        figures.evaluation.confusion_figure(
            cm, class_names=names,
            normalized=None if how == "none" else evaluation.normalize(cm, how),
            normalization_label=NORMALIZATION_LABELS[how], selected=cell,
        ),
        key=chart_key, on_select="rerun", selection_mode="points", width="content",
        config={"displayModeBar": False},
    )  # fmt: skip
    if cell is None:
        st.caption("No cell chosen yet.")
        return
    true, pred = cell
    rows = np.flatnonzero((ev.y_true == true) & (ev.y_pred == pred))
    st.text(f"True {names[true]}, predicted {names[pred]}: {len(rows):,} digits"
            + (f" (the first {GALLERY_MAX} shown)" if len(rows) > GALLERY_MAX else ""))  # fmt: skip
    if len(rows):
        picked = _gallery(ev, rows[:GALLERY_MAX], key=f"cell_gallery-{true}-{pred}", columns=10,
                          clickable=True)  # fmt: skip
        index = int(rows[picked or 0])
        st.caption(f"Test image #{index:,}" + ("" if picked is not None else
                   " (the first; click another)"))  # fmt: skip
        model_view_link("test", index, run_id=ev.run.run_id)


def statistics_section(ev: RunEvaluation) -> None:
    st.subheader("Statistics")
    st.caption("R caret's `confusionMatrix(mode = \"everything\")`: overall, then each class "
               "against all others. NA where a ratio is 0/0.")  # fmt: skip
    left, _ = st.columns([2, 3])
    name_column = {"_index": st.column_config.TextColumn("Statistic", width=180)}
    with left:
        st.dataframe(tables.overall_table(ev.stats), width="stretch", height="content",
                     column_config={**name_column, "Value": st.column_config.TextColumn(
                         alignment="right")})  # fmt: skip
    per_class = tables.per_class_table(ev.stats)
    st.dataframe(per_class, width="stretch", height="content", column_config={
        **name_column,
        **{str(c): st.column_config.TextColumn(str(c), alignment="right") for c in per_class.columns},
    })  # fmt: skip


def mistakes_section(ev: RunEvaluation) -> None:
    mistakes, names = ev.mistakes, ev.class_names
    st.subheader(f"Mistakes ({len(mistakes):,})")
    c_true, c_pred = st.columns(2)
    options = [None, *range(len(names))]

    def show(c):
        return "any" if c is None else names[c]

    true = c_true.selectbox("True class", options, format_func=show, key="mistakes_true")
    pred = c_pred.selectbox("Predicted class", options, format_func=show, key="mistakes_pred")
    chosen = mistakes
    if true is not None:
        chosen = chosen[chosen["true"] == true]
    if pred is not None:
        chosen = chosen[chosen["predicted"] == pred]
    if chosen.empty:
        st.caption("No mistakes of that kind.")
        return
    st.caption(f"{len(chosen):,} mistakes, most confident first"
               + (f"; the first {GALLERY_MAX} shown" if len(chosen) > GALLERY_MAX else "")
               + ". Each digit reads true→predicted and the model's confidence in its "
               "prediction. Click one for its three most probable classes.")  # fmt: skip
    shown = chosen.head(GALLERY_MAX)
    left, right = st.columns([2, 1])
    with left:
        captions = [tables.mistake_caption(names, t, p, c) for t, p, c in
                    zip(shown["true"], shown["predicted"], shown["confidence"])]  # fmt: skip
        picked = _gallery(ev, shown["index"].to_numpy(), key=f"mistakes-{true}-{pred}",
                          captions=captions, clickable=True)  # fmt: skip
    with right:
        position = picked or 0
        index = int(shown["index"].iloc[position])
        given, predicted = int(ev.y_true[index]), int(ev.y_pred[index])
        st.text(f"Test image #{index:,} · true→predicted {captions[position]}")
        # The bars name the same classes as the caption: which one is true, which predicted.
        bar_names = [f"{n} (true)" if i == given else f"{n} (predicted)" if i == predicted else n
                     for i, n in enumerate(names)]  # fmt: skip
        st.plotly_chart(figures.evaluation.top_probabilities_figure(
            ev.probabilities[index], class_names=tuple(bar_names)),
            key="top3", config={"displayModeBar": False})  # fmt: skip
        model_view_link("test", index, run_id=ev.run.run_id)


def label_errors_section(ev: RunEvaluation) -> None:
    errors, names = ev.label_errors, ev.class_names
    st.subheader("Likely label errors")
    st.caption(
        "The test digits whose given label the model finds least likely (ranked by the "
        "probability of the given label, as cleanlab's self-confidence). Each digit reads "
        "given label / the model's label, and the probability the model gives the given label."
    )
    if errors.empty:
        st.caption("None: the model agrees with every label.")
        return
    captions = [f"{names[g]} / {names[m]} {p:.1%}" for g, m, p in
                zip(errors["given"], errors["model_says"], errors["p_given"])]  # fmt: skip
    rows = errors["index"].to_numpy()
    st.caption("Click a digit to open it in the model view.")
    picked = _gallery(ev, rows, key="label_errors", captions=captions, clickable=True)
    index = int(rows[picked or 0])
    st.text(f"Test image #{index:,} · given / model {captions[picked or 0]}"
            + ("" if picked is not None else " (the first; click another)"))  # fmt: skip
    model_view_link("test", index, run_id=ev.run.run_id)


def _gallery(ev: RunEvaluation, rows, *, key, captions=None, clickable=False,
             columns: int = 8) -> int | None:  # fmt: skip
    """A grid of test digits; with ``clickable``, the position of the one clicked."""
    columns = min(columns, len(rows))
    state = st.session_state.get(key) if clickable else None
    picked = figures.digits.clicked_digit(state, n=len(rows))
    fig = figures.digits.grid_figure(
        ev.dataset.x_test[rows], ev.y_true[rows], rows, class_names=ev.class_names,
        columns=columns, captions=captions, cell=84 if captions else 56, selected=picked,
    )  # fmt: skip
    st.plotly_chart(fig, key=key, width="content", config={"displayModeBar": False},
                    **({"on_select": "rerun", "selection_mode": "points"} if clickable else {}))
    return picked


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
