"""Model builder: stack layers, set training, watch it train live, stop it when you like.

The whole spec lives in the page URL (``?spec=...``), so a copied link reopens the same form.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import loaders
from app.run_panel import run_panel
from app.sidebar import ActiveDataset, active_dataset
from mnist_core import runs
from mnist_core.models.spec import (
    ACTIVATIONS,
    LAYER_TYPES,
    MONITORS,
    OPTIMIZERS,
    PADDINGS,
    PRESETS,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLRSpec,
    SpecError,
    TrainSpec,
    analyze,
    format_shape,
)

DEFAULT_PRESET = "ff64"


def render(active: ActiveDataset) -> None:
    key, dataset = active
    st.title("Model builder")
    _init_state()
    h, w = dataset.image_shape
    st.caption(
        f"Input: {h}×{w}×1 images from {loaders.title_of(key)}; a softmax over its "
        f"{dataset.n_classes} classes is added after the last layer."
    )
    preset_picker()

    left, right = st.columns([4, 3], gap="large")
    with left:
        st.subheader("Layers")
        layer_rows, error_slots = layer_editor()
        st.subheader("Training")
        train = training_settings()
    spec = ModelSpec(tuple(layer_rows), train, st.session_state["builder_name"])
    analysis = analyze(spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes)
    with left:
        for error in analysis.errors_for(None):
            st.error(str(error))
    for number, slot in enumerate(error_slots, start=1):  # each error under its layer
        if errors := analysis.errors_for(number):
            slot.error(str(errors[0]))
    with right:
        summary_table(analysis)
        train_button(spec, analysis, key, dataset)
    st.query_params["spec"] = spec.to_url()

    run_id = st.session_state.get("builder_run")
    if run_id:
        st.divider()
        st.subheader("Training run")
        run_panel(run_id)


# --------------------------------------------------------------------------- state


def _init_state() -> None:
    """On a session's first visit, take the spec from the URL, else the default preset."""
    if "builder_layers" in st.session_state:
        return
    spec = PRESETS[DEFAULT_PRESET].spec
    if "spec" in st.query_params:
        try:
            spec = ModelSpec.from_url(st.query_params["spec"])
        except SpecError as exc:
            st.error(f"{exc} The default model is shown instead.")
    _load_spec(spec)
    if st.query_params.get("run"):
        st.session_state["builder_run"] = st.query_params["run"]


def _load_spec(spec: ModelSpec) -> None:
    """Put ``spec`` into the form (new widget keys, so no stale widget state survives)."""
    st.session_state.setdefault("layer_counter", 0)
    layers = []
    for layer in spec.layers:
        st.session_state["layer_counter"] += 1
        layers.append({"id": st.session_state["layer_counter"], "type": layer.type, **layer.params})
    st.session_state["builder_layers"] = layers
    st.session_state["builder_name"] = spec.name
    st.session_state["builder_train_version"] = st.session_state.get("builder_train_version", 0) + 1
    st.session_state["builder_train"] = spec.train


def preset_picker() -> None:
    c_preset, c_load, c_scratch = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = c_preset.selectbox(
        "Preset", list(PRESETS), index=list(PRESETS).index(DEFAULT_PRESET),
        format_func=lambda n: f"{PRESETS[n].title} ({PRESETS[n].params_mnist:,} params on MNIST)",
        key="preset_choice",
    )  # fmt: skip
    if c_load.button("Load preset", width="stretch"):
        _load_spec(PRESETS[name].spec)
        st.rerun()
    if c_scratch.button("From scratch", width="stretch"):
        _load_spec(ModelSpec((LayerSpec("Flatten"),), TrainSpec(), "custom"))
        st.rerun()


# --------------------------------------------------------------------------- layers


def layer_editor() -> tuple[list[LayerSpec], list]:
    """One bordered row per layer; returns the layers and, per layer, a slot for its error."""
    layers = st.session_state["builder_layers"]
    result, slots = [], []
    for position, layer in enumerate(layers):
        with st.container(border=True, key=f"layer-box-{layer['id']}"):
            result.append(_layer_row(position, layer, len(layers)))
            slots.append(st.empty())
    c_type, c_add = st.columns([3, 1], vertical_alignment="bottom")
    new_type = c_type.selectbox("Add a layer", list(LAYER_TYPES), index=1, key="new_layer_type")
    c_add.button("Add", on_click=_add_layer, args=(new_type,), width="stretch",
                 icon=":material/add:")  # fmt: skip
    return result, slots


def _layer_row(position: int, layer: dict, count: int) -> LayerSpec:
    uid = layer["id"]
    kind = layer["type"]
    head = st.columns([4, 0.6, 0.6, 0.6], vertical_alignment="center")
    head[0].markdown(f"**{position + 1}. {kind}**")
    head[1].button("↑", key=f"up-{uid}", on_click=_move, args=(uid, -1),
                   disabled=position == 0, help="Move up")  # fmt: skip
    head[2].button("↓", key=f"down-{uid}", on_click=_move, args=(uid, 1),
                   disabled=position == count - 1, help="Move down")  # fmt: skip
    head[3].button("✕", key=f"remove-{uid}", on_click=_remove, args=(uid,), help="Remove")
    n_fields = {"Dense": 3, "Conv2D": 6, "Dropout": 1, "MaxPooling2D": 1}.get(kind, 0)
    cols = st.columns(max(n_fields, 3)) if n_fields else []
    values = {}

    def number(col, name, label, *, step, minimum, maximum=None, fmt=None):
        widget_key = f"L{uid}_{name}"
        st.session_state.setdefault(widget_key, layer[name])
        values[name] = cols[col].number_input(
            label, min_value=minimum, max_value=maximum, step=step, format=fmt, key=widget_key
        )

    def choice(col, name, label, options):
        widget_key = f"L{uid}_{name}"
        st.session_state.setdefault(widget_key, layer[name])
        values[name] = cols[col].selectbox(label, options, key=widget_key)

    if kind == "Dense":
        number(0, "units", "units", step=16, minimum=1)
        choice(1, "activation", "activation", ACTIVATIONS)
        number(2, "l2", "L2", step=1e-4, minimum=0.0, fmt="%g")
    elif kind == "Conv2D":
        number(0, "filters", "filters", step=8, minimum=1)
        number(1, "kernel_size", "kernel", step=1, minimum=1)
        number(2, "strides", "strides", step=1, minimum=1)
        choice(3, "padding", "padding", PADDINGS)
        choice(4, "activation", "activation", ACTIVATIONS)
        number(5, "l2", "L2", step=1e-4, minimum=0.0, fmt="%g")
    elif kind == "Dropout":
        number(0, "rate", "rate", step=0.05, minimum=0.0, maximum=0.99)
    elif kind == "MaxPooling2D":
        number(0, "pool_size", "pool size", step=1, minimum=1)
    layer.update(values)
    return LayerSpec(kind, values)


def _add_layer(kind: str) -> None:
    st.session_state["layer_counter"] += 1
    st.session_state["builder_layers"].append(
        {"id": st.session_state["layer_counter"], "type": kind, **LAYER_TYPES[kind]}
    )


def _move(uid: int, step: int) -> None:
    layers = st.session_state["builder_layers"]
    i = next(i for i, layer in enumerate(layers) if layer["id"] == uid)
    j = i + step
    if 0 <= j < len(layers):
        layers[i], layers[j] = layers[j], layers[i]


def _remove(uid: int) -> None:
    st.session_state["builder_layers"] = [
        layer for layer in st.session_state["builder_layers"] if layer["id"] != uid
    ]


# --------------------------------------------------------------------------- training


def training_settings() -> TrainSpec:
    t: TrainSpec = st.session_state["builder_train"]
    v = st.session_state["builder_train_version"]  # fresh widget keys when a spec is loaded

    def key(name: str) -> str:
        return f"T{v}_{name}"

    c1, c2, c3, c4 = st.columns(4)
    optimizer = c1.selectbox("optimizer", OPTIMIZERS, index=OPTIMIZERS.index(t.optimizer),
                             key=key("optimizer"))  # fmt: skip
    learning_rate = c2.number_input(
        "learning rate", value=float(t.effective_learning_rate), min_value=None, step=None,
        format="%g", key=key("lr"),
    )  # fmt: skip
    batch_size = c3.number_input("batch size", value=t.batch_size, min_value=1, step=16,
                                 key=key("batch"))  # fmt: skip
    epochs = c4.number_input("epochs", value=t.epochs, min_value=1, step=1, key=key("epochs"))
    c5, c6, c7, c8 = st.columns(4)
    validation_split = c5.number_input(
        "validation split", value=float(t.validation_split), min_value=0.0, max_value=0.95,
        step=0.05, help="Share of the training images held out for validation (0: none).",
        key=key("val"),
    )  # fmt: skip
    seed = c6.number_input("seed", value=t.seed, min_value=0, step=1, key=key("seed"))
    momentum, nesterov = t.momentum, t.nesterov
    if optimizer == "sgd":
        momentum = c7.number_input("momentum", value=float(t.momentum), min_value=0.0,
                                   max_value=0.99, step=0.1, key=key("momentum"))  # fmt: skip
        nesterov = c8.checkbox("Nesterov", value=t.nesterov, key=key("nesterov"))

    es_on = st.checkbox("Early stopping", value=t.early_stopping is not None, key=key("es"))
    early_stopping = None
    if es_on:
        es = t.early_stopping or EarlyStoppingSpec()
        e1, e2, e3, e4 = st.columns(4)
        early_stopping = EarlyStoppingSpec(
            monitor=e1.selectbox("monitor", MONITORS, index=MONITORS.index(es.monitor), key=key("es_m")),
            patience=int(e2.number_input("patience", value=es.patience, min_value=0, step=1, key=key("es_p"))),
            min_delta=float(e3.number_input("min_delta", value=float(es.min_delta), min_value=0.0,
                                            step=1e-4, format="%g", key=key("es_d"))),
            restore_best_weights=e4.checkbox("restore best weights", value=es.restore_best_weights,
                                             key=key("es_r")),
        )  # fmt: skip
    rl_on = st.checkbox("Reduce learning rate on plateau", value=t.reduce_lr is not None, key=key("rl"))
    reduce_lr = None
    if rl_on:
        rl = t.reduce_lr or ReduceLRSpec()
        r1, r2, r3, r4 = st.columns(4)
        reduce_lr = ReduceLRSpec(
            monitor=r1.selectbox("monitor ", MONITORS, index=MONITORS.index(rl.monitor), key=key("rl_m")),
            patience=int(r2.number_input("patience ", value=rl.patience, min_value=0, step=1, key=key("rl_p"))),
            factor=float(r3.number_input("factor", value=float(rl.factor), min_value=0.0, max_value=0.99,
                                         step=0.05, key=key("rl_f"))),
            min_lr=float(r4.number_input("min_lr", value=float(rl.min_lr), min_value=0.0, format="%g",
                                         step=None, key=key("rl_min"))),
        )  # fmt: skip
    return TrainSpec(
        optimizer=optimizer, learning_rate=float(learning_rate), momentum=float(momentum),
        nesterov=bool(nesterov), batch_size=int(batch_size), epochs=int(epochs),
        validation_split=float(validation_split), seed=int(seed),
        early_stopping=early_stopping, reduce_lr=reduce_lr,
    )  # fmt: skip


# --------------------------------------------------------------------------- summary, train


def summary_table(analysis) -> None:
    st.subheader("Summary")
    table = pd.DataFrame(
        [
            {"#": "" if row.number is None else str(row.number), "layer": row.name,
             "shape": format_shape(row.output_shape),
             "params": "?" if row.params is None else f"{row.params:,}"}
            for row in analysis.rows
        ]
    )  # fmt: skip
    st.dataframe(table, hide_index=True, width="stretch")
    if analysis.ok:
        st.metric("Total parameters", f"{analysis.total_params:,}")
    else:
        count = len(analysis.errors)
        st.warning(f"{count} problem{'s' if count > 1 else ''} to fix before training; "
                   "see the red notes on the left.")  # fmt: skip


def train_button(spec: ModelSpec, analysis, key: str, dataset) -> None:
    if st.button("Train", type="primary", disabled=not analysis.ok, icon=":material/play_arrow:",
                 width="stretch"):  # fmt: skip
        directory = runs.create_run(
            spec, dataset=loaders.source_of(key), fingerprint=dataset.fingerprint,
            input_shape=dataset.image_shape, n_classes=dataset.n_classes,
        )  # fmt: skip
        runs.start(directory)
        st.session_state["builder_run"] = directory.name
        st.query_params["run"] = directory.name


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
