"""The Embeddings page through AppTest: its choices and selection survive a page switch and
live in the URL; the gallery pages and filters a selection; a failed job is shown, with
Retry, and never submitted again by itself (with the real worker on a real full disk)."""

from __future__ import annotations

import base64
import json
import math
import re
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import embeddings, figures
from mnist_core.data import load_dataset
from mnist_core.figures import raster
from mnist_core.runs import jobs
from tests.conftest import ROOT, fill_disk

APP = str(ROOT / "app" / "streamlit_app.py")
PAGE = "views/embeddings.py"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _page(**url) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    for name, value in url.items():
        at.query_params[name] = value
    at.run()
    return at.switch_page(PAGE).run()


def _computed(at: AppTest, digits, method="pca", split="train", params=None) -> embeddings.EmbeddingResult:
    """Wait for the page's job, rerun the page; the stored result."""
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, method, split, params or {})
    assert jobs.wait(request.directory, timeout=300).state == "done"
    at.run()
    assert not at.exception, at.exception
    return embeddings.load_cached(request)


def _figures(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures as JSON, by chart key prefix (up to the first dash)."""
    charts = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        charts[element.proto.id] = spec
    return charts


def _array(value) -> np.ndarray:
    """An array as plotly writes it into JSON: a list, or a typed array (base64 bytes)."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(s) for s in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value)


def _gallery(at: AppTest) -> np.ndarray:
    """The digits in the gallery grid, rows of [index, label] (its clickable trace's
    customdata)."""
    grids = [_array(f["data"][1]["customdata"]) for f in _figures(at).values()
             if len(f["data"]) >= 2 and f["data"][0]["type"] in ("heatmap", "image")
             and f["data"][1].get("customdata") is not None
             and f["layout"].get("width", 0) > 300]  # fmt: skip
    assert len(grids) == 1, len(grids)
    return grids[0]


def _url(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in at.query_params}  # fmt: skip


def test_method_split_and_umap_parameters_survive_a_page_switch_and_live_in_the_url(cache_dir, digits):
    at = _page()
    at.segmented_control(key="emb_method").set_value("umap").run()
    at.segmented_control(key="emb_split").set_value("test").run()
    at.slider[0].set_value(10)  # n_neighbors, applied by the form
    at.button[0].click().run()  # Compute UMAP
    assert not at.exception
    assert _url(at)["method"] == "umap" and _url(at)["split"] == "test" and _url(at)["nn"] == "10"
    at.switch_page("views/data.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.segmented_control(key="emb_method").value == "umap"
    assert at.segmented_control(key="emb_split").value == "test"
    assert at.slider[0].value == 10
    assert _url(at)["nn"] == "10" and _url(at)["method"] == "umap"
    result = _computed(at, digits, "umap", "test", {"n_neighbors": 10})
    assert result.coords.shape == (359, 2)
    # A new session opened from the URL shows the same view.
    again = _page(**{k: v for k, v in _url(at).items() if k != "dataset"})
    assert again.segmented_control(key="emb_method").value == "umap"
    assert again.slider[0].value == 10
    assert not again.info  # the stored UMAP is shown, not "not computed yet"


def test_a_selection_from_the_url_fills_the_gallery_and_survives_a_page_switch(cache_dir, digits):
    at = _page(method="pca", split="train")
    result = _computed(at, digits)
    x, y = result.coords[:, 0], result.coords[:, 1]
    box = {"kind": "box", "x": [float(np.percentile(x, 5)), float(np.percentile(x, 60))],
           "y": [float(np.percentile(y, 5)), float(np.percentile(y, 60))]}  # fmt: skip
    sel = figures.embeddings.shapes_to_text([box])
    rounded = figures.embeddings.shapes_from_text(sel)[0]
    inside = np.flatnonzero((x >= rounded["x"][0]) & (x <= rounded["x"][1])
                            & (y >= rounded["y"][0]) & (y <= rounded["y"][1]))  # fmt: skip
    assert 100 < len(inside) < len(x)

    at = _page(method="pca", split="train", sel=sel)
    assert not at.exception
    assert f"{len(inside):,} selected points" in [s.value for s in at.subheader]
    assert _url(at)["sel"] == sel
    gallery = _gallery(at)
    np.testing.assert_array_equal(gallery[:, 0], inside[:100])
    at.switch_page("views/builder.py").run()
    at.switch_page(PAGE).run()
    assert f"{len(inside):,} selected points" in [s.value for s in at.subheader]
    assert _url(at)["sel"] == sel


def test_gallery_pages_through_the_selection_and_filters_by_label(cache_dir, digits):
    at = _page(method="pca", split="all")
    result = _computed(at, digits, split="all")
    x, y = result.coords[:, 0], result.coords[:, 1]
    box = {"kind": "box", "x": [float(x.min()) - 1, float(x.max()) + 1],
           "y": [float(y.min()) - 1, float(y.max()) + 1]}  # fmt: skip
    at = _page(method="pca", split="all", sel=figures.embeddings.shapes_to_text([box]))
    n = len(result.labels)  # every point: 1,797
    assert f"{n:,} selected points" in [s.value for s in at.subheader]
    page = at.number_input(key="gallery_page")
    assert page.max == math.ceil(n / 100) == 18
    page.set_value(18).run()
    last = _gallery(at)
    assert len(last) == n - 17 * 100  # the last 97 digits
    np.testing.assert_array_equal(last[:, 1], result.labels[1700:])
    np.testing.assert_array_equal(last[:, 0], result.indices[1700:])

    # Filter by label: one class shows exactly its digits; "all but" the most common label
    # shows exactly the others.
    show = at.selectbox(key="gallery_label")
    counts = np.bincount(result.labels)
    top = int(np.argmax(counts))
    assert show.options[0] == f"all labels ({n:,})"
    assert show.options[1] == f"all but {top} ({n - counts[top]:,})"
    show.set_value(f"is:{top}").run()
    assert at.number_input(key="gallery_page").value == 1  # a new filter starts on page 1
    shown = _gallery(at)
    assert len(shown) == min(100, counts[top]) and set(shown[:, 1]) == {top}
    np.testing.assert_array_equal(shown[:, 0], result.indices[result.labels == top][:100])
    at.selectbox(key="gallery_label").set_value("is:3").run()
    shown = _gallery(at)
    assert len(shown) == min(100, counts[3]) and set(shown[:, 1]) == {3}


def test_off_label_digits_of_a_cluster_are_all_found(cache_dir, digits):
    """A lasso around one class's cluster: 'all but' that class pages through exactly the
    off-label digits inside it, however many precede them."""
    at = _page(method="pca", split="train")
    result = _computed(at, digits)
    x, y = result.coords[:, 0], result.coords[:, 1]
    label = 0
    cx, cy = np.median(x[result.labels == label]), np.median(y[result.labels == label])
    r = 1.2 * np.percentile(np.hypot(x[result.labels == label] - cx, y[result.labels == label] - cy), 90)
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    lasso = {"kind": "lasso", "x": list(cx + r * np.cos(angles)), "y": list(cy + r * np.sin(angles))}
    sel = figures.embeddings.shapes_to_text([lasso])
    inside = figures.embeddings.rows_in_shapes(x, y, figures.embeddings.shapes_from_text(sel))
    off = inside[result.labels[inside] != label]
    assert len(off) >= 1 and np.bincount(result.labels[inside]).argmax() == label
    at = _page(method="pca", split="train", sel=sel)
    at.selectbox(key="gallery_label").set_value(f"not:{label}").run()
    shown = _gallery(at)
    np.testing.assert_array_equal(shown[:, 0], result.indices[off][:100])
    np.testing.assert_array_equal(shown[:, 1], result.labels[off][:100])
    assert label not in set(shown[:, 1])


def test_cluster_quality_is_measured_on_the_chosen_axes(cache_dir, digits):
    at = _page(method="pca", split="test")
    result = _computed(at, digits, split="test")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["k-NN accuracy in PC1–PC2"] == f"{result.quality['knn_accuracy']:.1%}"
    at.selectbox(key="pc_x").set_value(2).run()
    at.selectbox(key="pc_y").set_value(4).run()
    metrics = {m.label: m.value for m in at.metric}
    expected = embeddings.cluster_quality(result.coords[:, [2, 4]], result.labels, seed=0)
    assert metrics["k-NN accuracy in PC3–PC5"] == f"{expected['knn_accuracy']:.1%}"
    assert metrics["silhouette"] == f"{expected['silhouette']:.3f}"
    assert _url(at)["pcx"] == "3" and _url(at)["pcy"] == "5"
    at.switch_page("views/data.py").run()
    at.switch_page(PAGE).run()
    assert at.selectbox(key="pc_x").value == 2 and at.selectbox(key="pc_y").value == 4


def test_a_bad_link_says_what_it_ignored(cache_dir):
    at = _page(method="tsne", sel="x:1")
    assert not at.exception
    assert at.segmented_control(key="emb_method").value == "pca"
    (toast,) = [t.value.replace("\\", "") for t in at.toast]  # shown as plain text
    assert toast == (
        "Parts of the link were not understood (the method 'tsne' is not one of pca, umap; "
        "The selection 'x:1' is neither a box (b:x0,x1,y0,y1) nor a lasso (l:x,y;x,y;x,y...)); "
        "the defaults are shown instead."
    )


def test_a_failed_job_on_a_full_disk_shows_its_sentence_and_waits_for_retry(
    small_disk, monkeypatch, digits
):
    cache = small_disk / "cache"
    monkeypatch.setenv("MNIST_CACHE_DIR", str(cache))
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "all", {})
    (cache / "embeddings").mkdir(parents=True)
    fill_disk(small_disk)
    # Room for the job's small files, none for the embedding (1,797 × 50 floats, 360 KB).
    filler = small_disk / ".filler"
    with open(filler, "r+b") as f:
        f.truncate(filler.stat().st_size - 48 * 1024)
    at = _page(method="pca", split="all")
    assert not at.exception
    status = jobs.wait(request.directory, timeout=300)
    assert status.state == "failed"
    at.run()
    (error,) = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # shown as plain text
    assert error.startswith("The PCA job failed: ") and "full" in error, error
    assert str(small_disk) in error or str(cache) in error
    retry = [b for b in at.button if b.label == "Retry"]
    assert len(retry) == 1
    submitted = jobs.read_status(request.directory).submitted
    for _ in range(3):  # reruns (the page polls, the user clicks elsewhere) submit nothing
        time.sleep(0.5)
        at.run()
        assert jobs.read_status(request.directory).state == "failed"
    at.switch_page("views/data.py").run()
    at.switch_page(PAGE).run()
    assert jobs.read_status(request.directory).submitted == submitted
    assert [re.sub(r"\\(.)", r"\1", e.value) for e in at.error] == [error]

    filler.unlink()  # space again: Retry computes it
    [b for b in at.button if b.label == "Retry"][0].click().run()
    assert jobs.wait(request.directory, timeout=300).state == "done"
    at.run()
    assert not at.error and not at.exception
    assert embeddings.load_cached(request).coords.shape == (1797, 50)


def test_full_mnist_a_selection_of_thousands_reaches_every_off_label_digit(mnist_cached):
    """Full size, as reported: a box around the 1s of MNIST's PCA holds thousands of points;
    'all but 1' pages through exactly the off-label digits among them, to the last one."""
    mnist = load_dataset("mnist", download=False)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["dataset"] = "mnist"
    at.run()
    at.switch_page(PAGE).run()
    request = embeddings.EmbeddingRequest("mnist", mnist.fingerprint, "pca", "train", {})
    assert jobs.wait(request.directory, timeout=600).state == "done"
    result = embeddings.load_cached(request)
    x, y = result.coords[:, 0], result.coords[:, 1]
    ones = result.labels == 1
    box = {"kind": "box", "x": [float(np.percentile(x[ones], 1)), float(np.percentile(x[ones], 99))],
           "y": [float(np.percentile(y[ones], 1)), float(np.percentile(y[ones], 99))]}  # fmt: skip
    sel = figures.embeddings.shapes_to_text([box])
    inside = figures.embeddings.rows_in_shapes(x, y, figures.embeddings.shapes_from_text(sel))
    off = inside[result.labels[inside] != 1]
    assert len(inside) > 3000 and len(off) > 100  # more than the old 300-digit gallery held

    at = AppTest.from_file(APP, default_timeout=300)
    for name, value in {"dataset": "mnist", "method": "pca", "split": "train", "sel": sel}.items():
        at.query_params[name] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert f"{len(inside):,} selected points" in [s.value for s in at.subheader]
    assert at.number_input(key="gallery_page").max == math.ceil(len(inside) / 100)
    at.selectbox(key="gallery_label").set_value("not:1").run()
    pages = math.ceil(len(off) / 100)
    assert at.number_input(key="gallery_page").max == pages
    seen = []
    for number in range(1, pages + 1):
        at.number_input(key="gallery_page").set_value(number).run()
        seen.append(_gallery(at))
    seen = np.concatenate(seen)
    np.testing.assert_array_equal(seen[:, 0], result.indices[off])  # every one, in order
    assert 1 not in set(seen[:, 1])

    # A warm rerun (nothing changed) builds no figure of 70,000 points again: it comes from
    # the cache. (Counted, not timed: timings belong in benchmarks/.)
    built = []
    original = raster.raster_scatter_figure

    def counting(*args, **kwargs):
        built.append(1)
        return original(*args, **kwargs)

    at.run()
    raster.raster_scatter_figure = counting
    try:
        at.run()
    finally:
        raster.raster_scatter_figure = original
    assert built == []


def test_the_scatter_is_one_picture_and_a_linked_selection_is_outlined_and_dimmed(cache_dir, digits):
    """No WebGL: the points are a PNG under the plot, an invisible grid carries the hover; a selection from a link is drawn as its outline and its
    points stand out (the picture differs from the one without)."""
    at = _page(method="pca", split="train")
    result = _computed(at, digits)
    (plain,) = [f for k, f in _figures(at).items() if f["layout"].get("images")]
    assert {t["type"] for t in plain["data"]} == {"heatmap", "scatter"}
    grid = plain["data"][0]
    assert np.nansum(_array(grid["z"]).astype(float)) == len(result.labels)  # 1,438
    assert not plain["layout"].get("shapes")
    x, y = result.coords[:, 0], result.coords[:, 1]
    box = {"kind": "box", "x": [float(np.percentile(x, 20)), float(np.percentile(x, 70))],
           "y": [float(np.percentile(y, 20)), float(np.percentile(y, 70))]}  # fmt: skip
    at = _page(method="pca", split="train", sel=figures.embeddings.shapes_to_text([box]))
    (chosen,) = [f for k, f in _figures(at).items() if f["layout"].get("images")]
    assert [s["type"] for s in chosen["layout"]["shapes"]] == ["rect"]
    assert chosen["layout"]["images"][0]["source"] != plain["layout"]["images"][0]["source"]
    assert chosen["layout"]["xaxis"]["range"] == plain["layout"]["xaxis"]["range"]
