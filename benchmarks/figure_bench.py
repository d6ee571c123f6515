"""What each figure of the Data and Embeddings pages costs the browser (issue 13, target 6).

Each figure is written to an HTML page with plotly.js (the same library Streamlit draws
with), opened in a new tab of one otherwise idle headless Chromium (software GL, as on the
test machine), and measured from navigation to 2 s after the chart is drawn: the CPU time
of all Chromium processes (from /proc) and the renderer main thread's busy time (DevTools
``Performance.getMetrics`` TaskDuration); median of 3. An empty figure is measured too: its
cost is plotly.js itself, the same on every page.

These are CPU seconds, independent of the machine's load: 8 sessions on 2 cores need about
4 x the sum of a page's figures per visit. Run: ``python -m benchmarks.figure_bench``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from benchmarks.common import Row, seeded_cache

SETTLE_MS = 2_000


def _figures() -> dict[str, go.Figure]:
    from mnist_core.data import load_dataset, stats
    from mnist_core.figures import data, digits, embeddings, raster

    d = load_dataset("mnist")
    names = tuple(d.class_names)
    pixel = stats.pixel_stats(d.x_train, d.y_train, n_classes=d.n_classes)
    x = np.concatenate([d.x_train, d.x_test]).reshape(70_000, -1).astype(np.float32)
    y = np.concatenate([d.y_train, d.y_test])
    x -= x.mean(axis=0)
    _, vectors = np.linalg.eigh(x.T @ x)
    xy = x @ vectors[:, ::-1][:, :2]
    idx = np.arange(100)
    figs = {
        "empty figure (plotly.js itself)": go.Figure(),
        "class balance": data.class_balance_figure(
            stats.class_balance(d.y_train, d.y_test, class_names=names)),
        "digit grid 10 x 10": digits.grid_figure(d.x_train[idx], d.y_train[idx], idx,
                                                 class_names=names, columns=10, selected=0),
        "pixel values of one digit": digits.pixels_figure(d.x_train[0], title="Pixel values"),
        "pixel statistics (3 x 11)": data.pixel_stats_figure(pixel, class_names=names),
        "embedding scatter, 70,000 points": embeddings.scatter_figure(
            xy[:, 0], xy[:, 1], y, np.arange(70_000), class_names=names),
        # What the Embeddings page draws since 2026-11-22: one PNG and an invisible hover grid.
        "embedding raster, 70,000 points (with its hover grid)": raster.raster_scatter_figure(
            xy[:, 0], xy[:, 1], y, np.arange(70_000), class_names=names),
        "embedding raster, 70,000 points, no hover grid": raster.raster_scatter_figure(
            xy[:, 0], xy[:, 1], y, np.arange(70_000), class_names=names, hover=False),
    }
    return figs


async def _cost(paths: dict[str, Path], repeat: int) -> dict[str, dict[str, float]]:
    from playwright.async_api import async_playwright

    from benchmarks.load_bench import chromium_cpu, chromium_cpu_since
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    out: dict[str, dict[str, float]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        warm = await context.new_page()  # plotly.js compiled into the browser's code cache
        await warm.goto(next(iter(paths.values())).as_uri())
        for name, path in paths.items():
            cpu, task = [], []
            for _ in range(repeat):
                tab = await context.new_page()
                cdp = await context.new_cdp_session(tab)
                await cdp.send("Performance.enable")
                before = chromium_cpu()
                await tab.goto(path.as_uri(), timeout=180_000)
                await tab.wait_for_function("window.drawn === true", timeout=180_000)
                await tab.wait_for_timeout(SETTLE_MS)
                cpu.append(chromium_cpu_since(before))
                metrics = {m["name"]: m["value"] for m in
                           (await cdp.send("Performance.getMetrics"))["metrics"]}  # fmt: skip
                task.append(metrics.get("TaskDuration", 0.0))
                await tab.close()
            out[name] = {"chromium_cpu_s": statistics.median(cpu), "main_thread_s": statistics.median(task)}
        await browser.close()
    return out


def measure(figs: dict[str, go.Figure], *, repeat: int = 3) -> dict[str, dict[str, float]]:
    folder = Path(tempfile.mkdtemp(prefix="figure-bench-"))
    from plotly.offline import get_plotlyjs

    (folder / "plotly.min.js").write_text(get_plotlyjs())
    paths = {}
    for i, (name, fig) in enumerate(figs.items()):
        path = folder / f"figure{i}.html"
        path.write_text(
            '<html><head><script src="plotly.min.js"></script></head><body><div id="f"></div>'
            f"<script>const fig = {fig.to_json()};"
            "Plotly.newPlot('f', fig.data, fig.layout).then(() => { window.drawn = true; });"
            "</script></body></html>"
        )
        paths[name] = path
    return asyncio.run(_cost(paths, repeat))


def run(*, quick: bool = False) -> list[Row]:
    import os

    if not os.environ.get("MNIST_CACHE_DIR"):
        seeded_cache()
    got = measure(_figures(), repeat=1 if quick else 3)
    print(json.dumps(got), file=sys.stderr)
    rows = []
    for name, cost in got.items():
        rows.append(Row(f"figure in Chromium, CPU all processes: {name}", round(cost["chromium_cpu_s"], 2), "s"))
        rows.append(Row("  of which renderer main thread busy", round(cost["main_thread_s"], 2), "s"))
    rows.append(Row("load average (1 min) at the end", round(os.getloadavg()[0], 2), ""))
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row.what}: {row.measured} {row.unit}")
