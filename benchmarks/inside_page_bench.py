"""The Inside the model page in Chromium (issue 12): the time from the end of a stroke on
the drawing pad to the prediction on the page, from a new digit to its activations and
saliency on the page, and the server's memory with a model loaded and three sessions
drawing. Models: feed-forward 64 and the small CNN, one epoch on MNIST, trained with the CLI.

Timings are taken in the page (``performance.now()``): from the pad's ``pointerup`` to the
first text the answer writes, and from the index's Enter to the last text the layers write.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path

from benchmarks.common import ROOT, Row, cpu_seconds, seeded_cache
from tests.browser import rss_mb as _rss_mb

SEVEN = [((70, 55), (215, 55)), ((215, 55), (125, 240))]
ONE = [((140, 40), (140, 245))]
_WATCH = """(target) => { const w = window.__bench = {t0: null, t1: null};
  window.addEventListener('pointerup', () => { w.t0 = performance.now(); },
                          {capture: true, once: true});
  const o = new MutationObserver(() => { if (w.t0 !== null && w.t1 === null
      && document.body.textContent.includes(target)) { w.t1 = performance.now(); o.disconnect(); } });
  o.observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
_WATCH_DIGIT = """(target) => { const w = window.__bench = {t0: null, t1: null};
  const o = new MutationObserver(() => { if (w.t0 !== null && w.t1 === null
      && document.body.textContent.includes(target)) { w.t1 = performance.now(); o.disconnect(); } });
  o.observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def _train(preset: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--preset", preset, "--dataset", "mnist",
         "--epochs", "1"], capture_output=True, text=True, cwd=ROOT, env={**os.environ},
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"training {preset} failed: {result.stderr[-500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["run_id"]


def _draw(page, strokes) -> None:
    box = page.locator("canvas").first.bounding_box()
    scale = box["width"] / 280
    for (x0, y0), (x1, y1) in strokes:
        page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)
        page.mouse.down()
        for i in range(1, 13):
            t = i / 12
            page.mouse.move(box["x"] + (x0 + (x1 - x0) * t) * scale,
                            box["y"] + (y0 + (y1 - y0) * t) * scale)  # fmt: skip
        page.mouse.up()


def _stroke(page, stroke, strokes_after: int) -> float:
    """Milliseconds from the end of one stroke to the page's answer."""
    word = "stroke" if strokes_after == 1 else "strokes"
    page.evaluate(_WATCH, f"{strokes_after} {word} · framed and predicted")
    _draw(page, [stroke])
    page.wait_for_function("window.__bench.t1 !== null", timeout=60_000)
    return page.evaluate("window.__bench.t1 - window.__bench.t0")


def _clear(page) -> None:
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Prediction: draw a digit.").wait_for(timeout=60_000)


def _digit(page, index: int) -> float:
    """Milliseconds from Enter in the index box to the last text of the layer view."""
    page.evaluate(_WATCH_DIGIT, f"of test digit #{index:,},")
    box = page.locator(".st-key-inside_index input")
    box.fill(str(index))
    page.evaluate("window.__bench.t0 = performance.now()")
    box.press("Enter")
    page.wait_for_function("window.__bench.t1 !== null", timeout=60_000)
    return page.evaluate("window.__bench.t1 - window.__bench.t0")


def measure(run_ids: dict[str, str], *, strokes: int, digits: int) -> dict:

    from tests.browser import streamlit_server

    peak, stop = [0.0], threading.Event()
    log = Path(os.environ["MNIST_CACHE_DIR"]) / "streamlit-bench.log"
    with streamlit_server(log) as (url, process):
        return _measure(url, process, run_ids, strokes=strokes, digits=digits, peak=peak,
                        stop=stop)  # fmt: skip


def _measure(url, process, run_ids, *, strokes, digits, peak, stop) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], _rss_mb(process.pid))

    results: dict = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, run_id in run_ids.items():
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(f"{url}/inside?dataset=mnist&run={run_id}", timeout=120_000)
                page.get_by_text("Prediction: draw a digit.").wait_for(timeout=180_000)
                times = []
                for i in range(strokes):
                    times.append(_stroke(page, SEVEN[i % 2], i % 2 + 1))
                    if i % 2:
                        _clear(page)
                page.get_by_text(r"Activations and saliency of test digit #0").wait_for(
                    timeout=60_000)  # fmt: skip
                digit_times, cpu = [], []
                for i in range(digits):
                    before = cpu_seconds(process.pid)
                    digit_times.append(_digit(page, 1 + i))
                    page.wait_for_timeout(300)  # the last messages sent
                    cpu.append((cpu_seconds(process.pid) - before) * 1000)
                results[name] = {"stroke_ms": times, "digit_ms": digit_times,
                                 "digit_server_cpu_ms": cpu}  # fmt: skip
                page.close()
            # Three sessions drawing on the first model, stroke after stroke in turn.
            first = next(iter(run_ids.values()))
            pages = [browser.new_page(viewport={"width": 1280, "height": 1100}) for _ in range(3)]
            for page in pages:
                page.goto(f"{url}/inside?dataset=mnist&run={first}", timeout=120_000)
                page.get_by_text("Prediction: draw a digit.").wait_for(timeout=180_000)
            threading.Thread(target=sample, daemon=True).start()
            three = []
            for i in range(strokes):
                for page in pages:
                    three.append(_stroke(page, (SEVEN + ONE)[i % 3], i % 3 + 1))
                if i % 3 == 2:
                    for page in pages:
                        _clear(page)
            stop.set()
            results["three_sessions"] = {"stroke_ms": three, "peak_rss_mb": peak[0],
                                         "rss_mb_after": _rss_mb(process.pid)}  # fmt: skip
            browser.close()
    finally:
        stop.set()
    return results


def run(*, quick: bool = False) -> list[Row]:
    if "MNIST_CACHE_DIR" not in os.environ or not os.environ["MNIST_CACHE_DIR"]:
        seeded_cache()
    presets = ("ff64",) if quick else ("ff64", "small_cnn")
    run_ids = {preset: _train(preset) for preset in presets}
    results = measure(run_ids, strokes=6 if quick else 12, digits=3 if quick else 6)
    rows = []
    for preset in presets:
        got = results[preset]
        rows.append(Row(f"stroke → prediction on the page, {preset} (Chromium, median)",
                        round(statistics.median(got["stroke_ms"])), "ms", "<= 150"))  # fmt: skip
        rows.append(Row(f"new digit → activations and saliency on the page, {preset}",
                        round(statistics.median(got["digit_ms"])), "ms", "<= 300"))  # fmt: skip
        rows.append(Row(f"server CPU for one new digit, {preset} (median)",
                        round(statistics.median(got["digit_server_cpu_ms"])), "ms"))  # fmt: skip
    three = results["three_sessions"]
    rows.append(Row("stroke → prediction, three sessions drawing (median)",
                    round(statistics.median(three["stroke_ms"])), "ms", "<= 150"))  # fmt: skip
    rows.append(Row("server memory, a model loaded and three sessions drawing (peak)",
                    round(three["peak_rss_mb"]), "MB", "< 600"))  # fmt: skip
    print(json.dumps(results), file=sys.stderr)
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row.what}: {row.measured} {row.unit} (target {row.target}) {row.ok}")
