"""Inside the model (issue 12): ONNX export time, onnxruntime latency for one digit
(prediction, every layer's activations, occlusion saliency, nearest training digits) for
feed-forward 64 and the small CNN on MNIST, and the memory a server process takes with
their sessions loaded.

Targets: a prediction reaches the page <= 150 ms after a stroke (the runtime's share is
measured here), activations <= 300 ms, the server < 600 MB with a model loaded and three
sessions drawing. The plain reference is Keras's own ``model(x)`` on one digit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, Row, median_seconds

PRESETS = ("ff64", "small_cnn")


def _train(name: str, data, *, epochs: int = 1, n: int = 20000):
    from mnist_core.models import PRESETS as ALL
    from mnist_core.models import with_train
    from mnist_core.models.keras_build import build_model, compile_model

    spec = with_train(ALL[name].spec, epochs=epochs)
    model = compile_model(build_model(spec, input_shape=(28, 28), n_classes=10), spec.train)
    model.fit(data["x_train"][:n, ..., None] / 255.0, data["y_train"][:n], batch_size=128,
              epochs=epochs, verbose=0)  # fmt: skip
    return spec, model


def _latencies(name: str, model, path: Path, mnist) -> list[Row]:
    """onnxruntime's latency for one digit, Keras's own call beside the prediction."""
    from mnist_core import inside
    from mnist_core.inside.neighbours import compute_features, nearest

    served = inside.InsideModel(path)
    digit = mnist.x_test[0]
    x = (digit[None, ..., None] / 255.0).astype("float32")
    keras_one = median_seconds(lambda: model(x, training=False), repeat=100)
    rows = [
        Row(f"{name}: predict one digit (onnxruntime)",
            median_seconds(lambda: served.predict(digit), repeat=100) * 1000, unit="ms",
            target="<= 150", reference=keras_one * 1000, reference_name="Keras model(x)"),
        Row(f"{name}: activations of every layer, one digit",
            median_seconds(lambda: served.activations(digit), repeat=100) * 1000, unit="ms",
            target="<= 300"),
        Row(f"{name}: occlusion saliency, one digit (170 images, one batch)",
            median_seconds(lambda: inside.occlusion_saliency(served, digit), repeat=20) * 1000,
            unit="ms"),
    ]  # fmt: skip
    arrays = compute_features(served, mnist.x_train, mnist.y_train)
    query = served.hidden_features(digit)[0]
    rows.append(Row(f"{name}: 8 nearest of 60,000 training digits",
                    median_seconds(lambda: nearest(query, arrays, k=8), repeat=100) * 1000,
                    unit="ms"))  # fmt: skip
    return rows


def run(*, quick: bool = False) -> list[Row]:
    import keras

    from mnist_core import inside
    from mnist_core.inside.export import export_model

    folder = Path(tempfile.mkdtemp(prefix="inside-bench-"))
    from mnist_core.data import load_dataset

    mnist = load_dataset("mnist")
    data = {"x_train": mnist.x_train, "y_train": mnist.y_train}
    rows, paths = [], {}
    names = PRESETS + (() if quick else ("keras_cnn",))
    for number, name in enumerate(names):
        spec, model = _train(name, data, n=5000 if name == "keras_cnn" else 20000)
        start = time.perf_counter()
        export_model(model, folder / f"{name}.onnx", spec=spec)
        first = time.perf_counter() - start  # the first includes importing tf2onnx and onnx
        rows.append(Row(f"ONNX export at the end of training: {name}"
                        + (" (first: + importing tf2onnx)" if number == 0 else ""), first))
        paths[name] = folder / f"{name}.onnx"
        if name not in PRESETS:
            continue
        rows += _latencies(name, model, paths[name], mnist)
        del model
        keras.backend.clear_session()
    canvas = np.zeros((400, 400, 4), np.uint8)
    canvas[60:340, 180:220, 3] = 255
    rows.append(Row("frame a 400×400 drawing into 28×28 (MNIST's way)",
                    median_seconds(lambda: inside.preprocess_drawing(canvas), repeat=100) * 1000,
                    unit="ms"))  # fmt: skip
    rows += _server_memory(paths)
    return rows


_SERVER = textwrap.dedent("""
    import json, sys, threading
    import numpy as np
    def rss(field="VmRSS"):  # VmHWM: the peak (ru_maxrss would keep the parent's across exec)
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(field)) / 1024
    import streamlit, pandas, plotly.graph_objects  # what the app's server has loaded
    from mnist_core import inside
    before = rss()
    models = [inside.InsideModel(p) for p in json.loads(sys.argv[1])]
    canvas = np.zeros((400, 400, 4), np.uint8); canvas[60:340, 180:220, 3] = 255
    def session():  # one person drawing: frame, predict, activations, saliency, per stroke
        for _ in range(30):
            for model in models:
                digit = inside.preprocess_drawing(canvas)
                model.predict(digit); model.activations(digit)
                inside.occlusion_saliency(model, digit)
    threads = [threading.Thread(target=session) for _ in range(3)]
    [t.start() for t in threads]; [t.join() for t in threads]
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "jax"})
    print(json.dumps({"before": before, "after": rss(),
                      "peak": rss("VmHWM"),
                      "heavy": heavy}))
""")


def _server_memory(paths: dict) -> list[Row]:
    """A process with the server's libraries, the models' sessions loaded and three
    threads drawing at once (as Streamlit serves three sessions)."""
    result = subprocess.run([sys.executable, "-c", _SERVER, json.dumps([str(p) for p in
                             paths.values()])], capture_output=True, text=True, cwd=ROOT,
                            timeout=600, check=False)  # fmt: skip
    if result.returncode != 0:
        return [Row("server memory with sessions loaded", "failed: " + result.stderr[-200:])]
    m = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        Row(f"server process RSS, {len(paths)} models loaded, 3 sessions drawing (peak)",
            m["peak"], unit="MB", target="< 600"),
        Row("  the same before loading onnxruntime and the models", m["before"], unit="MB"),
        Row("  after the three sessions drew", m["after"], unit="MB"),
        Row("TensorFlow / Keras imported by the model view", ", ".join(m["heavy"]) or "none",
            target="== none"),
    ]


if __name__ == "__main__":
    from benchmarks.common import print_table, seeded_cache

    seeded_cache()
    print_table(run(quick="--quick" in sys.argv))
