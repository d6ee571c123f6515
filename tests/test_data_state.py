"""The Data explorer keeps its choices across a page switch and in its URL: the grid's
split, order, class, size and seed, the digit clicked, and the statistics' split."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app" / "streamlit_app.py")


def _data_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    return at.run()


def _digit(at: AppTest) -> int:
    """The grid position of the digit shown enlarged (kept for the session)."""
    return at.session_state["kept:grid_digit"][1]


def test_choices_survive_a_page_switch_and_travel_in_the_url(cache_dir):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.query_params["digit"] = "4"  # as if digit 4 had been clicked
    at.run()
    assert not at.exception and _digit(at) == 4
    at.segmented_control(key="grid_split").set_value("test").run()
    at.selectbox(key="grid_class").set_value(3).run()
    at.slider(key="grid_side").set_value(5).run()
    at.segmented_control(key="stats_split").set_value("test").run()
    assert _digit(at) == 0  # another grid: its first digit
    for page in ("views/embeddings.py", "views/runs.py", "views/data.py"):
        at.switch_page(page).run()
        assert not at.exception
    assert at.segmented_control(key="grid_split").value == "test"
    assert at.selectbox(key="grid_class").value == 3
    assert at.slider(key="grid_side").value == 5
    assert at.segmented_control(key="stats_split").value == "test"
    assert _digit(at) == 0
    link = {k: at.query_params[k] for k in ("grid", "class", "side", "stats")}
    assert link == {"grid": "test", "class": "3", "side": "5", "stats": "test"}
    assert "digit" not in at.query_params and "order" not in at.query_params  # defaults: left out
    # A new session opened with that link shows the same choices.
    again = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"dataset": "digits", **link, "digit": "2"}.items():
        again.query_params[key] = value
    again.run()
    assert again.segmented_control(key="grid_split").value == "test"
    assert again.selectbox(key="grid_class").value == 3
    assert again.segmented_control(key="stats_split").value == "test"
    assert _digit(again) == 2
    assert not again.exception


def test_a_bad_link_falls_back_to_the_defaults(cache_dir):
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"dataset": "digits", "grid": "nope", "side": "x", "class": "99"}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert at.segmented_control(key="grid_split").value == "train"
    assert at.slider(key="grid_side").value == 10
    assert at.selectbox(key="grid_class").value is None
