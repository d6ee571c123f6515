"""The Streamlit app through AppTest: it opens, switches datasets, falls back offline,
answers bad uploads, and never imports TensorFlow or umap to draw a page."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, tiny_arrays
from tests.helpers import as_shown

APP = str(ROOT / "app" / "streamlit_app.py")


def _app(dataset: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if dataset:
        at.query_params["dataset"] = dataset
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}




def test_opens_on_digits():
    at = _app("digits").run()
    assert not at.exception
    assert at.session_state["dataset"] == "digits"
    assert _metrics(at) == {
        "Training images": "1,438",
        "Test images": "359",
        "Image size": "8 × 8 px",
        "Pixel range": "0 – 255",
        "Classes": "10",
        "Label": "1",  # of the digit shown enlarged: the first of the grid
    }
    assert [s.value for s in at.subheader] == [
        "Class balance", "Digits", "Pixel-wise statistics per class",
    ]  # fmt: skip


def test_opens_on_mnist_and_switches_to_digits_and_back(mnist_cached):
    at = _app().run()
    assert not at.exception and not at.warning
    assert at.session_state["dataset"] == "mnist"
    assert _metrics(at)["Training images"] == "60,000"
    assert _metrics(at)["Image size"] == "28 × 28 px"
    at.selectbox(key="dataset").set_value("digits").run()
    assert not at.exception
    assert _metrics(at)["Training images"] == "1,438"
    at.selectbox(key="dataset").set_value("mnist").run()
    assert _metrics(at)["Test images"] == "10,000"


def test_grid_controls_rerun_without_error(mnist_cached):
    at = _app().run()
    at.segmented_control(key="grid_order").set_value("random").run()
    at.selectbox(key="grid_class").set_value(7).run()
    at.slider(key="grid_side").set_value(20).run()
    at.segmented_control(key="stats_split").set_value("test").run()
    assert not at.exception
    assert "10,000 test images" in " ".join(c.value for c in at.caption)


def test_offline_without_mnist_falls_back_to_digits_in_one_sentence(cache_dir):
    # conftest points downloads at a closed port on 127.0.0.1: the download fails.
    at = _app().run()
    assert not at.exception
    assert len(at.warning) == 1
    folder = cache_dir / "datasets"
    assert as_shown(at.warning[0].value) == (
        "MNIST handwritten digits cannot be downloaded here, so the bundled 8x8 digits are "
        "shown instead."
    )
    assert as_shown(at.sidebar.caption[0].value).startswith(
        f"To use it, put mnist.npz in {folder} or upload it below. The download said: "
        "mnist.npz: could not download MNIST handwritten digits from http://127.0.0.1:9/"
    )
    assert at.sidebar.warning[0].value == at.warning[0].value  # beside the picker
    assert _metrics(at)["Image size"] == "8 × 8 px"
    # The picker says what is shown, and so does the link.
    assert at.selectbox(key="dataset").value == "digits"
    assert at.query_params["dataset"] == "digits"


def _upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    uploader = at.sidebar.file_uploader[0]
    return uploader.set_value([(n, c, "application/octet-stream") for n, c in files]).run()


def test_upload_of_a_good_file_is_selected_and_survives_a_reload(tmp_path, cache_dir):
    path = tmp_path / "mine.npz"
    np.savez(path, **tiny_arrays())
    at = _upload(_app("digits").run(), [("mine.npz", path.read_bytes())])
    assert not at.exception and not at.error
    key = at.session_state["dataset"]
    assert key.startswith("upload:") and key.endswith("/mine.npz")
    assert _metrics(at)["Image size"] == "6 × 6 px"
    reopened = _app(key).run()  # a reload: a new session with the same URL
    assert _metrics(reopened)["Training images"] == "40"


def test_upload_of_a_bad_file_says_why_and_keeps_the_dataset(cache_dir):
    at = _upload(_app("digits").run(), [("page.npz", b"<html>404</html>")])
    assert not at.exception
    assert [as_shown(e.value) for e in at.error] == [
        "page.npz: this is an HTML page, not an .npz archive "
        "(often a failed download or a saved web page)."
    ]
    assert at.session_state["dataset"] == "digits"
    assert not (cache_dir / "uploads").exists() or not any((cache_dir / "uploads").iterdir())


def test_server_never_imports_tensorflow_jax_or_umap(mnist_cached):
    """Render every page in a fresh interpreter and list the heavy modules it loaded."""
    script = textwrap.dedent(
        f"""
        import json, sys, time
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=120).run()
        at.selectbox(key="dataset").set_value("digits").run()
        at.switch_page("views/embeddings.py").run()
        time.sleep(8)  # the PCA job finishes in the background
        at.run()
        at.segmented_control(key="emb_method").set_value("umap").run()
        at.button[0].click().run()  # the form's Compute UMAP: starts the job
        at.switch_page("views/builder.py").run()
        next(b for b in at.button if b.label == "Train").click().run()  # starts a run
        at.switch_page("views/runs.py").run()
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in (
            "tensorflow", "keras", "umap", "torch", "jax", "numba", "pynndescent"))
        print(json.dumps({{"exception": [e.value for e in at.exception], "heavy": heavy}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exception": [], "heavy": []}
    _wait_for_jobs(mnist_cached, timeout=300)  # leave no worker running behind the test
    from mnist_core.runs import jobs

    for run in (mnist_cached / "runs").iterdir():
        if run.is_dir() and not run.name.startswith("."):
            assert jobs.wait(run, timeout=300).state == "done"


def test_link_to_a_missing_dataset_opens_mnist_and_says_so(mnist_cached):
    at = _app("upload:0123456789abcdef/gone.npz").run()
    assert not at.exception
    assert at.session_state["dataset"] == "mnist"
    assert [as_shown(t.value) for t in at.toast] == [
        "The dataset in the link, upload:0123456789abcdef/gone.npz, is not here; "
        "showing MNIST handwritten digits."
    ]


def test_upload_of_four_idx_files_becomes_one_dataset(tmp_path, cache_dir):
    from tests.helpers import write_idx_folder

    folder = write_idx_folder(tmp_path / "idx", tiny_arrays(), compress=True)
    at = _upload(_app("digits").run(), [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())])
    assert not at.exception and not at.error
    assert _metrics(at)["Training images"] == "40"
    assert _metrics(at)["Test images"] == "10"


def _wait_for_jobs(cache_dir, timeout=180):
    from mnist_core.runs import jobs

    # Job folders only: beside them live the kept neighbour graphs and pixel references.
    for directory in (cache_dir / "embeddings").iterdir():
        if (directory / jobs.JOB_FILE).is_file():
            assert jobs.wait(directory, timeout=timeout).state == "done"


def test_embeddings_page_runs_pca_in_the_background_then_shows_it(cache_dir):
    at = _app("digits").run()
    at.switch_page("views/embeddings.py").run()
    assert not at.exception
    assert [i.value for i in at.info][0].startswith(
        "Computing PCA of the train split in the background: "
    )
    _wait_for_jobs(cache_dir)
    at.run()
    assert not at.exception and not at.error
    metrics = _metrics(at)
    assert set(metrics) == {"k-NN accuracy in PC1–PC2", "same, in pixel space", "silhouette",
                            "neighbour purity (k=15)"}  # fmt: skip
    assert float(metrics["same, in pixel space"].rstrip("%")) > 95
    assert [s.value for s in at.subheader] == ["Variance explained", "The first principal components"]
    at.selectbox(key="pc_y").set_value(2).run()
    assert not at.exception


def test_embeddings_page_umap_waits_for_the_form_then_computes(cache_dir):
    at = _app("digits").run()
    at.switch_page("views/embeddings.py").run()
    at.segmented_control(key="emb_method").set_value("umap").run()
    assert at.info[0].value.startswith("This UMAP of the train split has not been computed yet.")
    at.slider[0].set_value(10)
    at.button[0].click().run()  # Compute UMAP
    assert at.info[0].value.startswith("Computing UMAP of the train split in the background")
    _wait_for_jobs(cache_dir, timeout=300)
    at.run()
    assert not at.exception and not at.error
    assert float(_metrics(at)["k-NN accuracy in 2-D"].rstrip("%")) > 90


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_builder_shows_counts_and_errors_next_to_the_layer(cache_dir):
    at = _app("digits").run()
    at.switch_page("views/builder.py").run()
    assert not at.exception
    assert _metrics(at)["Total parameters"] == "4,810"  # feed-forward 64 on 8×8 digits
    at.selectbox(key="preset_choice").set_value("keras_cnn")
    _button(at, "Load preset").click().run()
    # Keras CNN on 8×8: two 3×3 convs leave 4×4, pooling 2×2; fine. Make the kernel too big.
    layers = at.session_state["builder_layers"]
    first = layers[0]["id"]
    at.number_input(key=f"L{first}_kernel_size").set_value(9).run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [  # shown escaped, as plain text
        "Layer 1 (Conv2D 32@9×9 relu): the 9×9 kernel is larger than its 8×8 input; use a "
        "smaller kernel or padding 'same'."
    ]
    assert _button(at, "Train").disabled


def test_builder_spec_lives_in_the_url(cache_dir):
    from mnist_core.models import PRESETS, ModelSpec, with_train

    at = _app("digits").run()
    at.switch_page("views/builder.py").run()
    at.selectbox(key="preset_choice").set_value("two_conv_cnn")
    _button(at, "Load preset").click().run()
    url_spec = at.query_params["spec"]
    url_spec = url_spec[0] if isinstance(url_spec, list) else url_spec
    from_url, preset = ModelSpec.from_url(url_spec), PRESETS["two_conv_cnn"].spec
    assert from_url.layers == preset.layers
    # The form spells out the optimizer's default learning rate; all else is the preset's.
    assert from_url.train == with_train(preset, learning_rate=0.001).train
    # A new session opened with that link shows the same form.
    again = _app("digits")
    again.query_params["spec"] = url_spec
    again.run()
    again.switch_page("views/builder.py").run()
    assert [layer["type"] for layer in again.session_state["builder_layers"]] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense",
    ]  # fmt: skip
    broken = _app("digits")
    broken.query_params["spec"] = "garbage"
    broken.run()
    broken.switch_page("views/builder.py").run()
    assert not broken.exception


def test_builder_trains_and_the_runs_page_lists_the_run(cache_dir):
    from mnist_core import runs

    at = _app("digits").run()
    at.switch_page("views/builder.py").run()
    at.selectbox(key="preset_choice").set_value("logistic")
    _button(at, "Load preset").click().run()
    _button(at, "Train").click().run()
    run_id = at.session_state["selected_run"]
    assert runs.wait(runs.open_run(run_id).directory, timeout=180).state == "done"
    at.run()
    assert not at.exception
    assert "Test accuracy" in _metrics(at)
    at.switch_page("views/runs.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["run"].tolist() == [run_id]
    assert table["state"].tolist() == ["done"]


def test_evaluation_page_shows_a_finished_run(finished_run):
    at = _app("digits").run()
    at.switch_page("views/evaluate.py").run()
    assert not at.exception and not at.error
    summary = json.loads((finished_run / "summary.json").read_text())
    assert _metrics(at)["Test accuracy"] == f"{summary['test_accuracy']:.2%}"
    assert [s.value for s in at.subheader][:2] == ["Confusion matrix", "Statistics"]
    for how in ("pred", "all", "none"):
        at.segmented_control(key="cm_normalization").set_value(how).run()
    at.selectbox(key="mistakes_true").set_value(3).run()
    assert not at.exception


def test_evaluation_page_without_runs_says_what_to_do(cache_dir):
    at = _app("digits").run()
    at.switch_page("views/evaluate.py").run()
    assert [i.value for i in at.info] == [
        "No finished run yet: train one on the Model builder page."
    ]


def test_runs_page_compares_exports_and_launches_a_baseline(finished_run):
    at = _app("digits")
    at.query_params["run"] = finished_run.name
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["run"].tolist() == [finished_run.name]
    row = table.iloc[0]
    assert row["epochs"] == "3 / 3" and row["state"] == "done" and row["optimizer"] == "adam"
    assert row["batch"] == 32 and row["lr"] == 0.001 and row["params"] == 4810
    assert row["run label"] == "ff64"
    # The backend it trained on (a dense stack: JAX, chosen automatically), recorded in the run.
    assert "Trained with Keras on JAX on CPU (auto: dense layers run fastest on JAX)." in [
        c.value.replace("\\", "") for c in at.caption]  # shown as plain text: escaped
    at.slider(key="smoothing").set_value(0.6).run()
    assert not at.exception
    # The baseline form: a random forest on 300 digits, through the queue.
    at.number_input(key="baseline_sample").set_value(300)
    next(b for b in at.button if b.label == "Fit baseline").click().run()
    from mnist_core import runs

    baseline_run = next(r for r in runs.list_runs() if r.kind == "baseline")
    assert runs.wait(baseline_run.directory, timeout=180).state == "done"
    at.run()
    assert not at.exception
    assert "Accuracy against training time" in [s.value for s in at.subheader]


def test_runs_page_points_to_the_capacity_grid_study_instead_of_launching_a_grid(cache_dir):
    at = _app("digits").run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Fit baseline"]  # the fixed grid launcher is gone
    (link,) = at.get("page_link")
    assert (link.proto.page, link.proto.query_string) == ("studies", "tune=capacity&dataset=digits")
    at.query_params["tune"] = "capacity"  # what the link opens: the step fills the form
    at.switch_page("views/studies.py").run()
    assert not at.exception
    assert at.multiselect(key="study_params").value == ["layer 2.units", "hidden_dense_layers"]
    assert not (cache_dir / "runs").exists()  # nothing launched by either page
