"""What a trial's runs measured: each run's best epoch on the objective, and the mean ± sd
over a trial's repeats.

A run's objective value is its *best* epoch's (the lowest validation loss, or the highest
validation accuracy), not its last: a trial is judged by what it reached.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from mnist_core.runs import RunRecord

__all__ = ["RunResult", "curve", "mean_sd", "run_result"]


@dataclass(frozen=True)
class RunResult:
    """One run of a trial: its state, the best epoch on the objective and that epoch's
    validation loss and accuracy, the objective value there, epochs run, training seconds,
    and the run's sentence when it did not finish well."""

    run_id: str
    state: str
    best_epoch: int | None = None
    value: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    epochs_run: int = 0
    seconds: float | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RunResult:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


def _better(objective: str, a: float, b: float) -> bool:
    return a < b if objective == "val_loss" else a > b


def curve(events: list[dict], objective: str) -> dict[int, float]:
    """The objective at each epoch that measured it: ``{epoch: value}``."""
    values = {}
    for event in events:
        value = event.get(objective)
        if event.get("type") == "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
            values[int(event["epoch"])] = float(value)
    return values


def run_result(record: RunRecord, objective: str, *, events: list[dict] | None = None) -> RunResult:
    """The best epoch of ``record`` on ``objective`` (so far, for a live run)."""
    events = record.events() if events is None else events
    epochs = [e for e in events if e.get("type") == "epoch"]
    best = None
    for event in epochs:
        value = event.get(objective)
        known = isinstance(value, (int, float)) and math.isfinite(value)
        if known and (best is None or _better(objective, value, best[objective])):
            best = event
    summary = record.summary
    seconds = summary.wall_seconds if summary and summary.wall_seconds is not None else (
        epochs[-1]["t"] if epochs else None)  # fmt: skip
    return RunResult(
        record.run_id, record.state,
        best_epoch=int(best["epoch"]) if best else None,
        value=float(best[objective]) if best else None,
        val_loss=best.get("val_loss") if best else None,
        val_accuracy=best.get("val_accuracy") if best else None,
        epochs_run=len(epochs), seconds=seconds, error=record.status.error,
    )  # fmt: skip


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n − 1) of the values that are known; sd None
    with fewer than two, both None with none."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return None, None
    mean = statistics.fmean(known)
    return mean, statistics.stdev(known) if len(known) > 1 else None
