"""Figures as a browser draws them (plotly.js in Chromium, no server): tick labels that
read as numbers, nothing cut off, no text under 11 px. Screenshots in test-artifacts/."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mnist_core import figures
from tests.browser import ARTIFACTS, chromium

pytestmark = pytest.mark.browser

# Every tick label, axis title and text point of each plot, with its box and font size.
TEXTS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
  const texts = [...plot.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect();
    const group = t.closest('g[class]');
    return {text: t.textContent, cls: t.getAttribute('class') || '', group: group ? group.getAttribute('class') : '',
            size: parseFloat(getComputedStyle(t).fontSize), left: r.left - svg.left, top: r.top - svg.top,
            right: r.right - svg.left, bottom: r.bottom - svg.top};
  });
  return {id: plot.id, width: svg.width, height: svg.height, texts};
})"""


def _draw(named: dict, width: int, name: str) -> dict:
    """Draw the figures side by side in one page ``width`` px wide; their texts by name."""
    import plotly.io as pio

    parts = []
    for i, (key, fig) in enumerate(named.items()):
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs="inline" if i == 0 else False,
                                 div_id=key, config={"displayModeBar": False}))  # fmt: skip
    html = "<html><body style='margin:0;width:%dpx'>%s</body></html>" % (width, "".join(parts))
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_content(html)
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(named)}")
        page.wait_for_timeout(500)
        drawn = {d["id"]: d for d in page.evaluate(TEXTS_JS)}
        page.screenshot(path=str(ARTIFACTS / f"figures-{name}-{width}.png"), full_page=True)
    return drawn


def _ticks(drawn: dict, axis: str) -> list[str]:
    """Tick labels of one axis (``xtick``, ``ytick``, ``y3tick``, ...)."""
    return [t["text"] for t in drawn["texts"] if t["group"].split()[0] == axis]


def _inside(drawn: dict) -> list[dict]:
    """Texts cut off by the figure's edges (should be none)."""
    return [t for t in drawn["texts"]
            if t["left"] < -0.5 or t["top"] < -0.5 or t["right"] > drawn["width"] + 0.5
            or t["bottom"] > drawn["height"] + 0.5]  # fmt: skip


EVENTS = [
    {"type": "train_begin", "steps": 2},
    *({"type": "epoch", "epoch": e, "loss": 1.0 / e, "accuracy": 0.8 + 0.03 * e, "val_loss": 1.1 / e,
       "val_accuracy": 0.78 + 0.03 * e, "lr": 0.05} for e in range(1, 6)),
]  # fmt: skip


@pytest.mark.parametrize("width", [1280, 1400])
def test_axes_read_as_numbers_and_nothing_is_cut_off(width):
    tradeoff = pd.DataFrame({
        "run": ["a", "b", "c"], "seconds": [20.0, 30.0, 24.0], "test accuracy": [96.9, 98.4, 97.7],
        "label": ["random forest · 300 trees", "small_cnn · lr 0.05", "small_cnn · lr 0.1, batch 64"],
    })  # fmt: skip
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot")  # fmt: skip
    matrix = np.random.default_rng(0).integers(0, 40, (10, 10)) + np.diag(np.full(10, 900))
    drawn = _draw({
        "curves": figures.training.curves_figure(EVENTS),
        "tradeoff": figures.runs.tradeoff_figure(tradeoff),
        "confusion": figures.evaluation.confusion_figure(
            matrix, class_names=names, normalized=matrix / matrix.sum(1, keepdims=True)),
    }, width, "axes")  # fmt: skip

    curves = drawn["curves"]
    lr_ticks = _ticks(curves, "y3tick")
    assert "0.05" in lr_ticks and all(t.startswith("0.") for t in lr_ticks), lr_ticks
    loss_ticks = _ticks(curves, "ytick")
    assert loss_ticks and not any(t.startswith(".") for t in loss_ticks), loss_ticks
    assert "0.5" in loss_ticks or "0.4" in loss_ticks or "0.6" in loss_ticks, loss_ticks
    assert all(t.endswith("%") for t in _ticks(curves, "y2tick"))

    trade = drawn["tradeoff"]
    x_ticks = _ticks(trade, "xtick")
    assert "20 s" in x_ticks and "30 s" in x_ticks, x_ticks
    assert not {"2", "3"} & set(x_ticks)
    legend = [t["text"] for t in trade["texts"] if t["group"].startswith("legendtext") or "legendtext" in t["cls"]]
    assert set(tradeoff["label"]) <= set(legend), legend  # whole names, in the legend

    confusion = drawn["confusion"]
    assert set(names) <= set(_ticks(confusion, "xtick")) and set(names) <= set(_ticks(confusion, "ytick"))
    titles = [t["text"] for t in confusion["texts"] if "xtitle" in t["cls"] or "ytitle" in t["cls"]]
    assert sorted(titles) == ["predicted", "true"]
    for key in ("curves", "tradeoff", "confusion"):
        assert _inside(drawn[key]) == [], key
        small = [t for t in drawn[key]["texts"] if t["size"] < 11]
        assert small == [], (key, small[:3])


@pytest.mark.parametrize("width", [1280, 1400])
def test_digit_labels_captions_and_pixel_values_are_readable(width):
    images = np.random.default_rng(1).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30) % 10
    drawn = _draw({
        "gallery": figures.digits.grid_figure(images, labels, np.arange(30), class_names=tuple("0123456789"),
                                              columns=10, cell=48),
        "mistakes": figures.digits.grid_figure(images[:10], labels[:10], np.arange(10),
                                               class_names=tuple("0123456789"), columns=10, cell=72,
                                               captions=[f"{d}→{(d + 1) % 10} 93%" for d in range(10)]),
        "pixels": figures.digits.pixels_figure(images[0], title="train #0 · label 0"),
    }, width, "digits")  # fmt: skip
    for key in ("gallery", "mistakes", "pixels"):
        texts = drawn[key]["texts"]
        assert texts and min(t["size"] for t in texts) >= 11, (key, min(t["size"] for t in texts))
    captions = [t for t in drawn["mistakes"]["texts"] if "→" in t["text"]]
    assert len(captions) == 10
    # Each caption fits inside its 72 px cell.
    assert max(t["right"] - t["left"] for t in captions) < 72
    # The pixel values are written in the picture (tests/test_data_pictures.py, and
    # tests/test_data_browser.py for their size on the page): no text of plotly's.
    assert not [t for t in drawn["pixels"]["texts"] if t["text"].isdigit() and t["group"].startswith("heatmap")]


@pytest.fixture
def evaluation_server(finished_run):
    from tests.browser import streamlit_server

    with streamlit_server(finished_run.parent.parent / "streamlit.log") as (url, _):
        yield url, finished_run.name


def test_evaluation_page_figures_are_readable_at_1280_and_1400(evaluation_server):
    """The presenter's page: every text plotly draws there (confusion matrix, mistakes and
    label-error captions, top-3 bars, mismatches) is 11 px or more and inside its chart."""
    url, run_id = evaluation_server
    page_js = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map(chart => {
      const svg = chart.querySelector('svg.main-svg').getBoundingClientRect();
      return [...chart.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize),
                out: r.left < svg.left - 0.5 || r.right > svg.right + 0.5 || r.top < svg.top - 0.5
                     || r.bottom > svg.bottom + 0.5};
      });
    })"""
    with chromium() as browser:
        for width in (1280, 1400):
            page = browser.new_page(viewport={"width": width, "height": 4200})
            page.goto(f"{url}/evaluation?dataset=digits&run={run_id}")
            page.get_by_text("Likely label errors").wait_for(timeout=120_000)
            page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')")
            # Every chart drawn (plotly draws charts as they scroll into view).
            page.mouse.wheel(0, 10_000)
            page.wait_for_function("""() => {
              const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
              return charts.length >= 5 && [...charts].every(c => c.querySelector('svg.main-svg'));
            }""", timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / f"evaluation-page-{width}.png"), full_page=True)
            charts = page.evaluate(page_js)
            texts = [t for chart in charts for t in chart]
            mistakes = [t for t in texts if "→" in t["text"] and "%" in t["text"]]
            label_errors = [t for t in texts if "/" in t["text"] and "%" in t["text"]]
            assert mistakes and label_errors, [t["text"] for t in texts][:40]
            small = [t for t in texts if t["size"] < 11]
            assert small == [], small[:5]
            assert [t for t in texts if t["out"]] == []
            assert page.locator('[data-testid="stException"]').count() == 0
            page.close()
