"""Streamlit components of our own (``st.components.v2``: plain HTML, CSS and JavaScript in
the page, no iframe, no build step, nothing downloaded)."""
