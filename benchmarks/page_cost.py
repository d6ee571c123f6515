"""What one visit of a page costs Chromium, commit against commit (issue 13, target 6).

Each commit is exported (``git archive``) to a folder of its own and served by its own
Streamlit server, with its own copy of MNIST; one headless Chromium then visits the page on
every server in turn, round after round, so the commits are measured side by side under the
same load. A visit is (a) a switch to the page from the sidebar of an open tab (from the Runs
page) and (b) the page opened in a new tab; its cost is the CPU time of all of Chromium's
processes (from /proc) from navigation to 2 s after the page is ready, the median of the
rounds. CPU seconds barely depend on the machine's load; wall times would.

Run: ``python -m benchmarks.page_cost [--page "Data explorer"] [--rounds 5] COMMIT COMMIT ...``
(e.g. ``HEAD~2 HEAD``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import statistics
import subprocess
import tarfile
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, seeded_cache
from benchmarks.load_bench import PAGES, SETTLE_MS, _open, chromium_cpu, chromium_cpu_since


def export(commit: str, folder: Path) -> Path:
    """The tree of ``commit`` written to ``folder`` (a read-only use of the repository)."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT,
                             check=True, capture_output=True).stdout  # fmt: skip
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


@contextlib.contextmanager
def served(commit: str, work: Path):
    """A Streamlit server of ``commit``'s app on a free port, with its own seeded cache."""
    import tests.browser as browser_module

    tree = export(commit, work / f"tree-{len(list(work.iterdir()))}")
    cache = seeded_cache()  # sets MNIST_CACHE_DIR for the server started next
    saved, browser_module.ROOT = browser_module.ROOT, tree  # the server runs that tree's app
    try:
        with browser_module.streamlit_server(cache / "streamlit.log") as (url, _):
            yield url
    finally:
        browser_module.ROOT = saved


async def _visits(urls: dict[str, str], page: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    from playwright.async_api import async_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    path, marker, link = PAGES[page]
    runs_path, runs_marker, runs_link = PAGES["Runs"]
    cost = {name: {"switch": [], "new tab": []} for name in urls}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        homes = {}
        for name, url in urls.items():  # warm: the page once, then rest on the Runs page
            homes[name] = home = await context.new_page()
            await _open(home, url + path, marker)
            await _open(home, url + runs_path, runs_marker)
        for _ in range(rounds):
            for name, url in urls.items():
                home = homes[name]
                before = chromium_cpu()
                await _open(home, None, marker, link)
                await home.wait_for_timeout(SETTLE_MS)
                cost[name]["switch"].append(round(chromium_cpu_since(before), 2))
                await _open(home, None, runs_marker, runs_link)
                await home.wait_for_timeout(1_500)
                tab = await context.new_page()
                before = chromium_cpu()
                await _open(tab, url + path, marker)
                await tab.wait_for_timeout(SETTLE_MS)
                cost[name]["new tab"].append(round(chromium_cpu_since(before), 2))
                await tab.close()
                await home.wait_for_timeout(1_000)  # the tab's renderer gone
        await browser.close()
    return cost


def measure(commits: list[str], *, page: str = "Data explorer", rounds: int = 5) -> dict:
    if page not in PAGES:
        raise SystemExit(f"Unknown page {page!r}; pass one of {', '.join(PAGES)}.")
    work = Path(tempfile.mkdtemp(prefix="page-cost-"))
    try:
        with contextlib.ExitStack() as stack:
            urls = {commit: stack.enter_context(served(commit, work)) for commit in commits}
            return asyncio.run(_visits(urls, page, rounds))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.page_cost", description=__doc__)
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--page", default="Data explorer")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for commit, cost in measure(args.commits, page=args.page, rounds=args.rounds).items():
        print(f"{commit}: " + "; ".join(
            f"{kind} {statistics.median(values):.2f} Chromium CPU-s (median of {len(values)}: {values})"
            for kind, values in cost.items()))  # fmt: skip
