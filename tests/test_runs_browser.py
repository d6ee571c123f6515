"""The Runs page in Chromium: the table fits the page with its state column visible and no
"None" in it, runs are labelled by what sets them apart, and a queued run is cancelled with
one click on *Stop selected*."""

from __future__ import annotations

import time

import pytest

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.models import PRESETS, with_train
from tests.browser import ARTIFACTS, chromium, streamlit_server

pytestmark = pytest.mark.browser


def _cells(page) -> list[str]:
    return page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()


def test_runs_table_fits_labels_runs_and_cancels_a_queued_run(finished_run, cache_dir):
    ARTIFACTS.mkdir(exist_ok=True)
    digits = load_dataset("digits")
    # A run that never trained (cancelled while queued): its blank cells must stay blank.
    # The blocker must still train when it is stopped at the end: 400 epochs of batch 64 on
    # JAX took 15 s (CI, 2026-11-22), less than the pages before; of batch 1, ~80x that.
    spec = with_train(PRESETS["ff64"].spec, learning_rate=0.01, batch_size=1, epochs=400)
    blocker = runs.create_run(spec, dataset="digits", fingerprint=digits.fingerprint,
                              input_shape=(8, 8), n_classes=10)  # fmt: skip
    queued = runs.create_run(with_train(spec, batch_size=16), dataset="digits",
                             fingerprint=digits.fingerprint, input_shape=(8, 8), n_classes=10)  # fmt: skip
    runs.start(blocker)
    runs.start(queued)
    with streamlit_server(cache_dir / "streamlit.log") as (url, _), chromium() as browser:
        for width in (1280, 1400):
            page = browser.new_page(viewport={"width": width, "height": 1600})
            page.goto(f"{url}/runs?dataset=digits")
            page.get_by_role("heading", name="Runs").wait_for(timeout=60_000)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
            time.sleep(2)
            cells = _cells(page)
            assert "None" not in cells and "nan" not in cells
            # Labels tell the three ff64 runs apart by what differs.
            assert {"ff64 · lr 0.01 · batch 1 · 400 epochs", "ff64 · lr 0.01 · batch 16 · 400 epochs",
                    "ff64 · lr 0.001 · batch 32 · 3 epochs"} <= set(cells)
            grid = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
            assert grid["x"] + grid["width"] <= width  # within the page
            page.screenshot(path=str(ARTIFACTS / f"runs-page-{width}.png"), full_page=True)
            page.close()
        # Select the queued run (its row) and stop it with one click.
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/runs?dataset=digits&run={queued.run_id}")
        page.get_by_role("heading", name="Runs").wait_for(timeout=60_000)
        page.get_by_role("button", name="Cancel").click()  # the run panel's button
        page.get_by_text("Cancelling before it trains…").or_(
            page.locator("strong", has_text="cancelled")).first.wait_for(timeout=30_000)
        assert runs.wait(queued.directory, timeout=60).state == "cancelled"
        runs.stop(blocker)
        assert runs.wait(blocker.directory, timeout=120).state == "stopped"
        page.reload()
        page.locator("strong", has_text="cancelled").first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.close()
