"""Inside the model: one run's model at work, served by onnxruntime (never TensorFlow).

The run picker; draw a digit and see what the model sees, its answer and the nearest
training digits; one digit (the drawing, or any test or training digit: ``?source=&index=``)
layer by layer with an occlusion saliency map; the first layer's weights; the model's map of
the test set beside the raw-pixel one (a background job), a lasso showing its digits; the
run as a Python or R script and predictions for a Kaggle test.csv. A run without its ONNX export
gets it from a background job first, its progress shown.
"""

from __future__ import annotations

import streamlit as st

from app import inside_state
from app.inside_draw import draw_section
from app.inside_export import code_section, kaggle_section
from app.inside_layers import layers_section, weights_section
from app.inside_map import map_section
from app.sidebar import ActiveDataset, active_dataset
from app.text import plain
from mnist_core import inside, runs


def render(active: ActiveDataset) -> None:
    st.title("Inside the model")
    evaluated = [r for r in runs.list_runs() if r.evaluated]
    if not evaluated:
        st.info("No finished run yet: train one on the Model builder page.")
        return
    record = inside_state.run_picker(evaluated, active.dataset)
    if inside_state.wait_until_ready(record) is None:
        return
    dataset = inside_state.run_dataset(record)
    model = inside_state.open_model(record) if dataset is not None else None
    if model is None:
        return
    about = model.description.source
    st.caption(f"{model.params:,} parameters · {len(model.shown_layers)} layers · "
               f"{model.image_shape[0]}×{model.image_shape[1]} digits"
               + (f" · {plain(about)}" if about else "") + ". Served by onnxruntime.")  # fmt: skip
    # A stroke reruns only its fragment; the layer view joins it when it shows the drawing.
    if inside_state.source_choice() == "drawing":
        st.fragment(digit_views)(record, model, dataset)
    else:
        st.fragment(draw_section)(record, model, dataset)
        st.fragment(layers_section)(record, model, dataset, None, with_drawing=False)
    weights_section(record, model)
    map_section(record, model, dataset)
    code_section(record)
    kaggle_section(record, model)


def digit_views(record: runs.RunRecord, model: inside.InsideModel, dataset) -> None:
    """The drawing and the layer-by-layer view of it, as one fragment."""
    drawn = draw_section(record, model, dataset)
    layers_section(record, model, dataset, drawn, with_drawing=True)


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
