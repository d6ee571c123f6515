"""A Streamlit server on a free port and Debian's Chromium, for the browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, skip_or_fail

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(log_path: Path, port: int | None = None):
    """``streamlit run`` the app on 127.0.0.1; yields ``(url, process)``."""
    port = port or free_port()
    log = open(log_path, "a")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"streamlit exited: {log_path.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("streamlit did not answer within 60 s")
                time.sleep(0.3)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
        log.close()


@contextmanager
def chromium():
    """A headless Chromium browser (Playwright driving Debian's build)."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def selected_count(page) -> int:
    """The number in the Embeddings page's "N selected points" heading, once it shows."""
    import re

    heading = page.get_by_role("heading", name=re.compile("selected points"))
    heading.wait_for(timeout=60_000)
    return int(heading.inner_text().split()[0].replace(",", ""))


def settle(page) -> None:
    """Wait until Streamlit has finished rerunning and the charts are drawn."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=60_000)  # fmt: skip
    time.sleep(1.5)
