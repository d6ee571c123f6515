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

from app import widgets  # noqa: E402
from app.views import data  # noqa: E402

st.set_page_config(page_title="MNIST dashboard", page_icon="🔢", layout="wide")

active = widgets.dataset_picker()


def data_page() -> None:
    data.render(active)


navigation = st.navigation(
    [st.Page(data_page, title="Data explorer", icon=":material/grid_view:", url_path="data")]
)
navigation.run()
