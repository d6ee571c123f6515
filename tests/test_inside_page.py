"""The Inside the model page through AppTest (issue 12): which run it opens on, a drawing
(the pad's state as the browser sends it) and its prediction, a digit from a link
(``?source=test&index=0``) layer by layer with its occlusion saliency, the first layer's
weights, a baseline's sentence, Copy as Python / R, a Kaggle test.csv, a run without its
export (the background job and its progress), a failed job with Retry, and a server that
never imports TensorFlow, Keras, JAX or umap."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import inside, runs
from mnist_core.data import load_dataset
from mnist_core.diskcache import write_json_atomic
from mnist_core.runs import jobs
from tests.conftest import ROOT
from tests.helpers import as_shown, cache_at

APP = str(ROOT / "app" / "streamlit_app.py")
PAGE = "views/inside.py"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def prepared_run_template(trained_run_template, tmp_path_factory):
    """The session's ff64 run on digits with its training digits indexed (the page's
    background job run once, for real), to copy into each test's cache."""
    cache = tmp_path_factory.mktemp("inside-cache")
    target = cache / "runs" / trained_run_template.name
    shutil.copytree(trained_run_template, target)
    with cache_at(cache):
        record = runs.open_run(target.name)
        assert record.paths.onnx.is_file()  # exported at the end of training
        inside.prepare(record)
        assert jobs.wait(record.paths.onnx_job, timeout=600).state == "done"
        assert inside.readiness(record).ready
    return target


@pytest.fixture
def prepared_run(cache_dir, prepared_run_template) -> runs.RunRecord:
    target = cache_dir / "runs" / prepared_run_template.name
    shutil.copytree(prepared_run_template, target)
    return runs.open_run(target.name)


@pytest.fixture(scope="session")
def baseline_template(tmp_path_factory):
    """A random-forest baseline run on digits, made once per session."""
    cache = tmp_path_factory.mktemp("baseline-cache")
    with cache_at(cache):
        digits = load_dataset("digits")
        record = runs.create_run(runs.BaselineSpec(sample=300), dataset="digits",
                                 fingerprint=digits.fingerprint, input_shape=(8, 8),
                                 n_classes=10)  # fmt: skip
        runs.start(record)
        assert runs.wait(record.directory, timeout=300).state == "done"
    return record.directory


@pytest.fixture
def baseline_run(cache_dir, baseline_template) -> runs.RunRecord:
    target = cache_dir / "runs" / baseline_template.name
    shutil.copytree(baseline_template, target)
    return runs.open_run(target.name)


def _page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.run()  # the Data page first, as a session starts
    at.switch_page(PAGE)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    """Every text of the page as the browser shows it (bold marks dropped)."""
    return [as_shown(e.value).replace("**", "") for e in (*at.markdown, *at.caption, *at.info,
                                                          *at.error, *at.warning)]  # fmt: skip


def _has(at: AppTest, fragment: str) -> bool:
    return any(fragment in text for text in _texts(at))


def _array(value) -> np.ndarray:
    """An array as plotly writes it into JSON: a list, or a typed array (base64 bytes)."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(v) for v in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).astype(float)
    return np.asarray(value, dtype=float)


def _chart(at: AppTest, key: str) -> dict:
    """The plotly figure of the chart with ``key``, as sent to the browser."""
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if str(c.proto.id).endswith(f"-{key}"))  # fmt: skip


def pad_value(strokes, *, size: int = 280, width: int = 22, sequence: int = 1) -> dict:
    """What the drawing pad sends when a stroke ends: its picture as a PNG data URL (ink in
    the alpha channel on a transparent background) and its strokes."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(picture)
    for stroke in strokes:
        pen.line([tuple(p) for p in stroke], fill=(0, 0, 0, 255), width=width, joint="curve")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return {"png": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(),
            "strokes": strokes, "sequence": sequence}  # fmt: skip


SEVEN = [[[70, 50], [210, 50]], [[210, 50], [120, 240]]]


# --------------------------------------------------------------------------- the page


def test_opens_on_the_best_run_with_layers_not_a_baseline(prepared_run, baseline_run):
    # The baseline is the newest and scores higher on digits than 3 epochs of ff64.
    assert baseline_run.summary.test_accuracy > prepared_run.summary.test_accuracy
    at = _page()
    assert at.selectbox(key="inside_run").value == prepared_run.run_id
    assert at.query_params["run"] == prepared_run.run_id
    assert [h.value for h in at.subheader] == ["Draw a digit", "One digit, layer by layer",
                                               "What the first layer learned",
                                               "The model's map of the data", "Take it away"]
    assert _has(at, "Prediction: draw a digit.")
    assert _has(at, f"{prepared_run.summary.params:,} parameters")


def test_a_baseline_run_says_why_there_is_nothing_to_see(prepared_run, baseline_run):
    at = _page(run=baseline_run.run_id)
    assert [as_shown(i.value) for i in at.info] == [
        f"Run {baseline_run.run_id} is a {baseline_run.name}: it has no layers to look inside."
    ]
    assert not at.subheader  # nothing else drawn


def test_a_drawn_seven_is_framed_predicted_and_its_neighbours_shown(prepared_run):
    at = _page()
    at.session_state["inside_pad"] = {"drawing": pad_value(SEVEN)}
    at.run()
    assert not at.exception, at.exception
    kept = at.session_state["inside:drawing"]
    assert kept.picture.shape == (280, 280, 4) and kept.strokes == SEVEN
    # What the page predicts is the model's answer for the drawing framed like digits' own.
    digits = load_dataset("digits")
    model = inside.open_model(prepared_run)
    image = inside.preprocess_drawing(kept.picture, framing=inside.measure_framing(
        digits.x_train[:2000]))  # fmt: skip
    assert image.shape == (8, 8) and image.max() == 255
    probabilities = model.predict(image)[0]
    top = int(np.argmax(probabilities))
    assert _has(at, f"Prediction: {top} · {probabilities[top]:.1%}")
    assert _has(at, "2 strokes · framed and predicted in")
    neighbours = inside.nearest_training_digits(prepared_run, image, k=8)
    assert _has(at, "The 8 nearest training digits")
    names = digits.class_names
    shown = [c for element in at.get("image") for c in element.captions if " · " in c]
    assert shown == [f"{names[int(digits.y_train[i])]} · {d:.2f}"
                     for i, d in zip(neighbours.indices, neighbours.distances)]  # fmt: skip
    assert _has(at, "Training digits " + ", ".join(f"#{int(i):,}" for i in neighbours.indices))
    # Undo: the pad sends one stroke; the page follows.
    at.session_state["inside_pad"] = {"drawing": pad_value(SEVEN[:1], sequence=2)}
    at.run()
    assert _has(at, "1 stroke · framed and predicted in")
    # Clear: nothing drawn, nothing predicted.
    at.session_state["inside_pad"] = {"drawing": {"png": None, "strokes": [], "sequence": 3}}
    at.run()
    assert _has(at, "Prediction: draw a digit.")
    assert not _has(at, "The 8 nearest training digits")


def test_a_digit_from_a_link_shows_every_layer_and_its_occlusion_saliency(prepared_run):
    at = _page(run=prepared_run.run_id, source="test", index="0")
    assert at.segmented_control(key="inside_source").value == "test"
    assert at.number_input(key="inside_index").value == 0
    digits = load_dataset("digits")
    model = inside.open_model(prepared_run)
    image, label = digits.x_test[0], int(digits.y_test[0])
    probabilities = model.predict(image)[0]
    top = int(np.argmax(probabilities))
    assert _has(at, f"Test digit #0, labelled {label}.")
    assert _has(at, f"The model says {top} ({probabilities[top]:.1%})")
    saliency = inside.occlusion_saliency(model, image)
    assert _has(at, saliency.description)  # "Occlusion: ..." names the method
    assert saliency.method == "occlusion"
    titles = [f"{n}. {layer.title}" for n, layer in enumerate(model.shown_layers, start=1)]
    assert len(titles) == 3  # ff64: Flatten, Dense 64, the softmax
    for title in titles:
        assert _has(at, title), title
    # The digit beside its saliency picture, whose colours stand for the engine's values.
    from mnist_core.figures.inside import scale_text

    captions = [c for element in at.get("image") for c in element.captions]
    drop = scale_text(float(saliency.values.max()))
    assert "the digit" in captions
    assert any(c.startswith(f"occlusion saliency: red up to a drop of {drop}") for c in captions)
    # Each Dense layer's units as bars: the values onnxruntime gives.
    dense = [a for a in model.activations(image) if a.type == "Dense"]
    assert [a.name for a in dense][-1] == "output" and len(dense) == 2
    for activation in dense:
        bars = _chart(at, f"inside_units_{activation.name}")["data"][0]["y"]
        np.testing.assert_allclose(_array(bars), activation.values, rtol=1e-5, atol=1e-6)
    # A link to another digit, and one past the end of the split.
    at.number_input(key="inside_index").set_value(5).run()
    assert at.query_params["index"] == "5" and _has(at, "Test digit #5, labelled")
    at2 = _page(run=prepared_run.run_id, source="train", index="99999")
    assert _has(at2, "There is no training digit #99999: the training set has 1,438 digits")
    assert _has(at2, "Training digit #0, labelled")


def test_a_link_opens_its_digit_even_after_another_was_chosen_here(prepared_run):
    at = _page()
    at.segmented_control(key="inside_source").set_value("drawing").run()
    assert at.query_params["source"] == "drawing"
    at.switch_page("views/evaluate.py").run()  # another page: this page's widgets are dropped
    at.query_params["source"], at.query_params["index"] = "test", "3"  # "Open in model view"
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="inside_source").value == "test"
    assert at.number_input(key="inside_index").value == 3
    assert _has(at, "Test digit #3, labelled")
    at.switch_page("views/data.py").run()
    at.switch_page(PAGE).run()  # back without a link: the digit kept from this visit
    assert at.number_input(key="inside_index").value == 3


def test_first_layer_weights_on_a_diverging_scale(prepared_run):
    at = _page()
    model = inside.open_model(prepared_run)
    weights = inside.first_layer_weights(model)
    chart = _chart(at, "inside_weights")
    assert len(chart["data"]) == len(weights.images) == 16  # the 16 strongest of 64 units
    bound = float(np.abs(weights.images).max())
    axis = chart["layout"]["coloraxis"]
    assert axis["cmin"] == pytest.approx(-bound) and axis["cmax"] == pytest.approx(bound)
    assert axis["cmid"] == 0
    np.testing.assert_allclose(_array(chart["data"][0]["z"]), weights.images[0], rtol=1e-6)
    assert _has(at, "red positive, blue negative")


def test_copy_as_python_and_r(prepared_run):
    from mnist_core.inside import code_export

    at = _page()
    assert not at.code  # shown on request
    codes = {}
    for lang in ("python", "r"):
        at.segmented_control(key="inside_code_lang").set_value(lang).run()
        assert len(at.code) == 1
        codes[at.code[0].language] = at.code[0].value
    # st.code shows the script without its final newline (the copy button copies this).
    assert codes["python"] == code_export.python_script(prepared_run).rstrip("\n")
    assert codes["r"] == code_export.r_script(prepared_run).rstrip("\n")
    assert "keras_model_sequential" in codes["r"] and "model.fit(" in codes["python"]
    labels = [b.label for b in at.get("download_button")]
    assert f"Download {prepared_run.run_id}.py" in labels
    assert f"Download {prepared_run.run_id}.R" in labels


def test_a_kaggle_test_csv_gives_a_submission_and_a_bad_one_a_sentence(prepared_run):
    digits = load_dataset("digits")
    model = inside.open_model(prepared_run)
    pixels = digits.x_test[:25].reshape(25, -1)
    header = ",".join(f"pixel{i}" for i in range(64))
    body = "\n".join(",".join(str(int(v)) for v in row) for row in pixels)
    at = _page()
    at.file_uploader(key="inside_csv").set_value(("test.csv", f"{header}\n{body}\n".encode(),
                                                  "text/csv")).run()  # fmt: skip
    assert not at.exception, at.exception
    expected = model.predict(digits.x_test[:25]).argmax(axis=1)
    assert any(t.value.startswith("25 digits predicted in") for t in at.text)
    assert "Download submission.csv" in [b.label for b in at.get("download_button")]
    frame = at.session_state["inside:submission"][1][1]
    assert frame["ImageId"].tolist() == list(range(1, 26))
    assert frame["Label"].tolist() == expected.tolist()
    submission = at.session_state["inside:submission"][1][0].decode().splitlines()
    assert submission[0] == "ImageId,Label" and len(submission) == 26
    # 784 columns (an MNIST test.csv) for an 8×8 model: one sentence.
    wide = ",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join(["0"] * 784) + "\n"
    at.file_uploader(key="inside_csv").set_value(("mnist-test.csv", wide.encode(),
                                                  "text/csv")).run()  # fmt: skip
    errors = [as_shown(e.value) for e in at.error]
    assert len(errors) == 1 and "784 pixel columns (28×28 images)" in errors[0]
    assert "8×8 = 64 pixels" in errors[0]


def test_a_run_without_its_export_gets_it_from_a_background_job(finished_run):
    record = runs.open_run(finished_run.name)
    record.paths.onnx.unlink()
    assert not inside.readiness(record).model
    at = _page(run=record.run_id)
    status = inside.readiness(record).status
    assert status is not None and status.state in ("queued", "running", "done")
    assert not at.subheader  # the page waits for the model
    assert any(p.proto.text.startswith("Preparing the model for this page")
               for p in at.get("progress")) or status.state == "done"  # fmt: skip
    assert jobs.wait(record.paths.onnx_job, timeout=600).state == "done"
    at.run()
    assert not at.exception, at.exception
    assert record.paths.onnx.is_file() and inside.readiness(record).ready
    assert "Draw a digit" in [h.value for h in at.subheader]


def test_a_failed_job_says_why_and_retries(finished_run):
    record = runs.open_run(finished_run.name)
    record.paths.onnx.unlink()
    record.paths.onnx_job.mkdir()
    write_json_atomic(record.paths.onnx_job / "status.json",
                      {"state": "failed", "error": "The disk is full (cache/runs)."})  # fmt: skip
    at = _page(run=record.run_id)
    assert [as_shown(e.value) for e in at.error] == ["The disk is full (cache/runs)."]
    retry = next(b for b in at.button if b.label == "Retry")
    retry.click().run()
    status = inside.readiness(record).status
    assert status.state in ("queued", "running", "done")
    assert jobs.wait(record.paths.onnx_job, timeout=600).state == "done"


def test_the_server_never_imports_tensorflow_keras_jax_or_umap(prepared_run):
    """Draw, open a digit, read the weights and the code in a fresh interpreter."""
    value = json.dumps(pad_value(SEVEN))
    script = textwrap.dedent(
        f"""
        import json, sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=120)
        at.query_params["dataset"] = "digits"
        at.run()
        at.switch_page({PAGE!r})
        at.query_params["source"] = "test"
        at.run()
        at.session_state["inside_pad"] = {{"drawing": json.loads({value!r})}}
        at.run()
        at.segmented_control(key="inside_source").set_value("drawing").run()
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("tensorflow", "keras", "jax", "umap", "torch"))
        texts = [m.value for m in at.markdown]
        print(json.dumps({{"exception": [e.value for e in at.exception], "heavy": heavy,
                          "predicted": any(t.startswith("**Prediction: ") for t in texts)}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, env={**os.environ})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exception": [], "heavy": [], "predicted": True}


def test_a_hostile_link_reads_as_typed_and_the_page_still_works(prepared_run):
    at = _page(run="![t](http://127.0.0.1:9/x.png)", source="<script>", index="-3")
    warnings = [w.value for w in at.warning]
    assert any("`![t](http://127.0.0.1:9/x.png)`" in w for w in warnings)  # a code span
    assert at.selectbox(key="inside_run").value == prepared_run.run_id
    assert at.segmented_control(key="inside_source").value == "test"  # not a source: default
    assert _has(at, "There is no test digit #-3: the test set has 359 digits")
    assert _has(at, "Test digit #0, labelled")
