"""The Evaluation page and the report in a real browser, as a presenter uses them:
which run the page opens on and keeps (issue 9 #7), user strings as plain text (#19), the
report at 1,280 px and in print (#21), readable captions and labels that agree (#24).
Screenshots at 1,280 and 1,400 px wide are kept in ``test-artifacts/``."""

from __future__ import annotations

import re
import time
from urllib.parse import quote, unquote

import pytest

from mnist_core import evaluation
from mnist_core.evaluation import report
from tests.browser import ARTIFACTS, streamlit_server
from tests.test_evaluation_page import BEST_ID, HOSTILE_NAME, make_two_runs

pytestmark = pytest.mark.browser


@pytest.fixture
def two_runs(finished_run):
    return make_two_runs(finished_run)


@pytest.fixture
def server(mnist_cached):
    with streamlit_server(mnist_cached / "streamlit.log") as (url, _):
        yield url



def _wait_for_page(page) -> None:
    page.get_by_text("Click a cell to see its digits.").wait_for(timeout=90_000)
    page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(timeout=30_000)
    time.sleep(1.5)  # let every chart finish drawing
    assert page.locator('[data-testid="stException"]').count() == 0


def _picker_text(page) -> str:
    return page.locator(".st-key-eval_run input").input_value()


def _run_in_url(page) -> str | None:
    match = re.search(r"[?&]run=([^&]+)", page.url)
    return unquote(match.group(1)) if match else None


def _outside_requests(page) -> list[str]:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.startswith("http://127.0.0.1:9/")
            else None)  # fmt: skip
    return requests


def test_the_page_opens_on_the_best_run_then_keeps_the_one_chosen(two_runs, server, browser):
    first, _ = two_runs
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    outside = _outside_requests(page)

    # No run asked for: the best finished run (highest test accuracy), not the newest.
    page.goto(f"{server}/evaluation?dataset=digits")
    _wait_for_page(page)
    assert HOSTILE_NAME in _picker_text(page)
    assert _run_in_url(page) == BEST_ID
    # The hostile name is text, not an image (#19).
    page.get_by_text(f"{HOSTILE_NAME} on digits: results of the weights of epoch 3").wait_for(
        timeout=10_000)  # fmt: skip
    assert page.locator('img[src*="127.0.0.1:9/"], a[href*="127.0.0.1:9/"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "evaluation-best-1280.png"), full_page=True)

    # Pick the other run: it goes into the URL.
    page.locator(".st-key-eval_run input").click()
    page.get_by_role("option", name=re.compile(r"^ff64 · digits")).click()
    page.wait_for_function("() => location.search.includes('run=" + first.run_id + "')",
                           timeout=30_000)  # fmt: skip
    _wait_for_page(page)
    assert _picker_text(page).count("ff64 · digits") == 1

    # Another page, then Evaluation from the sidebar: the run the user was looking at.
    page.locator('[data-testid="stSidebarNav"] a', has_text="Data explorer").click()
    page.wait_for_function("() => !location.pathname.endsWith('/evaluation')", timeout=30_000)
    time.sleep(2)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Evaluation").click()
    _wait_for_page(page)
    assert "ff64 · digits" in _picker_text(page) and HOSTILE_NAME not in _picker_text(page)
    assert _run_in_url(page) == first.run_id

    # A link to a run that does not exist: said as plain text, the page still works.
    page.goto(f"{server}/evaluation?dataset=digits&run={quote(HOSTILE_NAME)}")
    _wait_for_page(page)
    page.get_by_text(f"Run {HOSTILE_NAME} has no test results to show").wait_for(timeout=10_000)
    assert page.locator('img[src*="127.0.0.1:9/"], a[href*="127.0.0.1:9/"]').count() == 0
    assert outside == []


def test_captions_are_readable_and_the_top_3_chart_agrees_with_them(two_runs, server, browser):
    first, _ = two_runs
    ev = evaluation.evaluate_run(first)
    for width in (1280, 1400):
        # Tall enough that the page does not scroll: the screenshot shows all of it.
        page = browser.new_page(viewport={"width": width, "height": 4600})
        page.goto(f"{server}/evaluation?dataset=digits&run={first.run_id}")
        _wait_for_page(page)
        for key in ("mistakes-None-None", "label_errors"):
            chart = page.locator(f".st-key-{key}")
            chart.scroll_into_view_if_needed()
            texts = chart.locator(".textpoint text")
            assert texts.count() > 0, key
            sizes = texts.evaluate_all("els => els.map(e => [parseFloat(getComputedStyle(e)"
                                       ".fontSize), e.getBoundingClientRect().height])")  # fmt: skip
            assert min(size for size, _ in sizes) >= 11, (key, width, sizes[:3])
            assert min(height for _, height in sizes) >= 11, (key, width, sizes[:3])
            # Every caption lies inside the chart, none cut off at its edge.
            box = chart.bounding_box()
            for rect in texts.evaluate_all("els => els.map(e => { const r = e.getBoundingClientRect();"
                                           " return [r.left, r.right]; })"):  # fmt: skip
                assert box["x"] - 1 <= rect[0] and rect[1] <= box["x"] + box["width"] + 1
        # The most confident mistake, its caption, and its top-3 bars say the same.
        top = ev.mistakes.iloc[0]
        names, true, predicted = ev.class_names, int(top["true"]), int(top["predicted"])
        caption = f"{names[true]}→{names[predicted]} {top['confidence']:.1%}"
        page.get_by_text(f"Test image #{int(top['index']):,} · true→predicted {caption}").wait_for(timeout=10_000)
        bars = page.locator(".st-key-top3").inner_text()
        assert f"{top['confidence']:.1%}" in bars
        assert f"{names[predicted]} (predicted)" in bars
        page.screenshot(path=str(ARTIFACTS / f"evaluation-page-{width}.png"), full_page=True)
        page.close()


def _boxes(page, selector: str) -> list[dict]:
    return page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; })"
    )


def test_the_report_fits_1280_px_and_a_printed_page(two_runs, browser, tmp_path):
    _, best = two_runs
    path = tmp_path / "report.html"
    path.write_text(report.build_report(evaluation.evaluate_run(best)))
    text = path.read_text()
    assert "<img" not in text and f"{HOSTILE_NAME} on digits</h1>" in text
    visible = re.sub(r"<script.*?</script>", "", text, flags=re.DOTALL)  # plotly.js aside
    assert "e+0" not in visible and "None" not in visible and "nan" not in visible
    for width in (1280, 1400):
        page = browser.new_page(viewport={"width": width, "height": 900})
        outside = _outside_requests(page)
        page.goto(path.as_uri())
        page.locator("#figure-1 .heatmaplayer").first.wait_for(timeout=30_000)
        time.sleep(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.locator("h1", has_text=HOSTILE_NAME).count() == 1
        assert page.locator("img").count() == 0 and outside == []
        # Axis labels and titles lie inside their figures (none cut off).
        for figure in ("#figure-0", "#figure-1"):
            svg = _boxes(page, f"{figure} .main-svg")[0]
            labels = _boxes(page, f"{figure} .xtick text, {figure} .ytick text, "
                                  f"{figure} .g-xtitle text, {figure} .g-ytitle text")  # fmt: skip
            assert labels, figure
            for box in labels:
                assert svg["left"] - 0.5 <= box["left"] and box["right"] <= svg["right"] + 0.5, figure
                assert svg["top"] - 0.5 <= box["top"] and box["bottom"] <= svg["bottom"] + 0.5, figure
        # The loss axis reads "0.5", never ".5".
        ticks = page.locator("#figure-0 .ytick text").evaluate_all("els => els.map(e => e.textContent)")
        assert ticks and not any(t.startswith(".") for t in ticks), ticks
        # The per-class table is not cut off.
        table = _boxes(page, ".wide table")[0]
        assert table["right"] <= _boxes(page, ".wide")[0]["right"] + 0.5
        page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
        page.close()

    # Print preview: A4 inside 12 mm margins is 703 CSS px wide; everything fits it.
    page = browser.new_page(viewport={"width": 703, "height": 1000})
    page.emulate_media(media="print")
    page.goto(path.as_uri())
    page.locator("#figure-1 .heatmaplayer").first.wait_for(timeout=30_000)
    time.sleep(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 703
    for selector in (".figure .main-svg", "table", "h1", ".headline"):
        for box in _boxes(page, selector):
            assert box["right"] <= 703.5, (selector, box)
    page.screenshot(path=str(ARTIFACTS / "report-print.png"), full_page=True)
    for paper in ("A4", "Letter"):
        pdf = ARTIFACTS / f"report-{paper}.pdf"
        page.pdf(path=str(pdf), format=paper, print_background=True)
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    page.close()
