"""The Inside page's "The model's map of the data" through AppTest (issue 12, part 4): a
button starts the background job (nothing starts by itself), then both maps with their
cluster quality; a selection from the link fills the paged gallery, filtered to the
mistakes, kept in the URL and across a page switch; a chosen digit opens layer by layer; a
failed job says its sentence and waits for Retry; and the server draws all this without
TensorFlow, Keras or umap (in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.diskcache import write_json_atomic
from mnist_core.inside import model_map
from mnist_core.runs import jobs
from tests.conftest import ROOT
from tests.helpers import as_shown
from tests.test_model_map import mapped_cache_template, mapped_run  # noqa: F401 (fixtures)

APP = str(ROOT / "app" / "streamlit_app.py")
PAGE = "views/inside.py"
ALL = "b:-1000,1000,-1000,1000"  # a box around every point of either map


def _page(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["dataset"] = "digits"
    at.run()
    at.switch_page(PAGE)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at) -> list[str]:
    return [as_shown(e.value) for e in (*at.markdown, *at.caption)]


def _maps(at) -> list[str]:
    return [c.proto.id.split("-", 2)[2] for c in at.get("plotly_chart") if "-inside-map-" in c.proto.id]


def _url(at) -> dict:
    return {k: at.query_params[k][0] if isinstance(at.query_params[k], list)
            else at.query_params[k] for k in at.query_params}  # fmt: skip


def test_a_button_computes_the_maps_then_both_show_with_their_quality(mapped_run):
    directory = model_map.map_request(mapped_run).directory
    for child in directory.iterdir():  # the stored map gone, its job never asked for
        child.unlink()
    at = _page(run=mapped_run.run_id)
    assert "The model's map of the data" in [s.value for s in at.subheader]
    assert model_map.status_of(mapped_run).state is None  # nothing started by itself
    at.run()
    assert model_map.status_of(mapped_run).state is None
    button = next(b for b in at.button if b.label == "Compute the map")
    button.click().run()
    assert model_map.status_of(mapped_run).state in ("queued", "running", "done")
    assert jobs.wait(directory, timeout=600).state == "done"
    at.run()
    texts = _texts(at)
    result = model_map.load_map(mapped_run)
    assert f"{len(result.mistakes):,} mistakes among 359 test digits (the run's saved test " \
        "predictions)." in texts  # fmt: skip
    assert "**Raw pixels**" in texts
    assert "**The model's last hidden layer: l2_dense (64 values)**" in texts
    key = model_map.map_request(mapped_run).key
    assert sorted(_maps(at)) == [f"inside-map-model-{key}", f"inside-map-raw-{key}"]
    quality = result.model_quality
    assert (f"k-NN accuracy in the map {quality['knn_accuracy']:.1%} · silhouette "
            f"{quality['silhouette']:.2f} · neighbour purity (k=15) "
            f"{quality['purity_mean']:.1%}") in texts  # fmt: skip
    assert any(t.startswith("Draw a lasso or a box around points") for t in texts)


def test_a_selection_from_the_link_fills_the_gallery_and_stays(mapped_run):
    result = model_map.load_map(mapped_run)
    n_wrong = len(result.mistakes)
    # The gallery's first page of mistakes (50 a page; how many the model gets wrong
    # depends on the backend and the session's run).
    first_wrong = f"Page 1 of {-(-n_wrong // 50)}: digits 1–{min(n_wrong, 50)} of {n_wrong}."
    at = _page(run=mapped_run.run_id, mapon="model", mapsel=ALL)
    assert f"**359 digits selected on the model's map**, {n_wrong:,} of them mistakes." \
        in _texts(at)  # fmt: skip
    assert "Page 1 of 8: digits 1–50 of 359. Click a digit, then open it in the model view." \
        in _texts(at)  # fmt: skip
    at.number_input(key="inside_map_page").set_value(8).run()
    assert any(t.startswith("Page 8 of 8: digits 351–359 of 359.") for t in _texts(at))
    assert _url(at)["mappage"] == "8"
    at.segmented_control(key="inside_map_show").set_value("mistakes").run()
    assert any(t.startswith(first_wrong) for t in _texts(at))
    assert (_url(at)["mapon"], _url(at)["mapsel"], _url(at)["mapshow"]) == (
        "model", ALL, "mistakes")
    assert "mappage" not in _url(at)

    # Another page and back: the selection and the filter are still there.
    at.switch_page("views/data.py").run()
    at.switch_page(PAGE).run()
    assert at.segmented_control(key="inside_map_show").value == "mistakes"
    assert any(t.startswith(first_wrong) for t in _texts(at))

    # A digit chosen in the gallery (a click there) opens layer by layer.
    row = int(result.mistakes[0])
    at.session_state["inside:map"]["digit"] = row
    at.run()
    label, guess = result.labels[row], result.predicted[row]
    assert f"Test digit #{row:,} · labelled {label} · the model says {guess} (wrong)" in _texts(at)
    next(b for b in at.button if b.label == "Open in model view").click().run()
    assert at.segmented_control(key="inside_source").value == "test"
    assert at.number_input(key="inside_index").value == row
    assert (_url(at).get("source", "test"), _url(at)["index"]) == ("test", str(row))
    assert any(t.startswith(f"**Test digit #{row}, labelled {label}.**") for t in _texts(at))
    assert "[↑ Shown layer by layer above](#one-digit-layer-by-layer)" in \
        [m.value for m in at.markdown]  # fmt: skip


def test_a_selection_on_the_raw_map_and_a_link_it_cannot_read(mapped_run):
    result = model_map.load_map(mapped_run)
    x0, y0 = np.percentile(result.raw, 50, axis=0)
    box = f"b:{x0:.4g},1000,{y0:.4g},1000"
    inside = int(np.sum((result.raw[:, 0] >= float(f"{x0:.4g}"))
                        & (result.raw[:, 1] >= float(f"{y0:.4g}"))))  # fmt: skip
    at = _page(run=mapped_run.run_id, mapon="raw", mapsel=box)
    assert any(t.startswith(f"**{inside:,} digits selected on the raw-pixel map**")
               for t in _texts(at))  # fmt: skip
    at = _page(run=mapped_run.run_id, mapon="model", mapsel="x:1")
    assert any(t.startswith("Draw a lasso or a box around points") for t in _texts(at))
    assert "mapsel" not in _url(at)


def test_a_failed_job_says_why_and_only_retry_starts_it_again(mapped_run):
    directory = model_map.map_request(mapped_run).directory
    for child in directory.iterdir():
        child.unlink()
    write_json_atomic(directory / "status.json",
                      {"state": "failed", "error": "The disk holding /c is full."})  # fmt: skip
    at = _page(run=mapped_run.run_id)
    at.run()
    assert [as_shown(e.value) for e in at.error] == ["The disk holding /c is full."]
    assert not (directory / "job.json").exists()  # never resubmitted by itself
    next(b for b in at.button if b.label == "Retry").click().run()
    assert jobs.wait(directory, timeout=600).state == "done"
    at.run()
    assert not at.error and len(_maps(at)) == 2


def test_a_damaged_map_is_made_again_when_the_page_shows_it(mapped_run):
    directory = model_map.map_request(mapped_run).directory
    (directory / "map.npz").write_bytes(b"damaged")
    at = _page(run=mapped_run.run_id)
    assert model_map.status_of(mapped_run).state in ("queued", "running", "done")
    assert jobs.wait(directory, timeout=600).state == "done"
    at.run()
    assert len(_maps(at)) == 2 and model_map.load_map(mapped_run) is not None


def test_the_server_draws_the_maps_without_tensorflow_keras_or_umap(mapped_run):
    script = textwrap.dedent(
        f"""
        import json, sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=120)
        at.query_params["dataset"] = "digits"
        at.run()
        at.switch_page({PAGE!r})
        at.query_params.update(run={mapped_run.run_id!r}, mapon="model", mapsel={ALL!r})
        at.run()
        at.segmented_control(key="inside_map_show").set_value("mistakes").run()
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("tensorflow", "keras", "jax", "umap", "torch"))
        charts = [c for c in at.get("plotly_chart") if "-inside-map-" in c.proto.id]
        print(json.dumps({{"exception": [e.value for e in at.exception], "heavy": heavy,
                          "charts": len(charts)}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, env={**os.environ})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exception": [], "heavy": [], "charts": 3}  # two maps and the gallery
