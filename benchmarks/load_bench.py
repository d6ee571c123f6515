"""Many users on one server (issue 13, target 6), in Chromium on full MNIST.

- A warm page's cost to the server: each page opened once to warm the caches, then opened
  again from the sidebar in the same session (a page switch), and in a new session (a new
  tab: the app's scripts and styles come from the browser's cache); the server process's
  CPU time (user + system, from /proc) from the click to the page's last message, median
  per page. Target <= 0.15 s.
- N browser sessions at once (default 8), each alternating the Data explorer and the
  Embeddings page (PCA of all 70,000) for a few rounds: the time from navigation to the
  page being ready (its last section drawn and the app no longer running), p50 / p95 per
  page, and every error (a traceback on the page or a page never ready). Target p95 <= 5 s.

Run alone: ``python -m benchmarks.load_bench [--sessions 8] [--rounds 3]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import Row, cpu_seconds, seeded_cache

# Each page: its link, the text of its last section (drawn when the page is complete), and
# its name in the sidebar.
PAGES = {
    "Data explorer": ("/data?dataset=mnist", "Pixel-wise statistics per class", "Data explorer"),
    "Embeddings (PCA, 70,000)": ("/embeddings?dataset=mnist&method=pca&split=all",
                                 "Cluster quality", "Embeddings"),
    "Model builder": ("/builder?dataset=mnist", "Total parameters", "Model builder"),
    "Runs": ("/runs?dataset=mnist", "No runs yet: train a model on the Model builder page, "
             "launch a study on the Studies page, or fit a baseline above.", "Runs"),
}
LOAD_PAGES = ("Data explorer", "Embeddings (PCA, 70,000)")
TIMEOUT_MS = 180_000


async def _open(page, url: str | None, marker: str, link: str | None = None) -> float:
    """Seconds from navigation (to ``url``, or a click on the sidebar's ``link``) to the
    page ready: its marker shown, nothing running."""
    started = time.perf_counter()
    if url is not None:
        await page.goto(url, timeout=TIMEOUT_MS)
    else:
        await page.locator('[data-testid="stSidebarNav"]').get_by_role(
            "link", name=link, exact=True).click(timeout=TIMEOUT_MS)  # fmt: skip
    await page.get_by_text(marker, exact=True).first.wait_for(timeout=TIMEOUT_MS)
    await page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden",
                                                                  timeout=TIMEOUT_MS)  # fmt: skip
    if await page.locator('[data-testid="stException"]').count():
        raise RuntimeError((await page.locator('[data-testid="stException"]').first
                            .inner_text())[:300])  # fmt: skip
    return time.perf_counter() - started


async def _measure(url: str, pid: int, *, sessions: int, rounds: int) -> dict:
    from playwright.async_api import async_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        viewport = {"width": 1280, "height": 1000}
        # Warm: every page once (the PCA job runs here), then its cost when switched to in
        # the same session and when opened in a new tab of the same browser.
        context = await browser.new_context(viewport=viewport)
        page = await context.new_page()
        for path, marker, _ in PAGES.values():
            await _open(page, url + path, marker)
        warm: dict[str, list[float]] = {name: [] for name in PAGES}
        new_tab: dict[str, list[float]] = {name: [] for name in PAGES}
        for _ in range(3):
            for name, (path, marker, link) in PAGES.items():
                before = cpu_seconds(pid)
                await _open(page, None, marker, link)
                await page.wait_for_timeout(500)  # the last messages sent
                warm[name].append(cpu_seconds(pid) - before)
        for name, (path, marker, _) in PAGES.items():
            for _ in range(3):
                tab = await context.new_page()
                before = cpu_seconds(pid)
                await _open(tab, url + path, marker)
                await tab.wait_for_timeout(500)
                new_tab[name].append(cpu_seconds(pid) - before)
                await tab.close()
        await context.close()
        # Many sessions at once, each alternating the two pages.
        times: dict[str, list[float]] = {name: [] for name in LOAD_PAGES}
        errors: list[str] = []

        async def user(number: int) -> None:
            page = await browser.new_page(viewport=viewport)
            order = LOAD_PAGES if number % 2 == 0 else LOAD_PAGES[::-1]
            for _ in range(rounds):
                for name in order:
                    path, marker, _ = PAGES[name]
                    try:
                        times[name].append(await _open(page, url + path, marker))
                    except Exception as exc:  # a timeout or a traceback: counted, not fatal
                        errors.append(f"session {number}, {name}: {str(exc).splitlines()[0]}")
            await page.close()

        started = time.perf_counter()
        await asyncio.gather(*(user(n) for n in range(sessions)))
        wall = time.perf_counter() - started
        await browser.close()
    return {"warm_cpu_s": warm, "new_tab_cpu_s": new_tab, "times_s": times, "errors": errors, "wall_s": wall}


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def measure(*, sessions: int, rounds: int) -> dict:
    from tests.browser import rss_mb, streamlit_server

    log = Path(os.environ["MNIST_CACHE_DIR"]) / "streamlit-load.log"
    with streamlit_server(log) as (url, process):
        result = asyncio.run(_measure(url, process.pid, sessions=sessions, rounds=rounds))
        result["rss_mb"] = rss_mb(process.pid)
    return result


def run(*, quick: bool = False, sessions: int = 8, rounds: int | None = None) -> list[Row]:
    if not os.environ.get("MNIST_CACHE_DIR"):
        seeded_cache()
    got = measure(sessions=sessions, rounds=rounds or (1 if quick else 3))
    print(json.dumps(got), file=sys.stderr)
    rows = [Row(f"warm page switch, server CPU: {name} (median of 3)",
                round(statistics.median(cpu), 3), "s", "<= 0.15")
            for name, cpu in got["warm_cpu_s"].items()]  # fmt: skip
    rows += [Row(f"  in a new tab (a new session): {name}", round(statistics.median(cpu), 3), "s")
             for name, cpu in got["new_tab_cpu_s"].items()]  # fmt: skip
    for name, values in got["times_s"].items():
        if values:
            rows.append(Row(f"{sessions} sessions at once, page ready: {name} (p50)",
                            round(statistics.median(values), 2), "s"))  # fmt: skip
            rows.append(Row(f"{sessions} sessions at once, page ready: {name} (p95)",
                            round(_p95(values), 2), "s", "<= 5"))  # fmt: skip
    rows.append(Row(f"{sessions} sessions at once: errors", len(got["errors"]), "", "<= 0"))
    rows.append(Row("server memory after the sessions", round(got["rss_mb"]), "MB", "< 600"))
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_bench", description=__doc__)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(quick=args.quick, sessions=args.sessions, rounds=args.rounds):
        print(f"{row.what}: {row.measured} {row.unit} (target {row.target}) {row.ok}")
