"""What runs' events say over time: progress of a live run, epoch histories of many runs
as one table, smoothing, and labels that tell runs apart by what differs between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnist_core.runs.store import RunRecord

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Progress:
    """Where a training run is, from its events: epoch and batch, share done, time left."""

    epoch: int
    epochs: int
    batch: int
    steps: int
    fraction: float
    elapsed: float
    seconds_left: float | None


def progress_of(events: list[dict]) -> Progress | None:
    """The run's progress from its events; None before training began."""
    begin = next((e for e in events if e["type"] == "train_begin"), None)
    if begin is None:
        return None
    epochs, steps = begin.get("epochs") or 1, begin.get("steps") or 1
    epoch, batch, elapsed = 1, 0, 0.0
    for event in events:
        if event["type"] == "batch":
            epoch, batch, elapsed = event["epoch"], event["batch"], event["t"]
        elif event["type"] == "epoch":
            epoch, batch, elapsed = event["epoch"], steps, event["t"]
    fraction = min(1.0, ((epoch - 1) * steps + batch) / (epochs * steps))
    left = elapsed * (1 - fraction) / fraction if fraction > 0 else None
    return Progress(epoch, epochs, batch, steps, fraction, elapsed, left)


HISTORY_METRICS = (("loss", "train"), ("accuracy", "train"), ("val_loss", "validation"),
                   ("val_accuracy", "validation"))  # fmt: skip


def history_frame(records: Sequence[RunRecord], *, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Epoch histories of runs as one long table: run, label, epoch, metric, split, value."""
    import pandas as pd

    labels = labels or {}
    rows = []
    for record in records:
        for event in record.events():
            if event["type"] != "epoch":
                continue
            for key, split in HISTORY_METRICS:
                if event.get(key) is not None:
                    rows.append({"run": record.run_id, "label": labels.get(record.run_id, record.name),
                                 "epoch": event["epoch"], "metric": key.removeprefix("val_"),
                                 "split": split, "value": event[key]})  # fmt: skip
    return pd.DataFrame(rows, columns=["run", "label", "epoch", "metric", "split", "value"])


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing; ``weight`` in [0, 1)."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1); got {weight}.")
    out, last, n = [], 0.0, 0
    for value in values:
        n += 1
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**n))
    return out


# How a spec setting reads in a label, most telling first.
_SETTING_NAMES = {
    "train.optimizer": "", "train.learning_rate": "lr ", "train.batch_size": "batch ",
    "train.epochs": "", "train.momentum": "momentum ", "train.nesterov": "Nesterov ",
    "train.validation_split": "val ", "train.seed": "seed ",
}  # fmt: skip


def spec_settings(record: RunRecord) -> dict[str, object]:
    """A run's settings flattened to ``{"train.batch_size": 128, "layer 2.units": 512, ...}``
    (a baseline's: its sample, seed and trees)."""
    if record.spec is None:
        return {f"baseline.{k}": v for k, v in (record.baseline.to_json() if record.baseline else {}).items()}
    spec = record.spec.to_json()
    flat: dict[str, object] = {"layers": len(spec["layers"])}
    for number, layer in enumerate(spec["layers"], start=1):
        for key, value in layer.items():
            flat[f"layer {number}.{key}"] = value
    for key, value in spec["train"].items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"train.{key}.{sub}"] = inner
        else:
            flat[f"train.{key}"] = value if value is not None or key != "learning_rate" else (
                record.spec.train.effective_learning_rate)
    return flat


def distinguishing_labels(records: Sequence[RunRecord], *, max_settings: int = 3) -> dict[str, str]:
    """A label per run: its name, plus the settings that differ among runs of that name
    (``"small_cnn · lr 0.01 · batch 64"``); runs still alike get their run id's tail."""
    by_name: dict[str, list[RunRecord]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    labels = {}
    for name, group in by_name.items():
        if len(group) == 1:
            labels[group[0].run_id] = name
            continue
        settings = [spec_settings(r) for r in group]
        keys = sorted({k for s in settings for k in s})
        differing = [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]
        differing.sort(key=lambda k: (list(_SETTING_NAMES).index(k) if k in _SETTING_NAMES
                                      else len(_SETTING_NAMES), k))  # fmt: skip
        for record, flat in zip(group, settings):
            parts = [name] + [_describe(k, flat.get(k)) for k in differing[:max_settings]]
            labels[record.run_id] = " · ".join(parts)
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label] = seen.get(label, 0) + 1
    return {run_id: (f"{label} · {run_id[-6:]}" if seen[label] > 1 else label)
            for run_id, label in labels.items()}  # fmt: skip


def _describe(key: str, value: object) -> str:
    shown = "—" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    if key in _SETTING_NAMES:
        prefix = _SETTING_NAMES[key]
        if key == "train.epochs":
            return f"{shown} epochs"
        return f"{prefix}{shown}".strip()
    return f"{key.removeprefix('train.').replace('.', ' ')} {shown}"
