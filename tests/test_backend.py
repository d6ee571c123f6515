"""The Keras backend of a run (issue 13, item 3): chosen per spec (auto: JAX for dense
stacks, TensorFlow for convolutions), overridden in the spec, the form and the CLI, recorded
with its device in the run; a JAX run trains, evaluates and exports to ONNX whose
predictions match the run's; a bad value is one sentence; the server never imports JAX.
Real tiny runs on the 8×8 digits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mnist_core.models import PRESETS, ModelSpec, analyze, with_train
from mnist_core.runs.backend import CONVOLUTIONAL, choose_backend, used_backend
from tests.conftest import ROOT

APP = str(ROOT / "app" / "streamlit_app.py")
HEAVY = ("tensorflow", "keras", "jax", "jaxlib", "umap", "torch")


def _cli(*args: str, cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "MNIST_CACHE_DIR": str(cache_dir)}
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=900, check=False)  # fmt: skip


def _backend_event(record) -> dict:
    """What the run recorded it trained on: its train_begin event's ``keras``."""
    events = record.events()
    assert [e["type"] for e in events][:2] == ["threads", "train_begin"]
    used = events[1]["keras"]
    assert used_backend(record) == {**used, "label": used_backend(record)["label"]}
    return used


# --------------------------------------------------------------------------- the choice


@pytest.mark.parametrize("name", list(PRESETS))
def test_auto_picks_jax_for_dense_presets_and_tensorflow_for_convolutions(name):
    spec = PRESETS[name].spec
    assert spec.train.keras_backend == "auto"
    backend, reason = choose_backend(spec)
    convolutional = any(layer.type in CONVOLUTIONAL for layer in spec.layers)
    assert backend == ("tensorflow" if convolutional else "jax")
    assert reason.startswith("auto: ")


@pytest.mark.parametrize("chosen", ["tensorflow", "jax"])
def test_the_spec_overrides_the_automatic_choice(chosen):
    for name in ("dense512", "small_cnn"):
        spec = with_train(PRESETS[name].spec, keras_backend=chosen)
        assert choose_backend(spec) == (chosen, "chosen in the spec")


def test_a_spec_without_the_field_is_auto_and_auto_stays_out_of_its_json():
    old = {"name": "old", "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 8}],
           "train": {"optimizer": "adam", "epochs": 1}}  # fmt: skip
    spec = ModelSpec.from_json(old)
    assert spec.train.keras_backend == "auto"
    assert "keras_backend" not in spec.to_json()["train"]  # links and files read as before
    assert ModelSpec.from_url(spec.to_url()) == spec
    jax_spec = with_train(spec, keras_backend="jax")
    assert jax_spec.to_json()["train"]["keras_backend"] == "jax"
    assert ModelSpec.from_json(jax_spec.to_json()) == jax_spec
    assert ModelSpec.from_url(jax_spec.to_url()).train.keras_backend == "jax"


@pytest.mark.parametrize("value", ["torch", "JAX", "", None, 1, ["jax"]])
def test_a_bad_backend_is_one_sentence(value):
    spec = ModelSpec.from_json({"layers": [{"type": "Flatten"}],
                                "train": {"keras_backend": value}})  # fmt: skip
    errors = analyze(spec, input_shape=(8, 8), n_classes=10).errors
    assert [(e.field, str(e)) for e in errors] == [(
        "keras_backend",
        f"The Keras backend must be one of auto, tensorflow, jax; got {value!r}.",
    )]  # fmt: skip


def test_the_cli_refuses_a_bad_backend_in_one_sentence(cache_dir):
    result = _cli("train", "--preset", "ff64", "--dataset", "digits", "--epochs", "1",
                  "--keras-backend", "pytorch", cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["The Keras backend must be one of auto, tensorflow, jax; got 'pytorch'."]
    assert "Traceback" not in result.stderr
    assert not (cache_dir / "runs").exists() or not any((cache_dir / "runs").iterdir())


# --------------------------------------------------------------------------- real runs


def test_a_jax_run_trains_evaluates_and_exports_onnx_matching_its_predictions(cache_dir):
    """ff64 on auto: JAX. The ONNX file (exported on TensorFlow from the saved model)
    serves the probabilities the JAX model gave on the test set."""
    import onnxruntime as ort

    from mnist_core import runs
    from mnist_core.data import load_dataset

    result = _cli("train", "--preset", "ff64", "--dataset", "digits", "--epochs", "2",
                  cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "done"
    assert (report["backend"], report["device"]) == ("jax", "cpu")
    record = runs.open_run(report["run_id"])
    event = _backend_event(record)
    assert event["backend"] == "jax" and event["device"] == "cpu"
    assert event["requested"] == "auto" and event["reason"].startswith("auto: dense")
    assert used_backend(record)["label"] == "JAX on CPU"
    assert "Keras backend: JAX on CPU (auto: dense layers run fastest on JAX)" in result.stderr
    summary = record.summary
    assert summary.epochs_run == 2 and summary.test_accuracy > 0.5
    assert record.paths.onnx.is_file(), "the JAX run was not exported to ONNX"
    dataset = load_dataset("digits")
    x_test = (dataset.x_test.astype("float32") / 255.0)[..., None]
    session = ort.InferenceSession(str(record.paths.onnx), providers=["CPUExecutionProvider"])
    served = session.run(["output"], {"image": x_test})[0]
    kept = record.test_probabilities()
    np.testing.assert_allclose(served, kept, rtol=1e-3, atol=1e-4)
    assert (served.argmax(1) == kept.argmax(1)).all()


def test_the_cli_override_trains_on_tensorflow_and_says_so(cache_dir):
    from mnist_core import runs

    result = _cli("train", "--preset", "ff64", "--dataset", "digits", "--epochs", "1",
                  "--keras-backend", "tensorflow", cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["status"], report["backend"], report["device"]) == ("done", "tensorflow", "cpu")
    record = runs.open_run(report["run_id"])
    assert record.spec.train.keras_backend == "tensorflow"
    event = _backend_event(record)
    assert (event["requested"], event["reason"]) == ("tensorflow", "chosen in the spec")
    assert event["steps_per_execution"] == 10
    assert record.paths.onnx.is_file()
    assert used_backend(record)["label"] == "TensorFlow on CPU"
    assert "Keras backend: TensorFlow on CPU (chosen in the spec)" in result.stderr


def test_the_form_override_reaches_the_run_and_the_server_imports_no_jax(mnist_cached):
    """In a fresh interpreter: the builder on digits, Keras backend set to jax, Train. The
    server loads none of TensorFlow, Keras, JAX; the run trains on JAX."""
    from mnist_core import runs
    from mnist_core.runs import jobs

    script = textwrap.dedent(f"""
        import json, sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=120).run()
        at.selectbox(key="dataset").set_value("digits").run()
        at.switch_page("views/builder.py").run()
        backend = next(s for s in at.selectbox if s.label == "Keras backend")
        before = backend.value
        backend.set_value("jax").run()
        epochs = next(n for n in at.number_input if n.label == "epochs")
        epochs.set_value(1).run()
        next(b for b in at.button if b.label == "Train").click().run()
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        print(json.dumps({{"exception": [e.value for e in at.exception], "heavy": heavy,
                          "before": before}}))
    """)  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exception": [], "heavy": [], "before": "auto"}
    started = [r for r in runs.list_runs() if r.kind == "train"]
    assert len(started) == 1
    record = started[0]
    assert record.spec.train.keras_backend == "jax"
    assert jobs.wait(record.directory, timeout=600).state == "done"
    event = _backend_event(record.refresh())
    assert (event["backend"], event["requested"]) == ("jax", "jax")


def test_a_jax_run_whose_loss_saturates_is_stopped_as_diverged(cache_dir, tmp_path):
    """On JAX the loss of a softmax output stops at -ln(epsilon) instead of exploding: a
    learning rate of 1,000 is still caught, with a sentence that says why."""
    spec = with_train(PRESETS["ff64"].spec, optimizer="sgd", learning_rate=1e3, epochs=3,
                      keras_backend="jax")  # fmt: skip
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_json()))
    result = _cli("train", "--spec", str(tmp_path / "spec.json"), "--dataset", "digits",
                  cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 2
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["status"], report["backend"]) == ("diverged", "jax")
    sentence = result.stderr.strip().splitlines()[-1]
    assert sentence.startswith("The loss exploded (NaN, or over 1,000 times that of guessing) "
                               "in epoch 1, batch ")  # fmt: skip
    assert "(on JAX on CPU the loss stops at 16.1; over 12.1, nearly every prediction is " \
           "confidently wrong): the learning rate (1000) is probably too high" in sentence


def test_a_second_jax_run_of_the_same_stack_compiles_nothing_new(cache_dir):
    """XLA's compiled steps are kept in the cache's JAX compilation cache: a second run of
    the same stack (another number of epochs), in a fresh worker, writes no new entry."""
    def entries():
        return sorted(p.name for p in (cache_dir / "jax").glob("*-cache"))

    first = _cli("train", "--preset", "ff64", "--dataset", "digits", "--epochs", "1",
                 cache_dir=cache_dir)  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    compiled = entries()
    assert len(compiled) >= 3, compiled  # at least the training, evaluation and predict steps
    again = _cli("train", "--preset", "ff64", "--dataset", "digits", "--epochs", "2",
                 cache_dir=cache_dir)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["backend"] == "jax"
    assert entries() == compiled


_LAG = """
import json, threading, time, types
import numpy as np
from mnist_core.models import PRESETS, with_train
from mnist_core.models.keras_build import build_model, compile_model
from mnist_core.runs import training

class Record:  # what RunRecorder needs of a run, in memory
    spec = with_train(PRESETS["ff64"].spec, epochs=2, batch_size=8)
    stop_requested = False
    def __init__(self): self.events = []
    def append_event(self, event): self.events.append(event)
    def note_checkpoint(self, *args): pass
    paths = None

seen = {"ahead": 0, "threads": set()}
class Slow(training.RunRecorder):
    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        seen["ahead"] = max(seen["ahead"], self.dispatched - self.read)
    def _read_batch(self, batch, logs):
        seen["threads"].add(threading.get_ident())
        time.sleep(0.02)  # a reader slower than the steps
        super()._read_batch(batch, logs)
    def _checkpoint(self, epoch, event): pass

rng = np.random.default_rng(0)
x, y = rng.random((256, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, 256)
model = compile_model(build_model(Record.spec, input_shape=(8, 8), n_classes=10), Record.spec.train)
recorder = Slow(Record())
model.fit(x, y, batch_size=8, epochs=2, callbacks=[recorder], verbose=0)
print(json.dumps({"ahead": seen["ahead"], "reader_threads": len(seen["threads"]),
                  "loop_is_reader": threading.get_ident() in seen["threads"],
                  "batches": recorder.read, "max": training.MAX_BATCHES_AHEAD}))
"""


def test_on_jax_the_loop_runs_ahead_of_the_reader_by_at_most_a_few_batches():
    """RunRecorder is async-safe: on JAX its batch reads run in a thread of their own while
    the loop dispatches the next steps, never more than MAX_BATCHES_AHEAD ahead (a stop or an
    exploding loss is seen within that many batches)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", _LAG], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["batches"] == 2 * 256 // 8
    assert not seen["loop_is_reader"] and seen["reader_threads"] >= 1
    assert 2 <= seen["ahead"] <= seen["max"]  # the loop did run ahead, and was held
