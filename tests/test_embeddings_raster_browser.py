"""The Embeddings page's scatter as one picture, in Chromium: no WebGL context is made; a
box drawn on the picture selects exactly the points inside it (all of them, not only the
hover layer's); a link with a selection shows its outline and its digits; hover names a
real point under the mouse and how many points are there. Screenshots in test-artifacts/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from mnist_core import embeddings, figures
from mnist_core.data import load_dataset
from tests.browser import ARTIFACTS, chromium, selected_count, settle

pytestmark = pytest.mark.browser

# The scatter's plot: its axes' ranges (the drag area spans them), its WebGL canvases, its image.
PLOT_JS = """() => {
  const gd = document.querySelectorAll('[data-testid="stPlotlyChart"]')[0]
                     .querySelector('.js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
  return {gl: gd.querySelectorAll('canvas.gl-canvas').length,
          images: gd.querySelectorAll('.layer-below image, .imagelayer image').length,
          x: [...xa.range], y: [...ya.range],
          left: box.x, top: box.y, width: box.width, height: box.height};
}"""


def test_a_box_on_the_picture_selects_every_point_inside_and_a_link_keeps_it(app_server, cache_dir):
    ARTIFACTS.mkdir(exist_ok=True)
    digits = load_dataset("digits")
    request = embeddings.EmbeddingRequest("digits", digits.fingerprint, "pca", "train", {})
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 2000})
        page.goto(app_server + "/embeddings?dataset=digits")
        page.get_by_text("Cluster quality", exact=True).wait_for(timeout=120_000)
        scatter = page.locator('[data-testid="stPlotlyChart"]').first
        scatter.locator(".nsewdrag").first.wait_for(timeout=30_000)
        settle(page)
        plot = page.evaluate(PLOT_JS)
        assert plot["gl"] == 0 and plot["images"] == 1, plot
        page.screenshot(path=str(ARTIFACTS / "embeddings-raster-1280.png"))

        # Hover over a point of the hover layer: its label and index.
        result = embeddings.load_cached(request)
        x, y = result.coords[:, 0], result.coords[:, 1]
        row = int(np.argmin(np.hypot(x - np.median(x), y - np.median(y))))
        fx = (x[row] - plot["x"][0]) / (plot["x"][1] - plot["x"][0])
        fy = (plot["y"][1] - y[row]) / (plot["y"][1] - plot["y"][0])
        page.mouse.move(plot["left"] + float(fx) * plot["width"], plot["top"] + float(fy) * plot["height"])
        hover = page.locator(".hoverlayer .hovertext").first
        hover.wait_for(timeout=10_000)
        text = hover.text_content()
        assert re.fullmatch(r"label \d, index \d+points here: [\d,]+", text), text
        page.screenshot(path=str(ARTIFACTS / "embeddings-raster-hover-1280.png"))

        # A box over the lower-left part of the cloud (box select is the first tool).
        corners = [(0.1, 0.45), (0.55, 0.95)]
        (ax, ay), (bx, by) = [(plot["left"] + cx * plot["width"], plot["top"] + cy * plot["height"])
                              for cx, cy in corners]  # fmt: skip
        page.mouse.move(ax, ay)
        page.mouse.down()
        page.mouse.move(bx, by, steps=10)
        page.mouse.up()
        n = selected_count(page)
        settle(page)
        # The box as plotly reported it, drawn back as the selection's dashed outline.
        drawn = page.evaluate(
            """() => { const gd = document.querySelector('.js-plotly-plot');
                       return gd.layout.shapes.map(s => [s.x0, s.x1, s.y0, s.y1]); }"""
        )
        assert len(drawn) == 1
        x0, x1, y0, y1 = drawn[0]
        inside = figures.embeddings.rows_in_shapes(x, y, [{"kind": "box", "x": [x0, x1], "y": [y0, y1]}])
        assert n == len(inside) and 50 < n < len(x)  # every point inside, exactly
        sel = parse_qs(urlparse(page.url).query)["sel"][0]
        assert sel.startswith("b:")
        page.screenshot(path=str(ARTIFACTS / "embeddings-raster-selected-1280.png"), full_page=True)

        # The link in a new tab: the same selection, its outline drawn, its digits shown.
        again = browser.new_page(viewport={"width": 1280, "height": 2000})
        again.goto(app_server + f"/embeddings?dataset=digits&method=pca&split=train&sel={sel}")
        from_link = figures.embeddings.rows_in_shapes(x, y, figures.embeddings.shapes_from_text(sel))
        assert selected_count(again) == len(from_link)
        assert abs(len(from_link) - n) <= 0.02 * n  # the link's box has 4 significant digits
        settle(again)
        again.screenshot(path=str(ARTIFACTS / "embeddings-raster-link-1280.png"), full_page=True)
        shapes = again.evaluate(
            """() => { const gd = document.querySelector('.js-plotly-plot');
                       return [gd.layout.shapes.length, gd.querySelectorAll('.shapelayer path').length]; }"""
        )
        assert shapes == [1, 1], shapes
        assert again.get_by_text(re.compile(r"^Page 1 of \d+: digits 1–")).count() == 1
        assert again.locator('[data-testid="stException"]').count() == 0
