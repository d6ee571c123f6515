"""Training speed per preset (issue 13, item 3): our run (``keras_backend`` auto) vs the
tutorial's bare Keras code on TensorFlow with the same settings, each in a fresh process,
side by side in one run.

For each preset: the ratio of the ``fit`` wall times (ours: the run's ``wall_seconds``, which
includes its callbacks: events, checkpoints, TensorBoard), both test accuracies (the same
±0.3 points), and the steady epoch time (the median of the epochs after the first, which
compiles) as a multiple of the preset's FLOP limit: its FLOPs per epoch (forward 2×MACs
from the layer shapes, training ~3× forward, plus the validation's forward pass) over the
NumPy float32 GEMM rate measured here in the same run.

A preset that trains on JAX is trained twice by us: first in a fresh cache (XLA compiles
its steps, as for a stack never trained before), then again in a fresh process with the
compiled steps in the cache (as for any stack trained before, whatever its learning rate or
epochs); both are reported.

Targets: dense presets <= 0.6×, convolutional <= 1.0×. ``python -m benchmarks.backend_bench
[--quick] [PRESET ...]`` prints the table alone; ``--quick`` (CI) times dense512 only.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.common import ROOT, Row

DENSE = ("dense512", "ff64", "deep_ff", "logistic", "tuned_mlp", "dropout_mlp")
CONV = ("small_cnn", "two_conv_cnn", "keras_cnn")
TARGETS = {**{p: 0.6 for p in DENSE}, **{p: 1.0 for p in CONV}}
ACCURACY_POINTS = 0.3
MIN_ACCURACY = {"dense512": 0.974}  # the tutorial's figure, less its noise

# The tutorial's code: the preset's layers, compile, fit, evaluate; nothing else. Keras on
# TensorFlow (its default backend), whatever this process has set.
_BARE = """
import json, sys, time
import keras
from mnist_core.data import load_dataset
from mnist_core.models import PRESETS
from mnist_core.models.keras_build import build_callbacks, build_model, build_optimizer
spec = PRESETS[sys.argv[1]].spec
t = spec.train
d = load_dataset("mnist")
x_train = (d.x_train.astype("float32") / 255.0)[..., None]
x_test = (d.x_test.astype("float32") / 255.0)[..., None]
model = build_model(spec, input_shape=d.image_shape, n_classes=d.n_classes)
model.compile(optimizer=build_optimizer(t), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
epochs = []
class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.began = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        epochs.append(time.perf_counter() - self.began)
start = time.perf_counter()
model.fit(x_train, d.y_train, batch_size=t.batch_size, epochs=t.epochs,
          validation_split=t.validation_split, callbacks=[*build_callbacks(t), EpochTimes()],
          verbose=0)
seconds = time.perf_counter() - start
accuracy = float(model.evaluate(x_test, d.y_test, batch_size=1024, verbose=0)[1])
print(json.dumps({"seconds": seconds, "test_accuracy": accuracy, "epochs": epochs,
                  "backend": keras.backend.backend()}))
"""


def gemm_rate(n: int = 2048, repeat: int = 5) -> float:
    """NumPy's float32 matrix product on this machine, FLOP/s (best of ``repeat``)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b  # warm the BLAS threads
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def macs_per_image(spec, input_shape=(28, 28), n_classes=10) -> int:
    """Multiply-adds of one forward pass, from the layer shapes: a Dense layer's weights, a
    convolution's weights times its output positions (pooling, normalisation: ~0)."""
    from mnist_core.models import analyze

    macs = 0
    for row in analyze(spec, input_shape=input_shape, n_classes=n_classes).rows:
        if not row.params or row.output_shape is None:
            continue
        kind = spec.layers[row.number - 1].type if row.number else "Dense"
        if kind == "Dense":
            macs += row.params - row.output_shape[-1]
        elif kind == "Conv2D":
            h, w, filters = row.output_shape
            macs += (row.params - filters) * h * w
    return macs


def flops_per_epoch(spec, n_train: int = 60_000) -> float:
    """Training ~3× the forward pass (2 FLOPs a multiply-add) on the fitted images, plus the
    forward pass on the validation images."""
    n_val = int(n_train * spec.train.validation_split)
    forward = 2 * macs_per_image(spec)
    return 3 * forward * (n_train - n_val) + forward * n_val


def steady_epoch(times: list[float]) -> float:
    later = times[1:] or times
    return statistics.median(later)


def _fresh(code_or_args: list[str], backend: str | None = None) -> dict:
    env = dict(os.environ)
    if backend:
        env["KERAS_BACKEND"] = backend
    done = subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=7200, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(code_or_args[:3])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bare_fit(preset: str) -> dict:
    return _fresh(["-c", _BARE, preset], backend="tensorflow")


def our_fit(preset: str) -> dict:
    """Our CLI (a worker, auto backend); the run's own fit time, epochs and backend."""
    from mnist_core import runs
    from mnist_core.runs.backend import used_backend

    result = _fresh(["-m", "mnist_core", "train", "--preset", preset, "--dataset", "mnist"])
    record = runs.open_run(result["run_id"])
    used = used_backend(record) or {"backend": "tensorflow (not recorded)", "device": "?"}
    return {"seconds": record.summary.wall_seconds, "test_accuracy": record.summary.test_accuracy,
            "epochs": [e["epoch_seconds"] for e in record.events() if e["type"] == "epoch"],
            "backend": f"{used['backend']} ({used['device']})", "total": result["seconds"]}  # fmt: skip


def bench_preset(preset: str, rate: float) -> tuple[list[Row], dict]:
    from mnist_core.models import PRESETS

    spec = PRESETS[preset].spec
    bare = bare_fit(preset)
    ours = our_fit(preset)  # a fresh cache: JAX compiles every step (the stack's first run)
    # Trained again in another fresh process: XLA's compiled steps come from the run cache's
    # JAX compilation cache (runs.backend.use_jax_compilation_cache), as for any stack
    # trained before, e.g. with another learning rate or number of epochs.
    again = our_fit(preset) if ours["backend"].startswith("jax") else None
    limit = flops_per_epoch(spec) / rate
    epochs = spec.train.epochs
    gap = 100 * abs(ours["test_accuracy"] - bare["test_accuracy"])
    figures = {"preset": preset, "ours_s": ours["seconds"], "bare_s": bare["seconds"],
               "ratio": ours["seconds"] / bare["seconds"], "ours_backend": ours["backend"],
               "ours_acc": ours["test_accuracy"], "bare_acc": bare["test_accuracy"],
               "ours_epoch": steady_epoch(ours["epochs"]), "bare_epoch": steady_epoch(bare["epochs"]),
               "limit_s": limit, "ours_total_s": ours["total"],
               "again_s": again and again["seconds"], "again_acc": again and again["test_accuracy"]}  # fmt: skip
    first = " (first run of the stack: compiled)" if again else ""
    rows = [
        Row(f"train {preset} ({epochs} epochs) fit: ours on {ours['backend']}{first} vs bare "
            "Keras on TensorFlow", ours["seconds"], target=f"<= ratio {TARGETS[preset]}",
            reference=bare["seconds"], reference_name="bare fit"),
    ]  # fmt: skip
    if again:
        rows.append(Row(f"  {preset} fit again in a fresh process (JAX's compiled steps from the "
                        "cache) vs bare", again["seconds"], target=f"<= ratio {TARGETS[preset]}",
                        reference=bare["seconds"], reference_name="bare fit"))  # fmt: skip
    rows += [
        Row(f"  {preset} test accuracy: ours {100 * ours['test_accuracy']:.2f} %, bare "
            f"{100 * bare['test_accuracy']:.2f} % (gap, points)", gap, unit="",
            target=f"<= {ACCURACY_POINTS}"),
        Row(f"  {preset} steady epoch / FLOP limit ({limit:.3f} s): ours "
            f"{figures['ours_epoch']:.3f} s, bare {figures['bare_epoch']:.3f} s",
            figures["ours_epoch"] / limit, unit="×"),
    ]  # fmt: skip
    if preset in MIN_ACCURACY:
        rows.append(Row(f"  test accuracy, {preset} ours ({epochs} epochs)", ours["test_accuracy"],
                        unit="", target=f">= {MIN_ACCURACY[preset]}"))  # fmt: skip
    print(json.dumps(figures), file=sys.stderr, flush=True)
    return rows, figures


def run(*, quick: bool = False, presets: tuple[str, ...] = ()) -> list[Row]:
    """Every tutorial preset (``presets``: only those; ``quick``: dense512 only)."""
    unknown = set(presets) - set(TARGETS)
    if unknown:
        raise SystemExit(f"Unknown preset {', '.join(sorted(unknown))}; "
                         f"pass any of {', '.join(TARGETS)}.")  # fmt: skip
    rate = gemm_rate()
    rows = [Row("NumPy float32 GEMM rate (2048², this machine)", rate / 1e9, unit="GFLOP/s")]
    for preset in ("dense512",) if quick else (presets or (*DENSE, *CONV)):
        rows += bench_preset(preset, rate)[0]
    return rows


if __name__ == "__main__":
    import shutil

    from benchmarks.common import print_table, seeded_cache

    cache = seeded_cache()
    try:
        print_table(run(quick="--quick" in sys.argv[1:],
                        presets=tuple(a for a in sys.argv[1:] if not a.startswith("--"))))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
