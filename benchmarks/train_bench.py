"""Training runs on full MNIST (issue: model builder and live training).

- The same preset trained by our worker (Keras backend auto) and by the tutorial's bare
  ``model.fit`` on TensorFlow, each in a fresh process: wall-time ratio of the ``fit`` calls
  <= 0.6 for dense presets, <= 1.0 for convolutional ones, at the same test accuracy
  (:mod:`benchmarks.backend_bench`; ``--quick``: dense512 only).
- An epoch's metrics appear on the page <= 2 s after the epoch ends (Chromium, measured).
- The Streamlit server's memory stays < 600 MB while a run trains.
- Test accuracy: dense 512 >= 97.4 %, tuned MLP >= 98.2 %, Keras CNN >= 99.0 %.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

from benchmarks.common import ROOT, Row

ACCURACY_TARGETS = {"dense512": 0.974, "tuned_mlp": 0.982, "keras_cnn": 0.990}


def _train_cli(preset: str, epochs: int | None = None) -> dict:
    args = [sys.executable, "-m", "mnist_core", "train", "--preset", preset, "--dataset", "mnist"]
    if epochs:
        args += ["--epochs", str(epochs)]
    result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=7200, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_accuracy(preset: str) -> Row:
    return _accuracy_row(preset, _train_cli(preset))


def _accuracy_row(preset: str, result: dict) -> Row:
    return Row(f"test accuracy, {preset} ({result['epochs_run']} epochs, {result['seconds']:.0f} s)",
               result["test_accuracy"], unit="", target=f">= {ACCURACY_TARGETS[preset]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_live_page(epochs: int = 3) -> list[Row]:
    """Train ff64 from the builder in Chromium; time from each epoch's end (the worker's
    clock) to the page showing it, and the server's memory meanwhile."""
    from playwright.sync_api import sync_playwright

    from mnist_core import runs
    from mnist_core.models import PRESETS, with_train

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    latencies, rss = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            spec = with_train(PRESETS["ff64"].spec, epochs=epochs).to_url()
            page.goto(f"{url}/builder?dataset=mnist&spec={spec}")
            page.get_by_text("Total parameters").wait_for(timeout=60_000)
            page.get_by_role("button", name="Train").click()
            page.get_by_role("heading", name="Training run").wait_for(timeout=60_000)
            run_id = None
            seen: dict[int, float] = {}
            deadline = time.time() + 600
            while time.time() < deadline:
                text = page.inner_text("body")
                now = time.time()
                rss.append(_rss_mb(server.pid))
                match = re.search(r"Run (\d{8}-\d{6}-[0-9a-f]{4,6})", text)
                run_id = run_id or (match.group(1) if match else None)
                progress = re.search(r"epoch (\d+)/\d+ · batch (\d+)/(\d+)", text)
                if progress:
                    epoch, batch, steps = map(int, progress.groups())
                    done_epochs = epoch if batch == steps else epoch - 1
                    for e in range(1, done_epochs + 1):
                        seen.setdefault(e, now)
                if run_id and not runs.read_status(runs.open_run(run_id).directory).active:
                    break
                time.sleep(0.05)
            browser.close()
        events = [e for e in runs.open_run(run_id).events() if e["type"] == "epoch"]
        latencies = [seen[e["epoch"]] - e["at"] for e in events if e["epoch"] in seen]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [
        Row(f"epoch metrics on the page after the epoch ends (worst of {len(latencies)})",
            max(latencies) if latencies else float("nan"), target="<= 2"),
        Row("Streamlit server memory while a run trains (peak RSS)", max(rss), unit="MB",
            target="< 600"),
    ]


def run(*, quick: bool = False) -> list[Row]:
    from benchmarks import backend_bench

    rows = [*backend_bench.run(quick=quick), *bench_live_page(epochs=2 if quick else 3)]
    if not quick:
        rows += [bench_accuracy(p) for p in ACCURACY_TARGETS if p != "dense512"]
    return rows
