"""The run picker shared by the pages that show one finished run (Evaluation, Inside the
model): the run asked for in ``?run=``, a select box labelled by name, dataset and test
accuracy, and the choice kept for the session (shared with the other pages) and in the URL.
"""

from __future__ import annotations

import re

import streamlit as st

from mnist_core import runs

# The run a user is looking at, shared with the Builder and Runs pages (and ?run= in the URL).
SELECTED_RUN = "selected_run"
HELP = ("Runs with test results, labelled by name and what differs between runs of the same "
        "name; then dataset and test accuracy.")  # fmt: skip


def best_run(records: list[runs.RunRecord]) -> runs.RunRecord:
    """The run with the highest test accuracy among those that finished or were stopped
    (a stopped run was evaluated like a finished one); any evaluated run when none did."""
    finished = [r for r in records if r.state in ("done", "stopped")] or records
    return max(finished, key=lambda r: r.summary.test_accuracy if r.summary else -1.0)


def literal(text: object) -> str:
    """``text`` as a Markdown code span: shown exactly as typed, never as a link, an image
    or a directive (a fence longer than any run of backticks in it)."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def asked_run(records: list[runs.RunRecord], *, missing: str) -> str | None:
    """The run named in ``?run=``; one of ``records``, or None (with a warning saying it
    ``missing``, e.g. "has no test results to show", when the URL names another)."""
    asked = st.query_params.get("run") or None
    if asked is not None and asked not in {r.run_id for r in records}:
        st.warning(f"Run {literal(asked)} {missing} (it does not exist, or has not finished); "
                   "showing another run.")  # fmt: skip
        return None
    return asked


def run_label(records: list[runs.RunRecord]):
    """How the picker names each run: its distinguishing name, dataset, test accuracy, and
    its state when it did not finish ("stopped")."""
    by_id = {r.run_id: r for r in records}
    labels = runs.distinguishing_labels(records)

    def label(run_id: str) -> str:
        r = by_id[run_id]
        parts = [labels[run_id], r.dataset_name]
        if r.summary and r.summary.test_accuracy is not None:
            parts.append(f"{r.summary.test_accuracy:.2%}")
        if r.state != "done":
            parts.append(r.state)
        return " · ".join(parts)

    return label


def run_picker(records: list[runs.RunRecord], shown: str, *, key: str,
               selected: str = SELECTED_RUN) -> runs.RunRecord:  # fmt: skip
    """A select box of ``records`` (widget ``key``) showing run ``shown``; the run is kept
    in the session under ``selected`` (the other pages read it) and in ``?run=``. A pick
    goes to both before the rerun. Returns the run shown."""
    by_id = {r.run_id: r for r in records}
    st.session_state[key] = shown
    st.selectbox("Run", list(by_id), format_func=run_label(records), key=key,
                 on_change=_picked, args=(key, selected), help=HELP)  # fmt: skip
    st.session_state[selected] = shown
    st.query_params["run"] = shown
    return by_id[shown]


def _picked(key: str, selected: str) -> None:
    st.session_state[selected] = st.session_state[key]
    st.query_params["run"] = st.session_state[key]
