"""The Model builder in a real browser (Chromium driven by Playwright against ``streamlit
run``): every setting survives a trip to another page and a reload of the link in a fresh
browser (issue 9 item 5), every layer row is readable at 1,280 and 1,400 px (item 25), and
a double click on Train makes one run (item 9). Screenshots in ``test-artifacts/``."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest

from mnist_core.models import EarlyStoppingSpec, LayerSpec, ModelSpec, ReduceLRSpec, TrainSpec
from tests.browser import ARTIFACTS, streamlit_server

pytestmark = pytest.mark.browser
WIDTHS = (1280, 1400)


@pytest.fixture
def server(cache_dir, tmp_path):
    with streamlit_server(tmp_path / "streamlit.log") as (url, _):
        yield url



def _settle(page) -> None:
    """Wait until the app has finished the rerun the last action started."""
    time.sleep(0.6)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    time.sleep(0.3)


def _choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    _settle(page)


def _type(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    _settle(page)


def _open_builder(page, url: str) -> None:
    page.goto(url)
    page.get_by_text("Total parameters").wait_for(timeout=60_000)
    _settle(page)


def _form(page) -> dict:
    """What the form shows, read from the browser."""
    def value(label: str) -> str:
        return page.get_by_label(label, exact=True).input_value()

    return {
        "preset": page.get_by_role("combobox", name="Preset", exact=True).input_value(),
        "name": value("Model name"),
        "units": value("units"),
        "optimizer": page.get_by_role("combobox", name="optimizer", exact=True).input_value(),
        **{label: value(label) for label in ("learning rate", "batch size", "epochs",
                                             "validation split", "seed", "momentum", "patience")},
        "nesterov": page.get_by_role("checkbox", name="Nesterov").is_checked(),
        "early stopping": page.get_by_role("checkbox", name="Early stopping").is_checked(),
    }  # fmt: skip


def _url_spec(page) -> ModelSpec:
    return ModelSpec.from_url(parse_qs(urlparse(page.url).query)["spec"][0])


EXPECTED = ModelSpec(
    (LayerSpec("Flatten"), LayerSpec("Dense", {"units": 100})),
    TrainSpec(optimizer="sgd", learning_rate=0.05, momentum=0.9, nesterov=True, batch_size=64,
              epochs=7, validation_split=0.1, seed=3, early_stopping=EarlyStoppingSpec(patience=5)),
    "My model (v2)",
)  # fmt: skip


def test_settings_survive_another_page_and_a_fresh_browser(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    _open_builder(page, server + "/builder?dataset=digits")
    _type(page, "Model name", "My model (v2)")
    _type(page, "units", "100")
    _choose(page, "optimizer", "sgd")
    _type(page, "learning rate", "0.05")
    _type(page, "momentum", "0.9")
    page.get_by_text("Nesterov", exact=True).click()
    _settle(page)
    _type(page, "batch size", "64")
    _type(page, "epochs", "7")
    _type(page, "validation split", "0.1")
    _type(page, "seed", "3")
    page.get_by_text("Early stopping", exact=True).click()
    _settle(page)
    _type(page, "patience", "5")
    _choose(page, "Preset", "Keras CNN (1,199,882 params on MNIST)")  # chosen, not loaded
    before = _form(page)
    assert before == {
        "preset": "Keras CNN (1,199,882 params on MNIST)", "name": "My model (v2)",
        "units": "100", "optimizer": "sgd", "learning rate": "0.05", "batch size": "64",
        "epochs": "7", "validation split": "0.10", "seed": "3", "momentum": "0.90",
        "patience": "5", "nesterov": True, "early stopping": True,
    }  # fmt: skip
    assert _url_spec(page) == EXPECTED
    page.screenshot(path=str(ARTIFACTS / "builder-edited-1400.png"), full_page=True)

    for away, title in (("Runs", "Runs"), ("Data explorer", "Data explorer")):
        page.locator('[data-testid="stSidebarNavLink"]', has_text=away).click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        _settle(page)
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Model builder").click()
        page.get_by_text("Total parameters").wait_for(timeout=60_000)
        _settle(page)
        assert _form(page) == before, away
        assert _url_spec(page) == EXPECTED
    page.screenshot(path=str(ARTIFACTS / "builder-after-page-switch-1400.png"), full_page=True)

    link = page.url
    fresh = browser.new_context(viewport={"width": 1280, "height": 1800}).new_page()
    _open_builder(fresh, link)
    again = _form(fresh)
    assert again == {**before, "preset": "feed-forward 64 (50,890 params on MNIST)"}  # custom name
    assert _url_spec(fresh) == EXPECTED
    assert fresh.locator('[data-testid="stException"]').count() == 0
    fresh.screenshot(path=str(ARTIFACTS / "builder-link-fresh-1280.png"), full_page=True)


def _truncated(page) -> list[str]:
    """The page's inputs (selects, numbers, text) and labels whose text does not fit."""
    return page.evaluate("""() => {
        const out = [];
        const main = document.querySelector('[data-testid="stMain"]');
        for (const input of main.querySelectorAll('input')) {
            if (input.scrollWidth > input.clientWidth + 1) out.push(input.getAttribute('aria-label') + '=' + input.value);
        }
        for (const table of main.querySelectorAll('[data-testid="stTable"]')) {
            if (table.scrollWidth > table.clientWidth + 1) out.push('table ' + table.scrollWidth + ' > ' + table.clientWidth);
        }
        for (const label of main.querySelectorAll('label p, label span')) {
            if (label.textContent.trim() && label.scrollWidth > label.clientWidth + 1) out.push('label ' + label.textContent);
        }
        return out;
    }""")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_layer_row_is_readable(server, browser, width, mnist_cached):
    """A Conv2D row (six fields), every other layer type and every training setting, at both
    widths: no select or number cut ("val", "rel" was the defect), no label cut."""
    ARTIFACTS.mkdir(exist_ok=True)
    layers = (LayerSpec("RandomTranslation"), LayerSpec("RandomZoom"), LayerSpec("RandomRotation"),
              LayerSpec("Conv2D", {"activation": "softplus", "l2": 0.0005}),
              LayerSpec("BatchNormalization"), LayerSpec("LayerNormalization"),
              LayerSpec("AveragePooling2D"), LayerSpec("MaxPooling2D"),
              LayerSpec("Conv2D", {"padding": "same", "activation": "linear"}),
              LayerSpec("GlobalAveragePooling2D"), LayerSpec("Dropout"),
              LayerSpec("Dense", {"units": 128, "activation": "sigmoid", "l2": 0.00001}))  # fmt: skip
    train = TrainSpec(optimizer="sgd", momentum=0.9, nesterov=True, learning_rate=0.0125,
                      early_stopping=EarlyStoppingSpec(monitor="val_accuracy", min_delta=0.0001),
                      reduce_lr=ReduceLRSpec(monitor="val_accuracy", min_lr=1e-6))  # fmt: skip
    spec = ModelSpec(layers, train, "every layer type")
    page = browser.new_page(viewport={"width": width, "height": 4200})  # all rows in the shot
    _open_builder(page, f"{server}/builder?dataset=mnist&spec={spec.to_url()}")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[class*="st-key-layer-box-"]').count() == len(layers)
    assert _truncated(page) == [], _truncated(page)
    conv = page.locator('[class*="st-key-layer-box-"]').nth(3)
    assert conv.get_by_role("combobox", name="padding").input_value() == "valid"
    assert conv.get_by_role("combobox", name="activation").input_value() == "softplus"
    page.screenshot(path=str(ARTIFACTS / f"builder-layers-{width}.png"), full_page=True)


def test_a_double_click_on_train_makes_one_run(server, browser, cache_dir):
    from mnist_core import runs

    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    spec = ModelSpec((LayerSpec("Flatten"),), TrainSpec(epochs=1), "double click")
    _open_builder(page, f"{server}/builder?dataset=digits&spec={spec.to_url()}")
    page.get_by_role("button", name="Train").dblclick()
    page.get_by_role("heading", name="Training run").wait_for(timeout=120_000)
    _settle(page)
    time.sleep(2)  # a second run, if any, would be created by now
    listed = runs.list_runs()
    assert len(listed) == 1, [(r.run_id, r.state) for r in listed]
    deadline = time.monotonic() + 30  # the URL follows the rerun that started the run
    while parse_qs(urlparse(page.url).query).get("run") != [listed[0].run_id]:
        assert time.monotonic() < deadline, page.url
        time.sleep(0.2)
    assert runs.wait(listed[0].directory, timeout=300).state == "done"
