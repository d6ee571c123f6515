"""The dataset picker and the Data page in a real browser (Chromium driven by Playwright):
every page at its own path, the offline fallback as it looks, a hostile link, and pixel
values large enough to read. Screenshots are kept in ``test-artifacts/``."""

from __future__ import annotations

import http.server
import math
import threading
import time
from urllib.parse import quote

import pytest

from app.text import WORD_JOINER
from tests.browser import ARTIFACTS, streamlit_server

pytestmark = pytest.mark.browser

PAGES = [
    ("data", "Data explorer"),
    ("embeddings", "Embeddings"),
    ("builder", "Model builder"),
    ("runs", "Runs"),
    ("studies", "Studies"),
    ("evaluation", "Evaluation"),
    ("inside", "Inside the model"),
]



def _page(browser, width: int, height: int = 1000):
    return browser.new_page(viewport={"width": width, "height": height})


def _no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0


def test_every_page_opens_at_its_own_path(cache_dir, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(cache_dir.parent / "streamlit.log") as (url, _):
        page = _page(browser, 1280)
        for path, title in PAGES:
            page.goto(f"{url}/{path}?dataset=digits")
            page.get_by_role("heading", name=title, level=1).wait_for(timeout=60_000)
            time.sleep(1.0)  # a "Page not found" dialog would open by now
            _no_error(page)
            assert page.url.startswith(f"{url}/{path}?"), page.url
            assert "dataset=digits" in page.url
        page.screenshot(path=str(ARTIFACTS / "data-paths-evaluation.png"))
        # The root opens the Data explorer at its own path, keeping the link's parameters.
        page.goto(f"{url}/?dataset=digits")
        page.get_by_role("heading", name="Data explorer", level=1).wait_for(timeout=60_000)
        page.wait_for_url(f"{url}/data?dataset=digits", timeout=10_000)
        _no_error(page)


@pytest.mark.parametrize("width", [1280, 1400])
def test_offline_first_run_says_digits_in_the_picker_and_warns_beside_it(cache_dir, browser, width):
    # conftest points downloads at a closed port and the cache is empty: MNIST cannot come.
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(cache_dir.parent / "streamlit.log") as (url, _):
        page = _page(browser, width)
        page.goto(url + "/")
        page.get_by_text("Pixel-wise statistics per class").wait_for(timeout=120_000)
        sidebar = page.locator('[data-testid="stSidebar"]')
        picker = sidebar.locator('[data-testid="stSelectbox"]')
        assert picker.locator("input").input_value() == "scikit-learn 8x8 digits"
        # The whole name shows: the input is as wide as its text needs.
        assert picker.locator("input").evaluate("e => e.scrollWidth <= e.clientWidth")
        warning = sidebar.locator('[data-testid="stAlert"]')
        warning.wait_for(timeout=10_000)
        assert warning.locator('[data-testid="stMarkdownContainer"]').inner_text().strip() == (
            "MNIST handwritten digits cannot be downloaded here, so the bundled 8x8 digits "
            "are shown instead."
        )
        assert warning.bounding_box()["y"] > picker.bounding_box()["y"]  # below the picker
        # Nothing above the page title: the main column starts with it.
        main = page.locator('[data-testid="stMain"]')
        assert main.locator('[data-testid="stAlert"]').count() == 0
        title = main.get_by_role("heading", name="Data explorer", level=1)
        assert title.bounding_box()["y"] < 150
        assert "dataset=digits" in page.url
        _no_error(page)
        time.sleep(1)
        page.screenshot(path=str(ARTIFACTS / f"data-offline-{width}.png"))


class _CountingServer:
    """Records every request made to it: an outside host a hostile link points at."""

    def __init__(self):
        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_a_hostile_link_fetches_nothing_and_reads_as_typed(cache_dir, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    outside = _CountingServer()
    hostile = f"![t](http://{outside.host}/x.png)"
    try:
        with streamlit_server(cache_dir.parent / "streamlit.log") as (url, _):
            page = _page(browser, 1280)
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{url}/data?dataset={quote(hostile)}")
            toast = page.locator('[data-testid="stToast"]')
            toast.wait_for(timeout=60_000)
            # Shown as typed (app.text puts an invisible word joiner inside "://"), never as
            # an image or a link.
            assert hostile in toast.inner_text().replace(WORD_JOINER, "")
            assert toast.locator("img, a").count() == 0
            page.get_by_text("Pixel-wise statistics per class").wait_for(timeout=60_000)
            time.sleep(2)
            page.screenshot(path=str(ARTIFACTS / "data-hostile-link.png"))
    finally:
        outside.httpd.shutdown()
    assert outside.paths == [] and not any(outside.host in u for u in requested)


@pytest.mark.parametrize("width", [1280, 1400])
def test_pixel_values_are_readable_at_meeting_widths(mnist_cached, browser, width):
    """The pixel values are written in one picture (figures.digits.pixels_figure): shown
    large enough that its numbers are 11 CSS px or more, and hovering a
    pixel names its row, column and value."""
    from mnist_core.data import load_dataset
    from mnist_core.figures.digits import PIXEL_CELL, SHOWN_CELL

    image = load_dataset("mnist").x_train[0]
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(mnist_cached / "streamlit.log") as (url, _):
        page = _page(browser, width, height=2600)  # the whole page in one screenshot
        page.goto(f"{url}/data?dataset=mnist")
        page.get_by_text("Pixel values of train #0 · label 5").wait_for(timeout=60_000)
        matrix = page.locator(".st-key-digit_pixels")
        matrix.locator("image").first.wait_for(timeout=30_000)
        time.sleep(1.5)
        assert matrix.locator("svg text").evaluate_all(
            "els => els.filter(e => /^\\d+$/.test(e.textContent) && e.closest('.heatmaplayer')).length") == 0
        shown = matrix.locator("image").first.bounding_box()
        cell = shown["width"] / 28
        font = math.ceil(11 * PIXEL_CELL / SHOWN_CELL)  # the numbers' size in the picture
        assert cell * font / PIXEL_CELL >= 11, cell  # and on screen, in CSS px
        assert abs(shown["height"] - shown["width"]) < 1  # square pixels
        row, col = 7, 10
        page.mouse.move(shown["x"] + (col + 0.5) * cell, shown["y"] + (row + 0.5) * cell)
        hover = matrix.locator(".hoverlayer .hovertext").first
        hover.wait_for(timeout=10_000)
        assert f"row {row}, column {col}: {image[row, col]}" in hover.evaluate("e => e.textContent")
        _no_error(page)
        page.screenshot(path=str(ARTIFACTS / f"data-pixel-values-{width}.png"))
        matrix.screenshot(path=str(ARTIFACTS / f"data-pixel-matrix-{width}.png"))


def test_statistics_hover_gives_the_real_mean_and_a_grid_click_still_picks_a_digit(mnist_cached, browser):
    """The pixel statistics are three heat maps (one per statistic), the digit grid one
    image: hovering a pixel of the mean of class 3 gives that pixel's mean as
    mnist_core.data.stats computes it, and clicking a digit of the grid still selects it."""
    from mnist_core.data import load_dataset, stats

    data = load_dataset("mnist")
    mean = stats.pixel_stats(data.x_train, data.y_train, n_classes=10).mean
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(mnist_cached / "streamlit.log") as (url, _):
        page = _page(browser, 1280, height=2600)
        page.goto(f"{url}/data?dataset=mnist")
        page.get_by_text("Pixel values of train #0 · label 5").wait_for(timeout=90_000)
        chart = page.locator(".st-key-pixel_stats")
        chart.locator(".nsewdrag").first.wait_for(timeout=60_000)
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                               timeout=60_000)  # fmt: skip
        time.sleep(1.5)
        area = chart.locator(".nsewdrag").first.bounding_box()  # the mean's row
        columns = 11 * 28 + 10  # 11 tiles and 10 gap columns
        cell = area["width"] / columns
        row, col = 14, 14  # the middle of the digit
        page.mouse.move(area["x"] + (3 * 29 + col + 0.5) * cell, area["y"] + (row + 0.5) * area["height"] / 28)
        hover = page.locator(".hoverlayer .hovertext").first
        hover.wait_for(timeout=10_000)
        text = hover.evaluate("e => e.textContent")
        assert f"mean of 3 · column {col}, row {row}: {mean[3, row, col]:.1f}" in text, text
        chart.screenshot(path=str(ARTIFACTS / "data-pixel-statistics.png"))
        # The grid: an image under invisible cells; a click on the 13th digit selects it.
        grid = page.locator('[data-testid="stPlotlyChart"]').nth(1)
        assert grid.locator("image").count() >= 1
        box = grid.locator(".nsewdrag").first.bounding_box()
        page.mouse.click(box["x"] + 2.5 * box["width"] / 10, box["y"] + 1.5 * box["height"] / 10)
        page.get_by_text("Pixel values of train #12 · label 3").wait_for(timeout=60_000)
        _no_error(page)
        page.screenshot(path=str(ARTIFACTS / "data-page-images.png"), full_page=True)
