"""A study's figures from frames shaped like ``StudyRecord.trials_frame()``: the values land
where they belong, axes read as numbers, pruned trials are marked, the best is bright."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mnist_core import figures
from mnist_core.figures.studies import PRUNED_COLOR

S = figures.studies


def _trials() -> pd.DataFrame:
    """Five trials over a log-spaced learning rate and an optimizer: three complete, one
    pruned, one still running (no objective yet)."""
    return pd.DataFrame({
        "trial": [0, 1, 2, 3, 4],
        "state": ["complete", "complete", "pruned", "complete", "running"],
        "learning_rate": [1e-4, 1e-3, 1e-2, 1e-1, 1e-3],
        "optimizer": ["adam", "sgd", "adam", "sgd", "adam"],
        "objective": [0.80, 0.95, 0.40, 0.90, None],
        "sd": [0.01, 0.02, None, None, None],
        "repeats": [2, 2, 1, 1, 0],
    })  # fmt: skip


def test_parallel_coordinates_take_complete_trials_with_log_and_category_axes():
    fig = S.parallel_figure(_trials(), params=["learning_rate", "optimizer"], objective="val_accuracy")
    (parcoords,) = fig.data
    lr, optimizer, objective = parcoords.dimensions
    # Complete trials only (0, 1, 3): the pruned and running ones are left out.
    assert lr.label == "learning_rate (log)"
    np.testing.assert_allclose(lr.values, [-4, -3, -1])
    assert list(lr.ticktext) == ["0.0001", "0.001", "0.1"]
    np.testing.assert_allclose(lr.tickvals, [-4, -3, -1])
    assert list(optimizer.ticktext) == ["adam", "sgd"] and list(optimizer.values) == [0, 1, 1]
    assert objective.label == "validation accuracy (%)"
    np.testing.assert_allclose(objective.values, [80, 95, 90])
    np.testing.assert_allclose(parcoords.line.color, [80, 95, 90])
    assert parcoords.line.reversescale is False and parcoords.line.showscale is False
    assert parcoords.labelfont.size >= 12 and parcoords.tickfont.size >= 12


def test_parallel_coordinates_of_a_loss_reverse_the_colours_and_pad_a_single_value():
    trials = _trials().assign(objective=[0.5, 0.2, 1.0, 0.3, None], batch=[32, 32, 32, 32, 32])
    fig = S.parallel_figure(trials, params=["batch"], objective="val_loss")
    batch, objective = fig.data[0].dimensions
    assert batch.label == "batch" and list(batch.range) == [16.0, 48.0]  # one value, centred
    np.testing.assert_allclose(objective.values, [0.5, 0.2, 0.3])
    assert fig.data[0].line.reversescale is True  # low loss bright


def test_best_so_far_steps_through_complete_trials_and_crosses_out_pruned_ones():
    points = pd.DataFrame({"trial": [0, 1, 2, 3], "minutes": [0.5, 1.0, 1.5, 2.0],
                           "objective": [0.80, 0.75, 0.40, 0.90],
                           "state": ["complete", "complete", "pruned", "complete"]})  # fmt: skip
    fig = S.best_so_far_figure(points, objective="val_accuracy")
    best, complete, pruned = fig.data
    assert best.name == "best so far" and best.line.shape == "hv"
    np.testing.assert_allclose(best.y, [0.80, 0.80, 0.90])
    np.testing.assert_allclose(complete.x, [0.5, 1.0, 2.0])
    assert (pruned.marker.symbol, pruned.marker.color, list(pruned.customdata)) == ("x", PRUNED_COLOR, [2])
    assert fig.layout.yaxis.tickformat == ".1~%" and fig.layout.xaxis.tickformat == "~g"
    loss = S.best_so_far_figure(points.assign(objective=[0.5, 0.7, 1.2, 0.3]), objective="val_loss")
    np.testing.assert_allclose(loss.data[0].y, [0.5, 0.5, 0.3])
    # A pruned trial ended last: the best so far holds until then.
    later = S.best_so_far_figure(points.assign(minutes=[0.5, 1.0, 3.0, 2.0]), objective="val_accuracy")
    np.testing.assert_allclose(later.data[0].x, [0.5, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(later.data[0].y, [0.80, 0.80, 0.90, 0.90])
    assert loss.layout.yaxis.tickformat == "~g"


def test_importance_bars_put_the_largest_on_top_with_readable_shares():
    fig = S.importance_figure({"learning_rate": 0.7, "batch_size": 0.2, "optimizer": 0.1})
    (bars,) = fig.data
    assert list(bars.y) == ["optimizer", "batch_size", "learning_rate"]  # plotly draws bottom up
    np.testing.assert_allclose(bars.x, [0.1, 0.2, 0.7])
    assert list(bars.text) == ["10%", "20%", "70%"]
    assert fig.layout.xaxis.tickformat == ".0%" and fig.layout.height == 240


def _curves() -> pd.DataFrame:
    rows = []
    for trial, state, values in ((0, "complete", [0.5, 0.7, 0.8]), (1, "pruned", [0.3, 0.35])):
        for repeat in (1, 2):
            rows += [{"trial": trial, "repeat": repeat, "epoch": e, "value": v - 0.01 * repeat,
                      "state": state} for e, v in enumerate(values, start=1)]  # fmt: skip
    return pd.DataFrame(rows)


def test_curves_draw_every_repeat_in_its_trials_colour_and_mark_pruned_trials():
    fig = S.curves_figure(_curves(), objective="val_accuracy", labels={0: "trial 0: lr 0.01"}, best=0)
    assert len(fig.data) == 4  # two trials × two repeats
    first, second, pruned, _ = fig.data
    assert first.line.color == second.line.color and first.line.color != pruned.line.color
    assert (first.showlegend, second.showlegend) == (True, False)  # one legend entry a trial
    assert first.name == "trial 0: lr 0.01" and first.line.width == 4  # the best: thicker
    np.testing.assert_allclose(first.y, [0.49, 0.69, 0.79])
    assert pruned.name == "trial 1 (pruned)" and pruned.line.dash == "dot"
    assert list(pruned.marker.symbol) == ["circle", "x"]  # a cross where it was stopped
    assert fig.layout.xaxis.dtick == 1 and fig.layout.yaxis.tickformat == ".1~%"


def test_curves_of_many_trials_name_them_on_hover_only():
    rows = [{"trial": t, "repeat": 1, "epoch": 1, "value": 0.1 * (t % 10), "state": "complete"}
            for t in range(S.MAX_LEGEND + 1)]  # fmt: skip
    fig = S.curves_figure(pd.DataFrame(rows), objective="val_loss")
    assert not any(trace.showlegend for trace in fig.data)
    assert "trial 20" in fig.data[20].hovertemplate


def test_repeats_show_mean_with_sd_error_bars_of_complete_trials():
    fig = S.repeats_figure(_trials(), params=["learning_rate", "optimizer"], objective="val_accuracy")
    (points,) = fig.data
    assert list(points.x) == ["trial 0", "trial 1", "trial 3"]
    np.testing.assert_allclose(points.y, [0.80, 0.95, 0.90])
    np.testing.assert_allclose(points.error_y.array, [0.01, 0.02, 0.0])
    assert list(points.customdata[0]) == ["learning_rate 0.0001 · optimizer adam", 2, 0.01]
    assert fig.layout.yaxis.title.text == "validation accuracy, mean ± sd"


def test_grid_heat_map_places_each_cell_and_says_how_cells_without_a_result_stand():
    trials = pd.DataFrame({
        "state": ["complete"] * 5 + ["pruned"],
        "layer 2.units": [128, 256, 128, 256, 512, 512],
        "hidden_dense_layers": [1, 1, 2, 2, 1, 2],
        "objective": [0.90, 0.92, 0.91, 0.95, 0.93, 0.50],
    })  # fmt: skip
    fig = S.grid_heatmap_figure(trials, x="layer 2.units", y="hidden_dense_layers",
                                objective="val_accuracy")  # fmt: skip
    (heat,) = fig.data
    assert list(heat.x) == ["128", "256", "512"] and list(heat.y) == ["1", "2"]
    z = np.asarray(heat.z, dtype=float)
    np.testing.assert_allclose(z[0], [90, 92, 93])
    np.testing.assert_allclose(z[1, :2], [91, 95])
    assert math.isnan(z[1, 2])  # 512 × 2 was pruned: no result, no colour
    assert [list(row) for row in heat.text] == [["90.00 %", "92.00 %", "93.00 %"],
                                                ["91.00 %", "95.00 %", "pruned"]]
    assert heat.reversescale is False


def test_grid_heat_map_keeps_a_row_whose_trials_all_were_pruned():
    trials = pd.DataFrame({"state": ["complete", "pruned", "pruned"],
                           "optimizer": ["adam", "adam", "sgd"], "lr": [0.1, 0.01, 0.1],
                           "objective": [0.4, 0.9, None]})  # fmt: skip
    fig = S.grid_heatmap_figure(trials, x="optimizer", y="lr", objective="val_loss")
    (heat,) = fig.data
    assert list(heat.x) == ["adam", "sgd"] and list(heat.y) == ["0.01", "0.1"]
    assert [list(row) for row in heat.text] == [["pruned", ""], ["0.4000", "pruned"]]
    assert heat.reversescale is True  # low loss bright


@pytest.mark.parametrize("value, text", [(0.001, "0.001"), (1e-5, "1e-05"), (128, "128"),
                                         (True, "true"), ("adam", "adam"), (0.123456, "0.1235")])
def test_params_text_writes_values_as_people_read_them(value, text):
    assert S.params_text({"p": value, "q": 2}, ["p", "q"]) == f"p {text} · q 2"
