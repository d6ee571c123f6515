"""The main flow in a real browser: Chromium (Debian's) driven by Playwright against
``streamlit run`` on a free port. Screenshots are kept in ``test-artifacts/``."""

from __future__ import annotations

import time

import pytest

from tests.browser import ARTIFACTS, chromium, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(mnist_cached):
    with streamlit_server(mnist_cached / "streamlit.log") as (url, _):
        yield url


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1400, "height": 2400})


def test_data_page_shows_the_grid_and_a_click_enlarges_a_digit(server, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/?dataset=mnist")
    page.get_by_text("Pixel-wise statistics per class").wait_for(timeout=60_000)
    page.get_by_text("train #0 · label 5").wait_for(timeout=30_000)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.nth(3).wait_for(timeout=30_000)  # the statistics are drawn last
    assert charts.count() == 4  # class balance, grid, enlarged digit, statistics
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("60,000", exact=True).count() == 1

    # Digit 3 of the first row of MNIST's training set is a 1. Click the centre of its cell.
    grid = charts.nth(1).locator(".nsewdrag").first
    box = grid.bounding_box()
    cell = box["width"] / 10
    page.mouse.click(box["x"] + 3.5 * cell, box["y"] + 0.5 * cell)
    page.get_by_text("train #3 · label 1").wait_for(timeout=30_000)
    time.sleep(1.5)  # let the charts finish drawing before the screenshot
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "data-page.png"), full_page=True)


def test_pca_scatter_renders_and_a_box_selection_shows_the_gallery(server, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/embeddings?dataset=digits")
    # The PCA job runs in the background; the page updates itself when it is done.
    page.get_by_text("Cluster quality", exact=True).wait_for(timeout=120_000)
    scatter = page.locator('[data-testid="stPlotlyChart"]').first
    scatter.locator(".nsewdrag").first.wait_for(timeout=30_000)  # the points: one picture, no WebGL
    area = scatter.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.8, area["y"] + area["height"] * 0.8, steps=10)
    page.mouse.up()
    heading = page.get_by_role("heading", name="selected points")
    heading.wait_for(timeout=30_000)
    n_selected = int(heading.inner_text().split()[0].replace(",", ""))
    assert 0 < n_selected <= 1438
    assert page.locator('[data-testid="stException"]').count() == 0
    time.sleep(1.5)
    page.screenshot(path=str(ARTIFACTS / "embeddings-page.png"), full_page=True)


def test_builder_trains_one_epoch_live_and_shows_the_result(server, page):
    from mnist_core.models import PRESETS, with_train

    ARTIFACTS.mkdir(exist_ok=True)
    spec = with_train(PRESETS["ff64"].spec, epochs=1).to_url()
    page.goto(f"{server}/builder?dataset=digits&spec={spec}")
    page.get_by_text("Total parameters").wait_for(timeout=60_000)
    assert page.get_by_text("4,810", exact=True).count() == 1  # 64·64+64 + 64·10+10
    page.get_by_role("button", name="Train").click()
    page.locator("strong", has_text="done").first.wait_for(timeout=120_000)
    page.get_by_text("Test accuracy").wait_for(timeout=30_000)
    curves = page.locator('[data-testid="stPlotlyChart"]')
    curves.first.wait_for(timeout=30_000)  # the chart component loads lazily, after the metrics
    assert curves.count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    time.sleep(1.5)
    page.screenshot(path=str(ARTIFACTS / "builder-page.png"), full_page=True)


@pytest.fixture
def server_with_run(finished_run, server):
    return server, finished_run


def test_confusion_cell_click_shows_its_digits_and_the_report_opens(server_with_run, page, tmp_path):
    from mnist_core import evaluation, runs
    from mnist_core.data import load_dataset

    server, run = server_with_run
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{server}/evaluation?dataset=digits&run={run.name}")
    page.get_by_text("Click a cell to see its digits.").wait_for(timeout=60_000)
    time.sleep(1)
    probabilities, y_true = runs.open_run(run.name).test_probabilities(), load_dataset("digits").y_test
    matrix = evaluation.confusion_matrix(y_true, probabilities.argmax(1), n_classes=10)
    true = 3
    count = int(matrix[true, true])
    expected = page.get_by_text(f"True 3, predicted 3: {count:,} digits")
    for _ in range(5):  # the chart may take a moment to accept clicks after it is drawn
        area = page.locator('[data-testid="stPlotlyChart"]').first.locator(".nsewdrag").first
        box = area.bounding_box()
        page.mouse.click(box["x"] + (true + 0.5) * box["width"] / 10,
                         box["y"] + (true + 0.5) * box["height"] / 10)  # fmt: skip
        try:
            expected.wait_for(timeout=6_000)
            break
        except Exception:  # playwright's TimeoutError: click again
            continue
    expected.wait_for(timeout=1_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    time.sleep(1)
    page.screenshot(path=str(ARTIFACTS / "evaluation-page.png"), full_page=True)

    with page.expect_download(timeout=60_000) as download:  # built on click, then saved
        page.get_by_role("button", name="Download report (HTML)").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    assert download.value.suggested_filename == f"report-{run.name}.html"
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>") and f"<title>Run {run.name}:" in text
    assert "<h2>Confusion matrix</h2>" in text and len(text) > 1_000_000
    page.goto(report.as_uri())
    page.get_by_role("heading", name="Confusion matrix").wait_for(timeout=30_000)
    page.locator(".plotly-graph-div .heatmaplayer").first.wait_for(timeout=30_000)
    assert page.locator(".plotly-graph-div").count() == 3  # curves, confusion matrix, mistakes
