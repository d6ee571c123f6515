"""The figures comparing runs: overlay (smoothed by the caller), accuracy against time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mnist_core import figures


def _history() -> pd.DataFrame:
    rows = []
    for run, offset in (("r1", 0.0), ("r2", 0.1)):
        for epoch in (1, 2, 3):
            rows.append({"run": run, "epoch": epoch, "metric": "loss", "split": "train",
                         "value": 1.0 / epoch + offset})  # fmt: skip
            rows.append({"run": run, "epoch": epoch, "metric": "accuracy", "split": "validation",
                         "value": 0.8 + 0.05 * epoch - offset})  # fmt: skip
    return pd.DataFrame(rows)


def test_overlay_names_runs_by_label_and_draws_given_values():
    history = _history().assign(label=lambda f: f["run"].map({"r1": "cnn · lr 0.01", "r2": "cnn · lr 0.1"}))
    fig = figures.runs.overlay_figure(history)
    names = [t.name for t in fig.data if t.showlegend]
    assert names == ["cnn · lr 0.01 · train", "cnn · lr 0.1 · train"]
    loss_r1 = next(t for t in fig.data if t.name == "cnn · lr 0.01 · train")
    np.testing.assert_allclose(loss_r1.y, [1.0, 0.5, 1 / 3])
    assert fig.layout.yaxis2.tickformat == ".1~%" and fig.layout.yaxis.tickformat == "~g"


def test_overlay_draws_the_callers_smoothing_with_the_raw_curve_behind():
    history = _history()
    history["smoothed"] = history["value"] * 0 + 0.5
    fig = figures.runs.overlay_figure(history)
    r1_loss = [t for t in fig.data if t.line.color == fig.data[0].line.color and t.xaxis == "x"]
    raw, smooth = r1_loss
    assert raw.opacity == 0.25 and raw.hoverinfo == "skip"
    np.testing.assert_allclose(raw.y, [1.0, 0.5, 1 / 3])
    np.testing.assert_allclose(smooth.y, [0.5, 0.5, 0.5])
    assert smooth.name == "r1 · train"  # no label column: the run id


def test_tradeoff_reads_seconds_and_names_runs_in_the_legend_not_on_the_points():
    table = pd.DataFrame({
        "run": ["a", "b", "c"], "seconds": [20.0, 30.0, None], "test accuracy": [97.1, 98.4, 99.0],
        "label": ["random forest · 500 trees", "small_cnn · lr 0.05", "unfinished"],
    })  # fmt: skip
    fig = figures.runs.tradeoff_figure(table)
    assert [t.name for t in fig.data] == ["random forest · 500 trees", "small_cnn · lr 0.05"]
    assert all(t.mode == "markers" and t.text is None for t in fig.data)  # nothing to clip
    x = fig.layout.xaxis
    # Log axis with whole numbers: plotly writes "20 s", "30 s", never "2", "3".
    assert (x.type, x.tickformat, x.ticksuffix) == ("log", "~g", " s")
    assert fig.layout.legend.orientation == "h"
