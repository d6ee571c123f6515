"""User strings shown as plain text: escaped for Markdown, checked in Chromium, where
Streamlit's Markdown would otherwise draw images, links, formulas and colours."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from app.text import WORD_JOINER, plain
from tests.browser import CHROMIUM_ARGS, chromium, free_port
from tests.conftest import ROOT

HOSTILE = ["![t](http://127.0.0.1:9/x.png)", "http://127.0.0.1:9/x.png", "www.example.com",
           "me@example.com", "a_b*c* `x` <b>bold</b> $x^2$ :red[hi] # heading", "My model (v2)"]  # fmt: skip


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_keeps_every_character(text):
    shown = plain(text).replace(WORD_JOINER, "")
    assert shown.replace("\\", "") == text.replace("\\", "")


@pytest.mark.browser
def test_plain_text_draws_no_link_image_or_markup(tmp_path):
    script = tmp_path / "page.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport streamlit as st\n"
        "from app.text import plain\n"
        f"for text in {HOSTILE!r}:\n"
        "    st.markdown('md ' + plain(text))\n    st.caption('caption ' + plain(text))\n"
        "    st.error('error ' + plain(text))\n"
    )
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port",
                               str(port), "--server.headless", "true"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_text("error My model (v2)").wait_for(timeout=30_000)
            time.sleep(1)
            main = page.locator('[data-testid="stMain"]')
            assert main.locator("a, img, strong, em, code, b, h1, .katex").count() == 0
            lines = set(main.inner_text().replace(WORD_JOINER, "").splitlines())
            for text in HOSTILE:
                assert {f"md {text}", f"caption {text}", f"error {text}"} <= lines, text
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert CHROMIUM_ARGS  # the same flags as every browser test
