"""The model's map of the data in Chromium (issue 12, part 4): a lasso on the model's map
shows its digits in the gallery; a digit clicked there opens layer by layer above.
Screenshots at 1,280 and 1,400 px in ``test-artifacts/``."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from mnist_core.inside import model_map
from mnist_core.runs import store
from tests.browser import ARTIFACTS, streamlit_server
from tests.test_model_map import mapped_cache_template  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


def _settle(page) -> None:
    """Wait until Streamlit has finished rerunning and the charts are drawn."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=60_000)  # fmt: skip
    time.sleep(1.5)


def test_a_lasso_on_the_model_s_map_shows_its_digits_and_one_opens_layer_by_layer(
    cache_dir, mapped_cache_template, browser  # noqa: F811
):  # fmt: skip
    shutil.copytree(mapped_cache_template, cache_dir, dirs_exist_ok=True)
    (record,) = store.list_runs()
    result = model_map.load_map(record)
    with streamlit_server(cache_dir / "streamlit.log") as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(f"{url}/inside?dataset=digits&run={record.run_id}")
        page.get_by_role("heading", name="The model's map of the data").wait_for(timeout=120_000)
        chart = page.locator('[class*="st-key-inside-map-model-"] [data-testid="stPlotlyChart"]')
        chart.scroll_into_view_if_needed(timeout=60_000)
        chart.locator("canvas").first.wait_for(timeout=60_000)
        _settle(page)
        chart.scroll_into_view_if_needed()

        # A lasso (the maps' default drag) around the whole middle of the model's map.
        area = chart.locator(".nsewdrag").first.bounding_box()
        corners = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.12)]
        page.mouse.move(area["x"] + area["width"] * corners[0][0],
                        area["y"] + area["height"] * corners[0][1])  # fmt: skip
        page.mouse.down()
        for fx, fy in corners[1:]:
            page.mouse.move(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy,
                            steps=10)  # fmt: skip
        page.mouse.up()
        heading = page.get_by_text(re.compile(r"digits selected on the model's map"))
        heading.wait_for(timeout=60_000)
        n = int(heading.inner_text().split()[0].replace(",", ""))
        assert 0 < n <= len(result.labels)
        assert "mapsel=l%3A" in page.url or "mapsel=l:" in page.url
        caption = page.get_by_text(re.compile(r"^Page 1 of \d+: digits 1–\d+ of [\d,]+\."))
        caption.wait_for(timeout=30_000)
        assert caption.inner_text().split(" of ")[2].startswith(f"{n:,}.")
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "inside-model-map-1280.png"))

        # The first digit of the gallery, clicked, then opened layer by layer.
        gallery = page.locator('[class*="st-key-inside-map-gallery-"] .nsewdrag').first
        gallery.scroll_into_view_if_needed()
        box = gallery.bounding_box()
        page.mouse.click(box["x"] + 28, box["y"] + 34)
        chosen = page.get_by_text(re.compile(r"^Test digit #[\d,]+ · labelled "))
        chosen.wait_for(timeout=60_000)
        row = int(re.search(r"#([\d,]+)", chosen.inner_text()).group(1).replace(",", ""))
        page.set_viewport_size({"width": 1400, "height": 1100})
        _settle(page)
        page.screenshot(path=str(ARTIFACTS / "inside-model-map-gallery-1400.png"))
        page.get_by_role("button", name=re.compile("Open in model view")).click()
        page.get_by_text(re.compile(rf"^Test digit #{row:,}, labelled ")).wait_for(
            timeout=60_000)  # fmt: skip
        assert page.get_by_label(re.compile(r"^Index")).input_value() == str(row)
        page.get_by_role("link", name=re.compile("Shown layer by layer above")).wait_for(
            timeout=30_000)  # fmt: skip
        assert page.locator('[data-testid="stException"]').count() == 0
