"""The analyst's Embeddings journey in Chromium: PCA, lasso a region, page through and filter
the selection, enlarge a digit, leave the page and come back: everything is still there.
Screenshots at 1,280 and 1,400 px in test-artifacts/."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from mnist_core import embeddings, figures
from mnist_core.data import load_dataset
from tests.browser import ARTIFACTS, chromium, selected_count, settle, streamlit_server

pytestmark = pytest.mark.browser

# Boxes of the texts of the n-th plotly chart on the page, with their font sizes.
TEXTS_JS = """(n) => {
  const plot = document.querySelectorAll('[data-testid="stPlotlyChart"]')[n];
  return [...plot.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize),
            cls: t.getAttribute('class') || '', x: r.x, y: r.y, w: r.width, h: r.height};
  });
}"""


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["w"] \
        and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["h"]  # fmt: skip


def test_lasso_gallery_enlarge_and_a_page_switch_keep_everything(app_server, cache_dir):
    ARTIFACTS.mkdir(exist_ok=True)
    digits = load_dataset("digits")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 2600})
        page.goto(app_server + "/embeddings?dataset=digits")
        page.get_by_text("Cluster quality", exact=True).wait_for(timeout=120_000)
        scatter = page.locator('[data-testid="stPlotlyChart"]').first
        scatter.locator(".nsewdrag").first.wait_for(timeout=30_000)
        settle(page)

        # The toolbar and the legend's title do not overlap.
        scatter.hover()
        lasso_button = scatter.locator('.modebar-btn[data-title="Lasso Select"]')
        lasso_button.wait_for(timeout=10_000)
        toolbar = scatter.locator(".modebar").bounding_box()
        legend_title = [t for t in page.evaluate(TEXTS_JS, 0) if "legendtitletext" in t["cls"]]
        assert len(legend_title) == 1 and not _overlap(legend_title[0], toolbar), (legend_title, toolbar)

        # Lasso the lower-left part of the cloud.
        lasso_button.click()
        area = scatter.locator(".nsewdrag").first.bounding_box()
        corners = [(0.05, 0.45), (0.5, 0.4), (0.6, 0.95), (0.05, 0.95), (0.05, 0.46)]
        page.mouse.move(area["x"] + area["width"] * corners[0][0], area["y"] + area["height"] * corners[0][1])
        page.mouse.down()
        for fx, fy in corners[1:]:
            page.mouse.move(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy, steps=8)
        page.mouse.up()
        n = selected_count(page)
        settle(page)
        assert 100 < n < 1438
        sel = parse_qs(urlparse(page.url).query)["sel"][0]
        assert sel.startswith("l:")
        request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "train", {})
        result = embeddings.load_cached(request)
        rows = figures.embeddings.rows_in_shapes(result.coords[:, 0], result.coords[:, 1],
                                                 figures.embeddings.shapes_from_text(sel))  # fmt: skip
        assert abs(len(rows) - n) <= 0.03 * n  # the URL's thinned outline holds the same points

        # The gallery: readable labels, pages, then a filter on the most common label.
        charts = page.locator('[data-testid="stPlotlyChart"]')
        gallery_index = 1
        labels = [t for t in page.evaluate(TEXTS_JS, gallery_index) if t["text"].strip()]
        assert len(labels) == min(n, 100) and min(t["size"] for t in labels) >= 11
        assert page.get_by_text(f"Page 1 of {-(-n // 100)}: digits 1–{min(n, 100)} of {n:,}").count() == 1

        # Click the first digit: it is enlarged with its index and label.
        grid = charts.nth(gallery_index).locator(".nsewdrag").first.bounding_box()
        page.mouse.click(grid["x"] + 24, grid["y"] + 24)
        first = rows[0] if len(rows) == n else None
        caption = page.get_by_text(re.compile(r"^train #[\d,]+ · label \d$"))
        caption.wait_for(timeout=30_000)
        if first is not None:
            assert caption.inner_text() == f"train #{result.indices[first]:,} · label {result.labels[first]}"
        enlarged = caption.inner_text()
        settle(page)

        # Show all but the most common label: the digits that do not belong.
        page.get_by_role("combobox", name="Show").click()
        page.get_by_role("option", name=re.compile("^all but ")).click()
        settle(page)
        option = page.get_by_role("combobox", name="Show").input_value()
        assert re.fullmatch(r"all but \d \([\d,]+\)", option), option
        off = int(re.search(r"\(([\d,]+)\)", option).group(1).replace(",", ""))
        assert 0 < off < n
        page.get_by_text(re.compile(rf"digits 1–{min(off, 100)} of {off:,}\.")).wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "embeddings-selection-1280.png"), full_page=True)

        # Leave for the Data explorer and come back through the sidebar.
        page.get_by_role("link", name="Data explorer").click()
        page.get_by_text("Class balance").wait_for(timeout=60_000)
        page.get_by_role("link", name="Embeddings").click()
        assert selected_count(page) == n
        settle(page)
        assert page.get_by_text(enlarged, exact=True).count() == 1
        assert page.get_by_role("combobox", name="Show").input_value() == option  # kept
        assert parse_qs(urlparse(page.url).query)["sel"][0] == sel
        assert parse_qs(urlparse(page.url).query)["method"] == ["pca"]
        assert page.locator('[data-testid="stException"]').count() == 0

        page.set_viewport_size({"width": 1400, "height": 2600})
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "embeddings-selection-1400.png"), full_page=True)
        labels = [t for t in page.evaluate(TEXTS_JS, gallery_index) if t["text"].strip()]
        assert min(t["size"] for t in labels) >= 11

        # UMAP and the test split are kept too (nothing computed: the form waits).
        page.locator('[data-testid="stButtonGroup"] button', has_text="UMAP").click()
        page.get_by_role("button", name="Compute UMAP").wait_for(timeout=30_000)
        page.locator('[data-testid="stButtonGroup"] button', has_text="test").click()
        page.get_by_text("This UMAP of the test split has not been computed yet.").wait_for(timeout=30_000)
        page.get_by_role("link", name="Data explorer").click()
        page.get_by_text("Class balance").wait_for(timeout=60_000)
        page.get_by_role("link", name="Embeddings").click()
        page.get_by_text("This UMAP of the test split has not been computed yet.").wait_for(timeout=30_000)
        query = parse_qs(urlparse(page.url).query)
        assert query["method"] == ["umap"] and query["split"] == ["test"] and query["nn"] == ["15"]


def test_a_job_failed_on_a_full_disk_is_shown_once_and_retried_on_request(
    small_disk, monkeypatch, tmp_path
):
    """The page polls while a job runs; once the worker has failed on the full disk it
    shows the sentence and a Retry button, and nothing is submitted again by itself."""
    from mnist_core.runs import jobs
    from tests.conftest import fill_disk

    cache = small_disk / "cache"
    (cache / "embeddings").mkdir(parents=True)
    monkeypatch.setenv("MNIST_CACHE_DIR", str(cache))
    fill_disk(small_disk)
    filler = small_disk / ".filler"
    with open(filler, "r+b") as f:  # room for the job's small files, not for the result
        f.truncate(filler.stat().st_size - 48 * 1024)
    digits = load_dataset("digits")
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "all", {})
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(tmp_path / "streamlit.log") as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.goto(url + "/embeddings?dataset=digits&split=all")
        error = page.get_by_text(re.compile("^The PCA job failed: "))
        error.wait_for(timeout=120_000)
        assert "full" in error.inner_text()
        submitted = jobs.read_status(request.directory).submitted
        time.sleep(10)  # what used to resubmit the job every few seconds
        status = jobs.read_status(request.directory)
        assert (status.state, status.submitted) == ("failed", submitted)
        assert page.get_by_role("button", name="Retry").count() == 1
        page.screenshot(path=str(ARTIFACTS / "embeddings-full-disk-1280.png"), full_page=True)

        filler.unlink()
        page.get_by_role("button", name="Retry").click()
        page.get_by_text("Cluster quality", exact=True).wait_for(timeout=120_000)
        assert jobs.read_status(request.directory).state == "done"
        assert page.locator('[data-testid="stException"]').count() == 0
