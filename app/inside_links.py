""""Open in model view": a small link from any digit in the app to the Inside the model
page, which shows that digit layer by layer (``/inside?run=&source=&index=``)."""

from __future__ import annotations

import streamlit as st

PAGE = "views/inside.py"


def model_view_query(source: str, index: int, *, run_id: str | None = None,
                     dataset: str | None = None) -> dict[str, str]:  # fmt: skip
    """The Inside page's query parameters for digit ``index`` of split ``source`` ("train"
    or "test"): of run ``run_id``, else of the best run on ``dataset`` (a picker key)."""
    query = {"source": str(source), "index": str(int(index))}
    if run_id is not None:
        query["run"] = str(run_id)
    if dataset is not None:
        query["dataset"] = str(dataset)
    return query


def model_view_link(source: str, index: int, *, run_id: str | None = None,
                    dataset: str | None = None) -> None:  # fmt: skip
    """A small link to this digit on the Inside the model page."""
    st.page_link(PAGE, label="Open in model view", icon=":material/neurology:",
                 query_params=model_view_query(source, index, run_id=run_id, dataset=dataset),
                 help="See what each layer of a trained model does with this digit.")  # fmt: skip
