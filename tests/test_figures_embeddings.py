"""The embedding figures: traces per class, the selection read back (points and outlines),
outlines written into a URL and read again, a kept selection drawn."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import figures

E = figures.embeddings


def test_selection_shapes_reads_boxes_and_lassos_as_streamlit_sends_them():
    state = {"selection": {"points": [], "point_indices": [],
                           "box": [{"xref": "x", "yref": "y", "x": [1, 3], "y": [2, 0]}],
                           "lasso": [{"xref": "x", "yref": "y", "x": [0, 1, 1], "y": [0, 0, 1]}]}}  # fmt: skip
    assert E.selection_shapes(state) == [
        {"kind": "box", "x": [1.0, 3.0], "y": [2.0, 0.0]},
        {"kind": "lasso", "x": [0.0, 1.0, 1.0], "y": [0.0, 0.0, 1.0]},
    ]
    assert E.selection_shapes(None) == [] and E.selection_shapes({"selection": {}}) == []


def test_rows_in_shapes_box_edges_and_a_concave_lasso():
    x = np.array([0.0, 1.0, 2.0, 1.0, 1.0, 3.0])
    y = np.array([0.0, 1.0, 2.0, 3.0, 1.9, 1.0])
    assert E.rows_in_shapes(x, y, [{"kind": "box", "x": [2, 0], "y": [0, 2]}]).tolist() == [0, 1, 2, 4]
    # A "U": the notch between its arms (x in 0.8..1.2, y above 1) is outside.
    u = {"kind": "lasso", "x": [-0.5, 3.5, 3.5, 1.2, 1.2, 0.8, 0.8, -0.5],
         "y": [-0.5, -0.5, 2.5, 2.5, 1.5, 1.5, 2.5, 2.5]}  # fmt: skip
    assert E.rows_in_shapes(x, y, [u]).tolist() == [0, 1, 2, 5]
    both = E.rows_in_shapes(x, y, [u, {"kind": "box", "x": [0.9, 1.1], "y": [2.9, 3.1]}])
    assert both.tolist() == [0, 1, 2, 3, 5]


def test_shapes_survive_the_url_codec_and_long_lassos_are_thinned():
    angles = np.linspace(0, 2 * np.pi, 500, endpoint=False)
    circle = {"kind": "lasso", "x": list(10 * np.cos(angles)), "y": list(10 * np.sin(angles))}
    box = {"kind": "box", "x": [-1.23456, 2.5], "y": [0.001234, 7.0]}
    text = E.shapes_to_text([box, circle])
    assert len(text) < 800
    box_back, circle_back = E.shapes_from_text(text)
    assert box_back == {"kind": "box", "x": [-1.235, 2.5], "y": [0.001234, 7.0]}
    assert len(circle_back["x"]) == 40
    rng = np.random.default_rng(0)
    px, py = rng.uniform(-12, 12, 2000), rng.uniform(-12, 12, 2000)
    exact = set(E.rows_in_shapes(px, py, [circle]).tolist())
    thinned = set(E.rows_in_shapes(px, py, [circle_back]).tolist())
    assert len(exact ^ thinned) <= 0.02 * len(exact)  # a 40-gon differs only at the rim


@pytest.mark.parametrize("text, message", [
    ("q:1,2", "The selection 'q:1,2' is neither a box (b:x0,x1,y0,y1) nor a lasso (l:x,y;x,y;x,y...)."),
    ("b:1,2,3", "The selection 'b:1,2,3' is neither a box (b:x0,x1,y0,y1) nor a lasso (l:x,y;x,y;x,y...)."),
    ("l:1,2;3,4", "The selection 'l:1,2;3,4' is neither a box (b:x0,x1,y0,y1) nor a lasso (l:x,y;x,y;x,y...)."),
    ("b:1,nan,0,1", "The selection in the link has a coordinate that is not a finite number."),
])  # fmt: skip
def test_shapes_from_text_refuses_anything_else_in_one_sentence(text, message):
    with pytest.raises(ValueError) as info:
        E.shapes_from_text(text)
    assert str(info.value) == message


def test_scatter_draws_a_kept_selection_and_its_outline():
    labels = np.array([2, 0, 2, 1, 0])
    lasso = {"kind": "lasso", "x": [0, 4, 4], "y": [0, 0, 4]}
    fig = E.scatter_figure(np.arange(5.0), np.arange(5.0), labels, np.arange(5),
                           class_names=("a", "b", "c"), selected=np.array([0, 4]),
                           outlines=[lasso])  # fmt: skip
    # Trace 0 holds rows 1 and 4 (label 0), trace 2 rows 0 and 2: rows 0 and 4 are the
    # second point of trace 0 and the first of trace 2.
    assert [list(t.selectedpoints) for t in fig.data] == [[1], [], [0]]
    (shape,) = fig.layout.shapes
    assert shape.type == "path" and shape.path == "M0,0L4,0L4,4Z"
    plain = E.scatter_figure(np.arange(5.0), np.arange(5.0), labels, np.arange(5), class_names=("a", "b", "c"))
    assert all(t.selectedpoints is None for t in plain.data) and not plain.layout.shapes


def test_scatter_legend_sits_below_the_toolbar():
    fig = E.scatter_figure(np.arange(3.0), np.arange(3.0), np.array([0, 1, 0]), np.arange(3),
                           class_names=("a", "b"))  # fmt: skip
    # The toolbar floats in the top margin; the legend starts at the plot's top edge.
    assert fig.layout.margin.t >= 40
    assert (fig.layout.legend.y, fig.layout.legend.yanchor) == (1, "top")


def test_components_are_one_heat_map_with_each_real_weight():
    rng = np.random.default_rng(0)
    components = rng.normal(size=(12, 6 * 5))
    fig = figures.embeddings.components_figure(components, (6, 5), n=4)
    (heatmap,) = fig.data
    z = np.asarray(heatmap.z, dtype=float)
    assert z.shape == (6, 4 * 5 + 3)
    for i in range(4):
        np.testing.assert_allclose(z[:, i * 6: i * 6 + 5], components[i].reshape(6, 5))
    assert np.isnan(z[:, 5]).all()
    limit = np.abs(components[:4]).max()
    assert (heatmap.zmin, heatmap.zmax) == (-limit, limit)
    assert heatmap.x[6 + 2] == "PC2 · column 2" and heatmap.y[3] == "row 3"
    assert [a.text for a in fig.layout.annotations] == ["PC1", "PC2", "PC3", "PC4"]
