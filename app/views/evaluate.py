"""Evaluation: how a finished run does on the test set, all from its directory.

Headline, confusion matrix (click a cell for its digits), caret-style statistics, the
mistakes, a mismatch plot, likely label errors, and a report to download for meetings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import run_cache
from app.sidebar import ActiveDataset, active_dataset
from mnist_core import evaluation, figures, runs

NORMALIZATION_LABELS = {"true": "by true class", "pred": "by predicted class", "all": "of all",
                        "none": "counts only"}  # fmt: skip
GALLERY_MAX = 100


def render(active: ActiveDataset) -> None:
    st.title("Evaluation")
    finished = [r for r in runs.list_runs()
                if r.state in ("done", "stopped") and (r.directory / "test_probabilities.npy").exists()]  # fmt: skip
    if not finished:
        st.info("No finished run yet: train one on the Model builder page.")
        return
    run = run_picker(finished)
    stamp = (run.directory / "test_probabilities.npy").stat().st_mtime
    try:
        ev = run_cache.run_evaluation(run.run_id, stamp)
    except runs.RunError as exc:
        st.error(str(exc))
        return
    names = ev["dataset"].class_names
    headline(ev, run)
    confusion_section(ev, names)
    statistics_section(ev)
    mistakes_section(ev, names)
    st.subheader("Mismatches: true against predicted")
    st.caption("Errors only; each bubble is one kind of mistake, sized by how often it happens.")
    st.plotly_chart(figures.evaluation.mismatch_figure(ev["stats"]["confusion"], class_names=names),
                    key="mismatch")  # fmt: skip
    label_errors_section(ev, names)


def run_picker(finished: list[runs.RunInfo]) -> runs.RunInfo:
    by_id = {r.run_id: r for r in finished}
    wanted = st.query_params.get("run")
    index = list(by_id).index(wanted) if wanted in by_id else 0

    def label(run_id: str) -> str:
        r = by_id[run_id]
        accuracy = (r.summary or {}).get("test_accuracy")
        acc = f" · {accuracy:.2%}" if accuracy is not None else ""
        return f"{run_id} · {r.info.get('name', '?')} on {str(r.info.get('dataset', '?')).rsplit('/', 1)[-1]}{acc}"

    run_id = st.selectbox("Run", list(by_id), index=index, format_func=label, key="eval_run")
    st.query_params["run"] = run_id
    return by_id[run_id]


def headline(ev: dict, run: runs.RunInfo) -> None:
    overall, summary = ev["stats"]["overall"], ev["summary"]
    cols = st.columns(5)
    cols[0].metric("Test accuracy", f"{overall['accuracy']:.2%}",
                   help=f"Exact 95 % interval: {overall['accuracy_ci_low']:.2%} – "
                   f"{overall['accuracy_ci_high']:.2%}")  # fmt: skip
    cols[0].caption(f"95 % CI {overall['accuracy_ci_low']:.2%} – {overall['accuracy_ci_high']:.2%}")
    cols[1].metric("Kappa", f"{overall['kappa']:.4f}")
    cols[2].metric("Mismatches", f"{overall['mismatches']:,}")
    cols[2].caption(f"{overall['mismatches']:,} mismatches of {overall['n']:,} test digits")
    cols[3].metric("Parameters", f"{summary['params']:,}" if summary.get("params") else "—")
    cols[4].metric("Training time", f"{summary.get('wall_seconds', 0):.0f} s",
                   help=f"{summary.get('epochs_run') or 'no'} epochs")  # fmt: skip
    if run.state == "stopped":
        st.caption("This run was stopped before its last epoch; these are the weights it had then.")
    stamp = (run.directory / "test_probabilities.npy").stat().st_mtime
    st.download_button(
        # Built on click (on another thread), so opening the page never waits for it.
        "Download report (HTML)", data=lambda: run_cache.report_html(run.run_id, stamp),
        file_name=f"report-{run.run_id}.html", mime="text/html", icon=":material/download:",
        help="One self-contained file: spec, summary, curves, confusion matrix, statistics and "
        "the 25 most confident mistakes. Opens offline.",
    )  # fmt: skip


def confusion_section(ev: dict, names) -> None:
    st.subheader("Confusion matrix")
    how = st.segmented_control(
        "Percentages", list(NORMALIZATION_LABELS), format_func=NORMALIZATION_LABELS.get,
        default="true", required=True, key="cm_normalization",
    )  # fmt: skip
    cm = ev["stats"]["confusion"]
    chart_key = f"cm-{ev['info'].get('run_id')}"
    cell = _clicked_cell(chart_key)
    left, right = st.columns([3, 2], gap="medium")
    with left:
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
    with right:
        if cell is None:
            st.caption("No cell chosen yet.")
            return
        true, pred = cell
        rows = np.flatnonzero((ev["y_true"] == true) & (ev["y_pred"] == pred))
        st.markdown(f"**True {names[true]}, predicted {names[pred]}: {len(rows):,} digits**")
        if len(rows):
            _gallery(ev, rows[:GALLERY_MAX], names, key="cell_gallery")


def _clicked_cell(chart_key: str) -> tuple[int, int] | None:
    return figures.evaluation.clicked_cell(st.session_state.get(chart_key))


def statistics_section(ev: dict) -> None:
    st.subheader("Statistics")
    overall = ev["stats"]["overall"]
    left, right = st.columns([1, 3])
    with left:
        st.dataframe(
            pd.DataFrame({"value": [f"{v:.4g}" if isinstance(v, float) else f"{v:,}"
                                    for v in overall.values()]}, index=list(overall)),
            width="stretch",
        )  # fmt: skip
    with right:
        st.dataframe(ev["stats"]["per_class"].round(4), width="stretch")
        st.caption("One-vs-all per class, with the definitions of R caret's "
                   "`confusionMatrix(mode = \"everything\")`.")  # fmt: skip


def mistakes_section(ev: dict, names) -> None:
    mistakes = ev["mistakes"]
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
               + ". Label: true→predicted and confidence. Click one for its top-3 classes.")  # fmt: skip
    shown = chosen.head(GALLERY_MAX)
    left, right = st.columns([3, 1])
    with left:
        key = f"mistakes-{true}-{pred}"
        captions = [f"{names[t]}→{names[p]} {c:.0%}" for t, p, c in
                    zip(shown["true"], shown["predicted"], shown["confidence"])]  # fmt: skip
        picked = _gallery(ev, shown["index"].to_numpy(), names, key=key, captions=captions,
                          clickable=True)  # fmt: skip
    with right:
        index = int(shown["index"].iloc[picked or 0])
        st.markdown(f"**Test #{index}**: true {names[ev['y_true'][index]]}")
        st.plotly_chart(figures.evaluation.top_probabilities_figure(ev["probabilities"][index], class_names=names),
                        key="top3")  # fmt: skip


def label_errors_section(ev: dict, names) -> None:
    errors = ev["label_errors"]
    st.subheader("Likely label errors")
    st.caption(
        "The test digits whose given label the model finds least likely (ranked by the "
        "probability of the given label, as cleanlab's self-confidence). Label: given / model "
        "says / probability the model gives the given label."
    )
    if errors.empty:
        st.caption("None: the model agrees with every label.")
        return
    captions = [f"{names[g]}/{names[m]} {p:.1%}" for g, m, p in
                zip(errors["given"], errors["model_says"], errors["p_given"])]  # fmt: skip
    _gallery(ev, errors["index"].to_numpy(), names, key="label_errors", captions=captions)


def _gallery(ev, rows, names, *, key, captions=None, clickable=False) -> int | None:
    """A grid of test digits; with ``clickable``, the position of the one clicked."""
    images = ev["dataset"].x_test[rows]
    columns = min(10, len(rows))
    state = st.session_state.get(key) if clickable else None
    picked = figures.digits.clicked_digit(state, n=len(rows))
    fig = figures.digits.grid_figure(
        images, ev["y_true"][rows], rows, class_names=names, columns=columns, captions=captions,
        cell=72 if captions else 56, selected=picked,
    )  # fmt: skip
    st.plotly_chart(fig, key=key, width="content", config={"displayModeBar": False},
                    **({"on_select": "rerun", "selection_mode": "points"} if clickable else {}))
    return picked


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
