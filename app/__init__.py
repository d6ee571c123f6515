"""The Streamlit UI. Reads widgets, calls mnist_core, draws what comes back."""
