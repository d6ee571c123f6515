"""The Runs page's bulk actions on real queued and training runs: *Stop selected* stops or
cancels every ticked run, *Delete selected* refuses a run still training in one sentence
and deletes the rest, *Stop the group* cancels a whole group at once (issue 9, item 13)."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.models import PRESETS, with_train
from tests.helpers import as_shown


def _actions_page(ticked_ids: list[str]) -> None:
    """The page's action row over the runs in the store, with ``ticked_ids`` ticked."""
    from app.views.runs import actions
    from mnist_core import runs

    all_runs = runs.list_runs()
    actions([r for r in all_runs if r.run_id in ticked_ids], all_runs,
            {r.run_id: r.name for r in all_runs})  # fmt: skip


@pytest.fixture
def training_and_queued(cache_dir):
    """One run training (it would train for minutes) and two queued behind it, as a group."""
    digits = load_dataset("digits")
    spec = with_train(PRESETS["ff64"].spec, epochs=500, batch_size=16)
    made = [runs.create_run(spec, dataset="digits", fingerprint=digits.fingerprint,
                            input_shape=digits.image_shape, n_classes=digits.n_classes,
                            group="grid-7")  # fmt: skip
            for _ in range(3)]
    for record in made:
        runs.start(record)
    deadline = time.monotonic() + 180
    while runs.read_status(made[0].directory).state != "running":
        assert time.monotonic() < deadline, runs.read_status(made[0].directory)
        time.sleep(0.1)
    yield made
    left = [r for r in made if r.directory.is_dir()]  # a test may have deleted some
    runs.stop_many(r.refresh() for r in left)
    for record in left:
        runs.wait(record.directory, timeout=120)


def _app(ticked: list[str]) -> AppTest:
    return AppTest.from_function(_actions_page, args=(ticked,), default_timeout=60).run()


def _states(records) -> list[str]:
    return [runs.read_status(r.directory).state for r in records]


def test_stop_selected_stops_the_training_run_and_cancels_the_queued_one(training_and_queued):
    first, second, third = training_and_queued
    assert _states(training_and_queued) == ["running", "queued", "queued"]
    at = _app([first.run_id, second.run_id])
    stop = next(b for b in at.button if b.key == "stop_selected")
    assert stop.label == "Stop selected (2)" and not stop.disabled
    stop.click().run()
    assert len(at.toast) == 2
    assert runs.wait(second.directory, timeout=60).state == "cancelled"
    assert runs.wait(first.directory, timeout=120).state == "stopped"
    assert runs.read_status(third.directory).state in ("queued", "running")  # not ticked


def test_delete_selected_refuses_a_training_run_in_one_sentence(training_and_queued):
    first, second, _ = training_and_queued
    runs.stop(second)
    assert runs.wait(second.directory, timeout=60).state == "cancelled"
    at = _app([first.run_id, second.run_id])
    confirm = next(b for b in at.button if b.key == "confirm_delete")
    confirm.click().run()
    refused = [as_shown(e.value) for e in at.error]
    assert refused == [f"Run {first.run_id} is still running; stop it first, then delete it."]
    assert first.directory.is_dir() and not second.directory.exists()
    assert runs.read_status(first.directory).state == "running"  # deleting stops nothing


def test_stop_the_group_cancels_every_run_of_it(training_and_queued):
    at = _app([])
    group = next(b for b in at.button if b.key == "cancel-grid-7")
    assert as_shown(group.label) == "Stop the group grid-7 (3 runs left)"
    group.click().run()
    assert [as_shown(t.value) for t in at.toast] == ["3 runs of grid-7 cancelled or stopping."]
    states = {runs.wait(r.directory, timeout=120).state for r in training_and_queued}
    assert states == {"stopped", "cancelled"}
