"""The Inside the model page in a real browser (issue 12), as the presenter uses it: draw a
7 with mouse strokes on the pad and see 7 on top (an MNIST model trained for one epoch in
the test), Undo and Clear, the 8×8 digits model's drawing flow and a digit opened from the
Data page's "Open in model view" link, layer by layer. Screenshots at 1,280 and 1,400 px
are kept in ``test-artifacts/``; the time from a stroke's end to the prediction on the page,
and from a new digit to its activations, are written to
``test-artifacts/inside-timings.json`` (measured, never asserted: the machine is shared)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests.browser import ARTIFACTS, rss_mb, streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

# A 7 as two mouse strokes on the 280-pixel pad: the top bar, then the slanted stem.
SEVEN = [((70, 55), (215, 55)), ((215, 55), (125, 240))]
# Records when a stroke ends (the pad's pointerup) and when a text first appears.
_WATCH = """
(target) => {
  const w = window.__inside = {t0: null, t1: null, target};
  // The pad lives in a shadow root; its pointerup reaches the window first (capture).
  window.addEventListener('pointerup', () => { w.t0 = performance.now(); },
                          {capture: true, once: true});
  const seen = () => document.body.textContent.includes(w.target);
  const observer = new MutationObserver(() => {
    if (w.t0 !== null && w.t1 === null && seen()) { w.t1 = performance.now(); observer.disconnect(); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def mnist_model_template(tmp_path_factory, mnist_npz):
    """A feed-forward 64 trained for one epoch on MNIST (about 97 %) with the real CLI."""
    cache = tmp_path_factory.mktemp("inside-mnist")
    (cache / "datasets").mkdir()
    os.symlink(mnist_npz, cache / "datasets" / "mnist.npz")
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--preset", "ff64", "--dataset", "mnist",
         "--epochs", "1"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "MNIST_CACHE_DIR": str(cache)},
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    run_id = json.loads(result.stdout.strip().splitlines()[-1])["run_id"]
    return cache / "runs" / run_id


def _draw(page, strokes, *, steps: int = 12) -> None:
    """Mouse strokes on the pad, in its own pixels (it is drawn at most 280 px wide)."""
    canvas = page.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / 280
    for (x0, y0), (x1, y1) in strokes:
        page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)
        page.mouse.down()
        for i in range(1, steps + 1):
            t = i / steps
            page.mouse.move(box["x"] + (x0 + (x1 - x0) * t) * scale,
                            box["y"] + (y0 + (y1 - y0) * t) * scale)  # fmt: skip
        page.mouse.up()


def _stroke_timed(page, stroke, strokes_after: int) -> float:
    """Draw one stroke; milliseconds from its end to the page saying it has
    ``strokes_after`` strokes (written after the prediction and its chart)."""
    word = "stroke" if strokes_after == 1 else "strokes"
    page.evaluate(_WATCH, f"{strokes_after} {word} · framed and predicted")
    _draw(page, [stroke])
    page.get_by_text(re.compile(rf"^{strokes_after} {word} · framed")).wait_for(timeout=60_000)
    page.wait_for_function("window.__inside.t1 !== null", timeout=30_000)
    return page.evaluate("window.__inside.t1 - window.__inside.t0")


def _prediction(page) -> str:
    text = page.get_by_text(re.compile(r"^Prediction: ")).first.inner_text()
    return text.split("·")[0].removeprefix("Prediction:").strip()


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def _shots(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1280, 1400):
        page.set_viewport_size({"width": width, "height": 1100})
        time.sleep(1.0)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))


def _record(**timings) -> None:
    path = ARTIFACTS / "inside-timings.json"
    ARTIFACTS.mkdir(exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(timings)
    path.write_text(json.dumps(data, indent=1) + "\n")


def test_a_seven_drawn_with_the_mouse_reads_seven_on_an_mnist_model(
    mnist_model_template, mnist_cached, browser
):  # fmt: skip
    import shutil

    shutil.copytree(mnist_model_template, mnist_cached / "runs" / mnist_model_template.name)
    with streamlit_server(mnist_cached / "streamlit.log") as (url, process):
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(f"{url}/inside?dataset=mnist")
        page.get_by_text("Prediction: draw a digit.").wait_for(timeout=120_000)
        page.locator("canvas").first.wait_for(timeout=30_000)
        _no_exception(page)
        first = _stroke_timed(page, SEVEN[0], 1)
        second = _stroke_timed(page, SEVEN[1], 2)
        assert _prediction(page) == "7"
        page.get_by_text("The 8 nearest training digits").wait_for(timeout=120_000)
        _shots(page, "inside-mnist-seven")
        _no_exception(page)
        # Undo takes the stem away; Clear takes everything.
        page.get_by_role("button", name="Undo").click()
        page.get_by_text(re.compile(r"^1 stroke · framed")).wait_for(timeout=60_000)
        page.get_by_role("button", name="Clear").click()
        page.get_by_text("Prediction: draw a digit.").wait_for(timeout=60_000)
        # The drawing again, and the layers of the drawing.
        _draw(page, SEVEN)
        page.get_by_text(re.compile(r"^2 strokes · framed")).wait_for(timeout=60_000)
        page.get_by_text("your drawing", exact=True).click()
        page.get_by_text(re.compile(r"^Activations and saliency of your drawing")).wait_for(
            timeout=60_000)  # fmt: skip
        assert page.get_by_text(re.compile(r"^Your drawing\. The model says 7")).count() == 1
        _record(mnist_ff64_stroke_to_prediction_ms=[round(first, 1), round(second, 1)],
                server_rss_mb_one_session=round(rss_mb(process.pid), 1))  # fmt: skip
        page.close()


def test_the_digits_model_draws_and_opens_a_digit_from_the_data_page(finished_run, cache_dir,
                                                                     browser):  # fmt: skip
    with streamlit_server(cache_dir / "streamlit.log") as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        # From the Data explorer: click "Open in model view" under the enlarged digit.
        page.goto(f"{url}/data?dataset=digits&grid=test")
        link = page.get_by_role("link", name="Open in model view")
        link.wait_for(timeout=120_000)
        link.click()
        page.get_by_text(re.compile(r"^Test digit #0, labelled \d")).wait_for(timeout=120_000)
        assert "/inside" in page.url  # test #0 is the default digit: a clean URL
        page.get_by_text(re.compile(r"^Activations and saliency of test digit #0")).wait_for(
            timeout=60_000)  # fmt: skip
        page.get_by_text(re.compile(r"^Occlusion: each pixel shows")).wait_for(timeout=30_000)
        _no_exception(page)
        # Another digit: its activations reach the page.
        box = page.locator(".st-key-inside_index input")
        page.evaluate("""() => { window.__digit = {t0: null, t1: null};
            const seen = () => document.body.textContent.includes('of test digit #7,');
            const o = new MutationObserver(() => { if (window.__digit.t1 === null && seen()) {
              window.__digit.t1 = performance.now(); o.disconnect(); } });
            o.observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        box.fill("7")
        page.evaluate("window.__digit.t0 = performance.now()")
        box.press("Enter")
        page.get_by_text(re.compile(r"^Activations and saliency of test digit #7,")).wait_for(
            timeout=60_000)  # fmt: skip
        page.wait_for_function("window.__digit.t1 !== null", timeout=30_000)
        digit_ms = page.evaluate("window.__digit.t1 - window.__digit.t0")
        assert "index=7" in page.url
        # Draw on the 8×8 model: a prediction, the 8×8 image it sees, nearest digits later.
        page.get_by_text("Prediction: draw a digit.").scroll_into_view_if_needed()
        stroke_ms = [_stroke_timed(page, SEVEN[0], 1), _stroke_timed(page, SEVEN[1], 2)]
        assert re.fullmatch(r"\d", _prediction(page))
        page.get_by_text("8×8 pixels, dark = ink.").wait_for(timeout=30_000)
        page.get_by_text("What the first layer learned").scroll_into_view_if_needed()
        page.get_by_text(re.compile(r"^Dense 64 relu: the 16 of its 64 units")).wait_for(
            timeout=30_000)  # fmt: skip
        page.get_by_text("Copy as R (keras3)").click()  # shows the R script
        page.get_by_text("keras_model_sequential", exact=False).first.wait_for(timeout=30_000)
        page.get_by_text("Draw a digit", exact=True).scroll_into_view_if_needed()
        _shots(page, "inside-digits")
        _no_exception(page)
        _record(digits_ff64_stroke_to_prediction_ms=[round(t, 1) for t in stroke_ms],
                digits_ff64_new_digit_to_activations_ms=round(digit_ms, 1))  # fmt: skip
        page.close()
