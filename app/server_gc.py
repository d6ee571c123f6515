"""Once per server process: the libraries every page uses imported, then every object alive
so far moved out of the garbage collector's sight (:func:`gc.freeze`).

Streamlit runs a full collection after every script run (``runner.postScriptGC``), holding
the interpreter while the page's last messages wait to be sent. A full collection walks
every tracked object, most of them the imported libraries' own (plotly's validators,
pandas, NumPy, onnxruntime), which live as long as the server: frozen, they are skipped,
and the collection only walks what the pages made since.
"""

import gc

import numpy  # noqa: F401
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401

from mnist_core import figures, inside, runs  # noqa: F401

gc.collect()
gc.freeze()
