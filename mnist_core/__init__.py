"""mnist_core: the engine behind the MNIST dashboard.

Plain Python, usable from a notebook or the command line (``python -m mnist_core``);
it never imports Streamlit, and imports TensorFlow only where a model or a download
needs it.
"""

__version__ = "0.1.0"
