"""The evaluation figures: the confusion matrix and its click decoder, mismatches, top-k."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import figures

NAMES = ("zero", "one", "two")
MATRIX = np.array([[50, 2, 0], [3, 40, 7], [0, 1, 60]])


def _click(fig, trace: int, index: int) -> dict:
    custom = np.asarray(fig.data[trace].customdata)[index].tolist()
    # plotly.js reports customdata of a 2-D array as a list; some traces send a dict.
    return {"selection": {"points": [{"curve_number": trace, "point_index": index,
                                      "point_number": index, "customdata": custom}]}}  # fmt: skip


def test_confusion_cells_show_counts_and_shares():
    shares = MATRIX / MATRIX.sum(axis=1, keepdims=True)
    fig = figures.evaluation.confusion_figure(MATRIX, class_names=NAMES, normalized=shares)
    diagonal, errors = fig.data[0], fig.data[1]
    assert diagonal.text[1][2] == "7<br>14.0%"
    assert np.isnan(np.asarray(diagonal.z, float)[1, 2]) and np.asarray(errors.z)[1, 2] == shares[1, 2]
    assert fig.layout.xaxis.automargin and fig.layout.yaxis.automargin  # labels never cut off
    assert fig.layout.xaxis.tickfont.size >= 11 and diagonal.textfont.size >= 11


@pytest.mark.parametrize("cell", [(0, 0), (1, 2), (2, 1)])
def test_clicked_cell_reads_true_and_predicted(cell):
    fig = figures.evaluation.confusion_figure(MATRIX, class_names=NAMES)
    trace = next(i for i, t in enumerate(fig.data) if t.customdata is not None)
    index = cell[0] * 3 + cell[1]
    state = _click(fig, trace, index)
    assert figures.evaluation.clicked_cell(state) == cell
    # The hover of that point names the same cell.
    assert (fig.data[trace].y[index], fig.data[trace].x[index]) == (NAMES[cell[0]], NAMES[cell[1]])
    as_dict = {"selection": {"points": [{**state["selection"]["points"][0],
               "customdata": {"0": cell[0], "1": cell[1], "2": int(MATRIX[cell])}}]}}  # fmt: skip
    assert figures.evaluation.clicked_cell(as_dict) == cell


def test_clicked_cell_ignores_other_traces_and_no_selection():
    fig = figures.evaluation.confusion_figure(MATRIX, class_names=NAMES)
    assert figures.evaluation.clicked_cell(None) is None
    assert figures.evaluation.clicked_cell({"selection": {"points": [
        {"curve_number": 0, "point_index": 1, "customdata": [0, 1]}]}}) is None  # fmt: skip
    selected = figures.evaluation.confusion_figure(MATRIX, class_names=NAMES, selected=(1, 2))
    (outline,) = selected.layout.shapes
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (1.5, 2.5, 0.5, 1.5)
    assert len(fig.layout.shapes) == 0


def test_mismatch_bubbles_are_the_off_diagonal_counts():
    fig = figures.evaluation.mismatch_figure(MATRIX, class_names=NAMES)
    (bubbles,) = fig.data
    pairs = sorted(zip(bubbles.y, bubbles.x, bubbles.text))
    assert pairs == [("one", "two", "7"), ("one", "zero", "3"), ("two", "one", "1"),
                     ("zero", "one", "2")]  # fmt: skip
    assert bubbles.textfont.size >= 11


def test_top_probabilities_lists_the_most_probable_first():
    fig = figures.evaluation.top_probabilities_figure(np.array([0.1, 0.7, 0.2]), class_names=NAMES, top=2)
    (bars,) = fig.data
    assert list(bars.y) == ["one", "two"] and list(bars.text) == ["70.0%", "20.0%"]
    assert bars.cliponaxis is False
