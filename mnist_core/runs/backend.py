"""Which Keras backend trains a run, chosen per run before Keras is imported.

Keras 3 runs on TensorFlow or JAX; each run is its own worker process, so each run can use
the backend that is fastest for its layers. Measured on this machine's 2 CPU cores
(``benchmarks/backend_bench.py``): dense stacks train faster on JAX (XLA fuses each step
into one compiled function), convolutions several times faster on TensorFlow's oneDNN
kernels than on JAX. ``keras_backend`` "auto" (the default) therefore picks JAX for a model
without convolution or pooling and TensorFlow for one with; "tensorflow" or "jax" in the
spec (the form's and the CLI's ``--keras-backend``) overrides it.

The worker calls :func:`prepare_backend` before anything imports Keras (importing
TensorFlow imports Keras too). The backend and device a run actually used are recorded in
its ``train_begin`` event (key ``keras``, read back by :func:`used_backend`).

This module imports neither Keras, TensorFlow nor JAX.
"""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = [
    "CONVOLUTIONAL",
    "backend_in_use",
    "backend_label",
    "choose_backend",
    "prepare_backend",
    "steps_per_execution",
    "used_backend",
]  # fmt: skip

# Layers that make a model "convolutional": TensorFlow's oneDNN kernels run them 4-5x faster
# than XLA on this CPU (issue 13); everything else (Dense, Dropout, normalisation, the
# random augmentations) is left to JAX.
CONVOLUTIONAL = frozenset({"Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"})
NAMES = {"tensorflow": "TensorFlow", "jax": "JAX"}
# TensorFlow runs this many batches per call of its compiled training step (fewer Python
# round trips: dense 512 in 6.0-6.4 s instead of 9.3-10.4 s, issue 13). A stop request or a
# loss that explodes is then seen after at most this many batches. JAX runs one per call:
# unrolling ten made its first epoch slower (compiling) and the later ones no faster here.
TF_STEPS_PER_EXECUTION = 10
JAX_CACHE_BYTES = 256 * 2**20  # a dense stack's steps take ~0.2 MB; a study's many stacks fit


def choose_backend(spec) -> tuple[str, str]:
    """The backend for ``spec`` and why, in a few words: the spec's own choice, else by its
    layers. JAX only when it is installed."""
    requested = getattr(spec.train, "keras_backend", "auto")
    if requested in NAMES:
        return requested, "chosen in the spec"
    conv = sorted({layer.type for layer in spec.layers} & CONVOLUTIONAL)
    if conv:
        return "tensorflow", f"auto: {', '.join(conv)} run fastest on TensorFlow's oneDNN"
    if importlib.util.find_spec("jax") is None:
        return "tensorflow", "auto: JAX is not installed"
    return "jax", "auto: dense layers run fastest on JAX"


def prepare_backend(record) -> str:
    """Set ``KERAS_BACKEND`` for this worker from the run's spec, before Keras is imported,
    and return it. When Keras is already imported it keeps its backend (returned; the run
    records it)."""
    backend, _ = choose_backend(record.spec)
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    os.environ["KERAS_BACKEND"] = backend
    if backend == "jax":
        from mnist_core.paths import cache_dir

        os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no probing for GPUs or TPUs
        use_jax_compilation_cache(cache_dir() / "jax")
    return backend


def use_jax_compilation_cache(folder) -> None:
    """Keep XLA's compiled training and evaluation steps on disk in ``folder`` (JAX's
    persistent compilation cache), so a run of a stack trained before, in any process,
    skips compiling: the first epoch of dense 512 took 3.3 CPU-s without it and 1.8 with it,
    the later ones 1.6 (issue 13). Bounded to :data:`JAX_CACHE_BYTES`, least recently used
    out first; JAX locks the folder (``filelock``) so runs side by side share it safely, and
    a cache it cannot read or write only costs the compile (JAX warns and goes on). Set
    before JAX is imported; a value already in the environment wins."""
    if "jax" in sys.modules:
        return
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder))
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(JAX_CACHE_BYTES))
    # Every compile, however short: the small ones (initialisers) add up to ~0.3 s a run.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


def steps_per_execution(backend: str) -> int:
    return TF_STEPS_PER_EXECUTION if backend == "tensorflow" else 1


def device_of(backend: str) -> str:
    """The device Keras computes on, e.g. ``cpu`` (JAX's platform) or ``CPU`` (TensorFlow's
    first logical device type), lower-cased."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return str(device.platform)
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return "gpu" if gpus else "cpu"


def backend_in_use(spec) -> dict:
    """What the run trains on, for its ``train_begin`` event (key ``keras``): the backend
    Keras really uses, its device, what the spec asked for and why, the batches per call.
    Call after Keras is imported."""
    import keras

    used = keras.backend.backend()
    chosen, reason = choose_backend(spec)
    if used != chosen:
        reason = f"{chosen} was chosen ({reason}) but Keras was already loaded with {used}"
    return {"backend": used, "device": device_of(used),
            "requested": getattr(spec.train, "keras_backend", "auto"), "reason": reason,
            "steps_per_execution": steps_per_execution(used), "version": keras.__version__}


def backend_label(used: dict) -> str:
    """"JAX on CPU": a run's backend in words."""
    name = NAMES.get(used.get("backend"), str(used.get("backend")))
    return f"{name} on {str(used.get('device', '?')).upper()}"


def used_backend(record) -> dict | None:
    """The backend and device a run trained on (:func:`backend_in_use`, from its
    ``train_begin`` event) with a ``label`` such as "JAX on CPU", or None for a run from
    before backends were recorded (they trained on TensorFlow) or one not yet training."""
    event = next((e for e in record.events() if e.get("type") == "train_begin"), None)
    used = event.get("keras") if event else None
    if not isinstance(used, dict):
        return None
    return {**used, "label": backend_label(used)}


def export_in_tensorflow(record, *, class_names=(), epoch: int | None = None) -> float | None:
    """The end-of-training ONNX export of a run trained on another backend: the converter
    (tf2onnx) traces TensorFlow functions, so a fresh process loads the saved ``model.keras``
    on TensorFlow and exports it (checked against Keras's values there). Its seconds, or
    None when it failed (never failing the run: the page's background job tries again);
    its errors go to this worker's log."""
    import json
    import subprocess
    import time

    start = time.perf_counter()
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])  # the project, as the executor runs workers
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": path}
    command = [sys.executable, "-m", "mnist_core.runs.backend", "export", str(record.directory),
               json.dumps({"class_names": list(class_names), "epoch": epoch})]  # fmt: skip
    try:
        done = subprocess.run(command, env=env, cwd=root, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"ONNX export in TensorFlow: {exc}", file=sys.stderr, flush=True)
        return None
    return time.perf_counter() - start if done.returncode == 0 else None


def _export_main(directory: str, options: str) -> int:
    import json
    from pathlib import Path

    threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    from mnist_core.inside.export import export_run
    from mnist_core.runs.store import load_run

    options = json.loads(options)
    record = load_run(Path(directory))
    model = keras.saving.load_model(record.paths.model, safe_mode=True, compile=False)
    export_run(record, model=model, class_names=tuple(options["class_names"]),
               epoch=options["epoch"])  # fmt: skip
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "export":
        print("usage: python -m mnist_core.runs.backend export RUN_DIR OPTIONS_JSON",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    sys.exit(_export_main(sys.argv[2], sys.argv[3]))
