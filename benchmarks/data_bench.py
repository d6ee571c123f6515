"""Datasets layer and Data explorer page on full MNIST (issue: foundation).

Targets: load from cache < 0.5 s; pixel statistics of 60,000 images < 1.5 s; the Data page
renders on the server < 2 s warm; the server process never imports tensorflow or umap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from benchmarks.common import ROOT, Row, median_seconds

APP = str(ROOT / "app" / "streamlit_app.py")


def bench_load(cache) -> Row:
    from mnist_core.data import load_dataset

    def plain():
        with np.load(cache / "datasets" / "mnist.npz") as f:
            [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]

    ours = median_seconds(lambda: load_dataset("mnist"), repeat=5)
    return Row("load mnist from cache", ours, target="< 0.5",
               reference=median_seconds(plain, repeat=5), reference_name="np.load")


def bench_pixel_stats() -> Row:
    from mnist_core.data import load_dataset
    from mnist_core.data.stats import pixel_stats

    d = load_dataset("mnist")

    def plain():  # what one would write with NumPy alone
        for c in range(10):
            members = d.x_train[d.y_train == c]
            members.mean(axis=0), np.median(members, axis=0), members.std(axis=0)
        d.x_train.mean(axis=0), np.median(d.x_train, axis=0), d.x_train.std(axis=0)

    ours = median_seconds(lambda: pixel_stats(d.x_train, d.y_train, n_classes=10), repeat=3)
    return Row("pixel mean/median/sd, 60,000 images, per class + all", ours, target="< 1.5",
               reference=median_seconds(plain, repeat=1), reference_name="numpy per class")


_SERVER_SCRIPT = textwrap.dedent(
    """
    import json, re, statistics, sys, time
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(sys.argv[1], default_timeout=300)
    start = time.perf_counter(); at.run(); cold = time.perf_counter() - start
    warm = []
    for _ in range(5):
        start = time.perf_counter(); at.run(); warm.append(time.perf_counter() - start)
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "umap", "torch"})
    print(json.dumps({
        "exceptions": [e.value for e in at.exception],
        "cold": cold, "warm": statistics.median(warm), "heavy": heavy,
        # VmHWM, this process's own peak (ru_maxrss keeps the parent's across exec)
        "rss_mb": int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) / 1024,
    }))
    """
)


def bench_server() -> list[Row]:
    result = subprocess.run(
        [sys.executable, "-c", _SERVER_SCRIPT, APP],
        capture_output=True, text=True, cwd=ROOT, timeout=900, check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["exceptions"]:
        raise SystemExit(f"the Data page raised: {report['exceptions']}")
    return [
        Row("Data page server render, cold (first visit)", report["cold"]),
        Row("Data page server render, warm", report["warm"], target="< 2"),
        Row("server process: tensorflow/keras/umap imported", ", ".join(report["heavy"]) or "none",
            unit="", target="= none"),
        Row("server process peak memory after the Data page", report["rss_mb"], unit="MB"),
    ]


def run() -> list[Row]:
    from mnist_core.paths import cache_dir

    return [bench_load(cache_dir()), bench_pixel_stats(), *bench_server()]
