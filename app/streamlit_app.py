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

from app import sidebar  # noqa: E402

st.set_page_config(page_title="MNIST dashboard", page_icon="🔢", layout="wide")

# Pages read the chosen dataset from here (see sidebar.active_dataset).
st.session_state[sidebar.ACTIVE_KEY] = sidebar.dataset_picker()

navigation = st.navigation(
    [
        st.Page("views/data.py", title="Data explorer", icon=":material/grid_view:",
                url_path="data", default=True),
        st.Page("views/embeddings.py", title="Embeddings", icon=":material/scatter_plot:",
                url_path="embeddings"),
        st.Page("views/builder.py", title="Model builder", icon=":material/stacks:",
                url_path="builder"),
        st.Page("views/runs.py", title="Runs", icon=":material/monitoring:", url_path="runs"),
        st.Page("views/evaluate.py", title="Evaluation", icon=":material/fact_check:",
                url_path="evaluation"),
    ]
)  # fmt: skip
navigation.run()
