"""Once per server process: the libraries every page uses imported, then every object alive
so far moved out of the garbage collector's sight (:func:`gc.freeze`).

Streamlit runs a full collection after every script run (``runner.postScriptGC``), holding
the interpreter while the page's last messages wait to be sent. A full collection walks
every tracked object, most of them the imported libraries' own (plotly's validators,
pandas, NumPy, onnxruntime), which live as long as the server: frozen, they are skipped,
and the collection only walks what the pages made since.

Also once per server process: the warm embedding worker is started in the background
(:func:`mnist_core.embeddings.warm.start_for_server`; off with ``MNIST_WARM_WORKER=0``), so
the first PCA or UMAP job forks a process that has its imports done. The server itself
imports nothing of it (no scikit-learn, umap or numba).
"""

import gc
import importlib
import pkgutil

import app
from mnist_core.embeddings import warm

# Every module the pages import (and so every library they use), before the freeze.
for module in pkgutil.iter_modules(app.__path__):
    if module.name not in ("streamlit_app", "server_gc", "views"):
        importlib.import_module(f"app.{module.name}")

gc.collect()
gc.freeze()

warm.start_for_server()
