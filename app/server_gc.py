"""Once per server process: the libraries every page uses imported, then every object alive
so far moved out of the garbage collector's sight (:func:`gc.freeze`).

Streamlit runs a full collection after every script run (``runner.postScriptGC``), holding
the interpreter while the page's last messages wait to be sent. A full collection walks
every tracked object, most of them the imported libraries' own (plotly's validators,
pandas, NumPy, onnxruntime), which live as long as the server: frozen, they are skipped,
and the collection only walks what the pages made since.
"""

import gc
import importlib
import pkgutil

import app

# Every module the pages import (and so every library they use), before the freeze.
for module in pkgutil.iter_modules(app.__path__):
    if module.name not in ("streamlit_app", "server_gc", "views"):
        importlib.import_module(f"app.{module.name}")

gc.collect()
gc.freeze()
