"""Entry point: ``streamlit run app/streamlit_app.py``.

Page config, the dataset picker shared by all pages, and the navigation.
"""

import sys
from pathlib import Path

# `streamlit run app/streamlit_app.py` puts app/ on sys.path, not the project root.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app import server_gc, sidebar  # noqa: E402, F401

st.set_page_config(page_title="MNIST dashboard", page_icon="🔢", layout="wide")

# Pages read the chosen dataset from here (see sidebar.active_dataset).
st.session_state[sidebar.ACTIVE_KEY] = sidebar.dataset_picker()

DATA_PAGE = st.Page("views/data.py", title="Data explorer", icon=":material/grid_view:",
                    url_path="data")  # fmt: skip


def _home() -> None:
    """The app's root URL opens the Data explorer at its own path, keeping the link's
    parameters. (Streamlit serves the default page at the root and ignores its
    ``url_path``, so a visible default page could never be opened as ``/data``.)"""
    st.switch_page(DATA_PAGE, query_params=st.query_params.to_dict())


navigation = st.navigation(
    [
        st.Page(_home, title="Data explorer", url_path="home", default=True,
                visibility="hidden"),
        DATA_PAGE,
        st.Page("views/embeddings.py", title="Embeddings", icon=":material/scatter_plot:",
                url_path="embeddings"),
        st.Page("views/builder.py", title="Model builder", icon=":material/stacks:",
                url_path="builder"),
        st.Page("views/runs.py", title="Runs", icon=":material/monitoring:", url_path="runs"),
        st.Page("views/studies.py", title="Studies", icon=":material/tune:", url_path="studies"),
        st.Page("views/evaluate.py", title="Evaluation", icon=":material/fact_check:",
                url_path="evaluation"),
        st.Page("views/inside.py", title="Inside the model", icon=":material/neurology:",
                url_path="inside"),
    ]
)  # fmt: skip
navigation.run()
