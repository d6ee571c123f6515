"""The Studies page in Chromium, as a tweaker uses it: a 4-trial grid on the 8×8 digits
(feed-forward 64, 2 epochs) defined in the form and launched; the trials complete live; the
table, parallel coordinates, curves and heat map are drawn; the CSV holds the trials; *Open
best in builder* opens the builder on the best trial's spec; ``?study=`` reopens the study
in a fresh tab. Screenshots at 1,280 and 1,400 px wide in ``test-artifacts/``."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

from mnist_core import runs, studies
from mnist_core.models import ModelSpec
from tests.browser import ARTIFACTS, streamlit_server

pytestmark = pytest.mark.browser
PLAN_TEXT = ("Grid over batch_size, learning_rate: 4 trials × 1 seed = 4 runs of 2 epochs on "
             "scikit-learn 8x8 digits.")


def _settle(page) -> None:
    """Wait until the app has finished the rerun the last action started."""
    time.sleep(0.6)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    time.sleep(0.3)


def _type(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    _settle(page)


def _choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    _settle(page)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def _define_study(page, url: str) -> None:
    page.goto(f"{url}/studies?dataset=digits")
    page.get_by_role("heading", name="New study").wait_for(timeout=90_000)
    _settle(page)
    page.get_by_role("radio", name="a preset model").click()  # the segmented control
    _settle(page)
    _choose(page, "Preset model", "feed-forward 64")
    _type(page, "Epochs per run", "2")
    _type(page, "batch_size values", "32,128")
    # A second parameter: the multiselect takes a typed name and Enter.
    box = page.get_by_role("combobox", name="Parameters to vary", exact=True)
    box.click()
    box.fill("learning_rate")
    page.get_by_role("option", name="learning_rate", exact=True).click()
    page.keyboard.press("Escape")
    _settle(page)
    _type(page, "learning_rate values", "0.001,0.01")
    page.get_by_text(PLAN_TEXT).wait_for(timeout=30_000)


def _bad_value_is_one_sentence(page) -> None:
    launch = page.get_by_role("button", name="Launch")
    _type(page, "batch_size values", "0,128")
    page.get_by_text("'batch_size' must be a whole number from 1 to 65,536; got 0.").wait_for(
        timeout=30_000)
    expect(launch).to_be_disabled(timeout=30_000)
    _type(page, "batch_size values", "32,128")
    page.get_by_text(PLAN_TEXT).wait_for(timeout=30_000)
    expect(launch).to_be_enabled(timeout=30_000)


def _wait_for_cells(page, text: str, count: int) -> None:
    """Wait until the trials table shows ``count`` cells reading ``text`` (it is redrawn
    as the page polls)."""
    page.wait_for_function(
        """([text, count]) => [...document.querySelectorAll(
               '[data-testid="stDataFrame"] [role="gridcell"]')]
               .filter(cell => cell.innerText === text).length === count""",
        arg=[text, count], timeout=60_000)


def _wait_for_figures(page) -> None:
    # .first: while a rerun replaces the live view, its old elements linger for a moment.
    page.get_by_role("heading", name="Parallel coordinates").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stPlotlyChart"] .parcoords').first.wait_for(timeout=60_000)
    page.get_by_role("heading", name="Curves").first.wait_for(timeout=60_000)
    page.get_by_role("heading", name="learning_rate × batch_size").first.wait_for(timeout=60_000)
    _settle(page)
    page.wait_for_function(  # every chart drawn: parcoords, best so far, importance, curves, heat map
        "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= 5",
        timeout=90_000)
    time.sleep(1.5)


def test_define_launch_follow_export_and_open_the_best(app_server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    _define_study(page, app_server)
    _bad_value_is_one_sentence(page)
    page.screenshot(path=str(ARTIFACTS / "studies-form-1400.png"), full_page=True)
    began = time.monotonic()
    page.get_by_role("button", name="Launch").click()
    page.get_by_role("heading", name="Trials").first.wait_for(timeout=120_000)
    study_id = parse_qs(urlparse(page.url).query)["study"][0]
    record = studies.open_study(study_id)
    # Live: the page shows the trials while they train (the driver writes, the page polls).
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"trials ended")).first.wait_for(timeout=120_000)
    _no_exception(page)
    assert studies.wait(record, timeout=900).state == "done"
    # The page stops polling by itself and shows the final view (Resume instead of Stop).
    page.get_by_role("button", name="Resume").first.wait_for(timeout=60_000)
    seconds = time.monotonic() - began
    print(f"4-trial digits study (ff64, 2 epochs) from Launch to done on the page: {seconds:.1f} s")
    record = record.refresh()
    assert record.counts() == {"complete": 4}
    _wait_for_figures(page)
    _no_exception(page)
    _wait_for_cells(page, "complete", 4)
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()
    assert "None" not in cells and "nan" not in cells
    for width in (1280, 1400):
        page.set_viewport_size({"width": width, "height": 3000})  # the whole page in one shot
        time.sleep(1.5)
        page.screenshot(path=str(ARTIFACTS / f"studies-done-{width}.png"), full_page=True)

    # CSV: the engine's trials frame, one row a trial.
    with page.expect_download(timeout=60_000) as caught:
        page.get_by_role("button", name="Export trials (CSV)").click()
    csv = pd.read_csv(caught.value.path())
    assert len(csv) == 4 and set(csv["state"]) == {"complete"}
    assert sorted(zip(csv["batch_size"], csv["learning_rate"])) == [
        (32, 0.001), (32, 0.01), (128, 0.001), (128, 0.01)]
    assert set(csv["run_id"]) == {r.run_id for r in runs.list_runs() if r.group == study_id}

    # Open best in builder: a new tab on the builder with the best trial's spec.
    best = record.best
    best_spec = runs.open_run(best.run_ids[0]).spec
    with page.context.expect_page(timeout=60_000) as opened:
        page.get_by_role("link", name="Open best in builder").click()
    builder = opened.value
    builder.get_by_text("Total parameters").wait_for(timeout=90_000)
    _settle(builder)
    assert urlparse(builder.url).path.endswith("/builder")
    assert ModelSpec.from_url(parse_qs(urlparse(builder.url).query)["spec"][0]) == best_spec
    assert builder.get_by_label("batch size", exact=True).input_value() == str(best.params["batch_size"])
    assert builder.get_by_label("epochs", exact=True).input_value() == "2"
    assert parse_qs(urlparse(builder.url).query)["dataset"] == ["digits"]
    builder.screenshot(path=str(ARTIFACTS / "studies-open-best-builder-1400.png"), full_page=True)
    builder.close()

    # Any tab follows the study from its link; the state comes from the study folder.
    other = browser.new_page(viewport={"width": 1280, "height": 1100})
    other.goto(f"{app_server}/studies?study={study_id}")
    other.get_by_role("button", name="Resume").first.wait_for(timeout=90_000)
    other.get_by_text(study_id).first.wait_for(timeout=30_000)
    other.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    _no_exception(other)
    other.close()
    page.close()


def test_study_this_spec_carries_the_builders_edits_and_stop_is_one_click(app_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(f"{app_server}/builder?dataset=digits")
    page.get_by_text("Total parameters").wait_for(timeout=90_000)
    _settle(page)
    _type(page, "batch size", "16")
    _type(page, "epochs", "300")  # long enough to be stopped while it trains
    page.get_by_role("link", name="Study this spec").click()
    page.get_by_role("heading", name="New study").wait_for(timeout=60_000)
    _settle(page)
    base = page.get_by_text(re.compile(r"^Base: ff64: Flatten → Dense 64"))
    assert "batch 16, 300 epochs" in base.inner_text()
    assert ModelSpec.from_url(parse_qs(urlparse(page.url).query)["spec"][0]).train.batch_size == 16
    # Back to the builder and to Studies through the sidebar: the same spec.
    page.get_by_role("link", name="Model builder").click()
    page.get_by_text("Total parameters").wait_for(timeout=60_000)
    _settle(page)
    page.get_by_role("link", name="Studies").click()
    page.get_by_role("heading", name="New study").wait_for(timeout=60_000)
    _settle(page)
    assert "batch 16, 300 epochs" in page.get_by_text(re.compile(r"^Base: ")).inner_text()
    _type(page, "batch_size values", "16,32")
    page.get_by_role("button", name="Launch").click()
    page.get_by_role("button", name="Stop study").first.wait_for(timeout=120_000)
    study_id = parse_qs(urlparse(page.url).query)["study"][0]
    record = studies.open_study(study_id)
    members = lambda: [r for r in runs.list_runs() if r.group == study_id]  # noqa: E731
    deadline = time.monotonic() + 300
    while not any(r.state == "running" for r in members()):
        assert time.monotonic() < deadline, "the study's first run never started training"
        time.sleep(0.5)
    page.get_by_role("button", name="Stop study").first.click()
    page.get_by_text(re.compile(rf"^Study {study_id} stops: ")).wait_for(timeout=60_000)
    assert studies.wait(record, timeout=300).state == "stopped"
    page.get_by_role("button", name="Resume").first.wait_for(timeout=60_000)  # polling ended by itself
    expect(page.get_by_role("button", name="Resume").first).to_be_enabled(timeout=30_000)
    assert {r.state for r in members()} <= {"stopped", "cancelled"}
    page.screenshot(path=str(ARTIFACTS / "studies-stopped-1280.png"), full_page=True)
    _no_exception(page)
    page.close()


def test_a_study_is_followed_across_a_server_restart(cache_dir, browser):
    from mnist_core.data import load_dataset
    from mnist_core.models import PRESETS, with_train

    cache_dir.mkdir(parents=True, exist_ok=True)
    digits = load_dataset("digits")
    plan = studies.plan_study(with_train(PRESETS["ff64"].spec, epochs=2), ["batch_size=32,64"],
                              dataset="digits", fingerprint=digits.fingerprint,
                              input_shape=digits.image_shape, n_classes=digits.n_classes,
                              search="grid")  # fmt: skip
    record = studies.create_study(plan)
    studies.start(record)
    link = f"/studies?study={record.study_id}&dataset=digits"
    with streamlit_server(cache_dir / "streamlit-1.log") as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(url + link)
        page.get_by_role("button", name="Stop study").first.wait_for(timeout=90_000)  # live
        page.close()
    assert studies.open_study(record.study_id).status.active  # the driver outlived the server
    with streamlit_server(cache_dir / "streamlit-2.log") as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(url + link)
        page.get_by_role("heading", name="Trials").first.wait_for(timeout=90_000)
        assert studies.wait(record, timeout=600).state == "done"
        page.get_by_role("button", name="Resume").first.wait_for(timeout=60_000)  # saw it end
        _wait_for_cells(page, "complete", 2)
        _no_exception(page)
        page.close()
