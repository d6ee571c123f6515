"""benchmarks.load_bench counts a page as ready only once its marker is shown, the app no
longer runs, every chart is drawn and every image loaded: Streamlit's last message comes
before plotly.js draws the charts (in a new tab, before plotly.js has even been fetched)."""

from __future__ import annotations

import socket

from benchmarks.load_bench import DRAWN, READY

DRAWN_CHART = '<div data-testid="stPlotlyChart"><div class="js-plotly-plot"><svg class="main-svg"></svg></div></div>'
WAITING_CHART = '<div data-testid="stPlotlyChart"><div class="js-plotly-plot"></div></div>'
SKELETON = '<div data-testid="stSkeleton"></div>'  # an element whose scripts are still loading
PIXEL = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
MARKER = "Pixel-wise statistics per class"
RUNNING = '<div data-testid="stStatusWidget"><button>Stop</button></div>'


def _check(browser, html: str, script: str, *arg) -> bool:
    """``script`` (DRAWN or READY) evaluated on a page holding ``html``."""
    page = browser.new_page()
    try:
        page.set_content(html, wait_until="commit")
        return page.evaluate(script, *arg)
    finally:
        page.close()


def _drawn(browser, html: str) -> bool:
    return _check(browser, html, DRAWN)


def _ready(browser, html: str, marker: str = MARKER) -> bool:
    return _check(browser, html, READY, marker)


def test_a_page_whose_charts_are_all_drawn_is_ready(browser):
    assert _drawn(browser, "<p>no charts</p>")
    assert _drawn(browser, DRAWN_CHART * 3 + f'<img src="{PIXEL}">')


def test_one_chart_still_waiting_for_plotly_keeps_the_page_not_ready(browser):
    assert not _drawn(browser, WAITING_CHART)
    assert not _drawn(browser, DRAWN_CHART * 3 + WAITING_CHART)
    assert not _drawn(browser, DRAWN_CHART + SKELETON)


def test_an_image_still_loading_keeps_the_page_not_ready(browser):
    with socket.socket() as never_answers:  # accepts the connection, never sends a byte
        never_answers.bind(("127.0.0.1", 0))
        never_answers.listen()
        port = never_answers.getsockname()[1]
        assert not _drawn(browser, DRAWN_CHART + f'<img src="http://127.0.0.1:{port}/digit.png">')


def test_ready_needs_the_marker_shown_nothing_running_and_every_chart_drawn(browser):
    heading = f"<h3><span>  {MARKER.replace(' ', chr(10) + ' ')} </span></h3>"  # spaces as Playwright
    assert _ready(browser, heading + DRAWN_CHART)
    assert not _ready(browser, DRAWN_CHART)  # the previous page, still shown
    assert not _ready(browser, f"<h3>{MARKER} and more</h3>" + DRAWN_CHART)  # exact text only
    assert not _ready(browser, f'<h3 style="display: none">{MARKER}</h3>' + DRAWN_CHART)
    assert not _ready(browser, RUNNING + heading + DRAWN_CHART)
    assert _ready(browser, RUNNING.replace("<div ", '<div style="visibility: hidden" ') + heading)
    assert not _ready(browser, heading + DRAWN_CHART + WAITING_CHART)
