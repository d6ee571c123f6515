"""Helpers shared by benchmarks: a seeded cache folder, timing, and the result table."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST_SOURCES = (ROOT.parent / "shared" / "data" / "mnist.npz", ROOT / "cache" / "datasets" / "mnist.npz")


def seeded_cache() -> Path:
    """A fresh cache folder holding mnist.npz, set as ``MNIST_CACHE_DIR``."""
    source = next((p for p in MNIST_SOURCES if p.is_file()), None)
    if source is None:
        raise SystemExit(
            "benchmarks need mnist.npz in ../shared/data or cache/datasets (see README)."
        )
    folder = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    (folder / "datasets").mkdir()
    shutil.copyfile(source, folder / "datasets" / "mnist.npz")
    os.environ["MNIST_CACHE_DIR"] = str(folder)
    return folder


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc, in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_seconds(fn: Callable[[], object], *, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Row:
    what: str
    measured: float | str
    unit: str = "s"
    target: str = ""
    reference: float | None = None  # the plain-library time measured beside it
    reference_name: str = ""

    @property
    def ok(self) -> str:
        if not self.target:
            return ""
        if self.target.startswith("<= ratio"):
            return "yes" if self.measured / self.reference <= float(self.target.split()[-1]) else "NO"
        op, value = self.target.split()
        if isinstance(self.measured, str):
            return "yes" if self.measured == value else "NO"
        checks = {"<": float.__lt__, "<=": float.__le__, ">=": float.__ge__, ">": float.__gt__}
        return "yes" if checks[op](float(self.measured), float(value)) else "NO"


def print_table(rows: list[Row]) -> None:
    header = ("what", "measured", "target", "met", "reference (plain)", "ratio ours/plain")
    lines = [header]
    for r in rows:
        digits = 4 if r.unit == "" else 3
        measured = r.measured if isinstance(r.measured, str) else f"{r.measured:.{digits}f} {r.unit}".strip()
        ref = f"{r.reference:.3f} {r.unit} {r.reference_name}" if r.reference is not None else ""
        ratio = f"{r.measured / r.reference:.2f}" if r.reference and not isinstance(r.measured, str) else ""
        target = (
            f"{r.target} {r.unit}"
            if r.target and not isinstance(r.measured, str) and "ratio" not in r.target
            else r.target
        )
        lines.append((r.what, measured, target, r.ok, ref, ratio))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))
