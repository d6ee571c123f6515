"""One server, several people: three browser sessions at once, and a server restarted while
a run trains. Figures (times, memory) are printed and kept in test-artifacts/."""

from __future__ import annotations

import json
import re
import time

import pytest

from mnist_core.runs import jobs
from mnist_core import runs
from mnist_core.models import PRESETS, with_train
from tests.browser import ARTIFACTS, chromium, rss_mb, streamlit_server

pytestmark = pytest.mark.browser


def _state(page, state: str):
    """The run header's state, in bold (not the Runs table's hidden accessibility cells)."""
    return page.locator("strong", has_text=re.compile(f"^{state}$")).first


def _run_id(page) -> str:
    match = re.search(r"Run (\d{8}-\d{6}-[0-9a-f]{4,6})", page.inner_text("body"))
    assert match, "no run on the page"
    return match.group(1)


def test_three_sessions_train_embed_and_browse_at_once(mnist_cached):
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.monotonic()
    with streamlit_server(mnist_cached / "streamlit.log") as (url, server), chromium() as browser:
        trainer, embedder, browser_user = (
            browser.new_context(viewport={"width": 1400, "height": 2000}).new_page() for _ in range(3)
        )
        spec = with_train(PRESETS["ff64"].spec, epochs=3).to_url()
        trainer.goto(f"{url}/builder?dataset=digits&spec={spec}")
        embedder.goto(f"{url}/embeddings?dataset=digits")
        browser_user.goto(f"{url}/?dataset=mnist")
        trainer.get_by_text("Total parameters").wait_for(timeout=60_000)
        trainer.get_by_role("button", name="Train").click()
        memory = [rss_mb(server.pid)]
        # The data browser moves around while the others work.
        browser_user.get_by_text("Pixel-wise statistics per class").wait_for(timeout=60_000)
        test_split = browser_user.get_by_role("radio", name="test", exact=True).first
        test_split.click()
        # On a loaded machine a click that lands during a rerun can be lost: click until it sticks.
        for _ in range(5):
            if test_split.is_checked():
                break
            time.sleep(2)
            test_split.click()
        browser_user.get_by_text("test #0 · label 7").wait_for(timeout=120_000)
        memory.append(rss_mb(server.pid))
        embedder.get_by_text("Cluster quality", exact=True).wait_for(timeout=120_000)
        memory.append(rss_mb(server.pid))
        _state(trainer, "done").wait_for(timeout=180_000)
        memory.append(rss_mb(server.pid))
        run_id = _run_id(trainer)

        # Nobody sees another's state: each page shows its own dataset and page.
        assert "MNIST handwritten digits" in browser_user.inner_text("body")
        assert "Data explorer" in browser_user.inner_text("h1")
        assert "Embeddings" in embedder.inner_text("h1") and "Run " not in embedder.inner_text("body")
        assert "scikit-learn 8x8 digits" in trainer.inner_text("body")
        for page in (trainer, embedder, browser_user):
            assert page.locator('[data-testid="stException"]').count() == 0
        trainer.screenshot(path=str(ARTIFACTS / "many-users-trainer.png"), full_page=True)
    status = jobs.read_status(runs.open_run(run_id).directory)
    figures = {"seconds": round(time.monotonic() - started, 1),
               "server_rss_mb": [round(m) for m in memory], "run_state": status.state}  # fmt: skip
    (ARTIFACTS / "many-users.json").write_text(json.dumps(figures, indent=1))
    print(figures)
    assert status.state == "done"
    assert max(memory) < 1000  # bounded: the server loads no TensorFlow, and MNIST once


def test_a_run_survives_a_server_restart_and_is_followed(mnist_cached):
    log = mnist_cached / "streamlit.log"
    spec = with_train(PRESETS["ff64"].spec, epochs=300, batch_size=16).to_url()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        with streamlit_server(log) as (url, _):
            page.goto(f"{url}/builder?dataset=digits&spec={spec}")
            page.get_by_text("Total parameters").wait_for(timeout=60_000)
            page.get_by_role("button", name="Train").click()
            _state(page, "running").wait_for(timeout=120_000)
            run_id = _run_id(page)
        # The server is gone; the worker is not.
        directory = runs.open_run(run_id).directory
        assert jobs.read_status(directory).state == "running"
        with streamlit_server(log) as (url, _):
            page.goto(f"{url}/runs?dataset=digits&run={run_id}")
            _state(page, "running").wait_for(timeout=60_000)
            page.get_by_text(re.compile(r"epoch \d+/300 · batch")).first.wait_for(timeout=30_000)
            page.get_by_role("button", name="Stop", exact=True).click()
            _state(page, "stopped").wait_for(timeout=120_000)
    assert jobs.read_status(directory).state == "stopped"
    assert json.loads((directory / "summary.json").read_text())["epochs_run"] >= 1
