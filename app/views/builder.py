"""Model builder: stack layers, set training, watch it train live, stop it when you like.

The spec being edited lives in this session's own keys (``builder_*``), so a page switch
keeps it (Streamlit drops a widget's state when its page is not drawn; every widget is
seeded from these keys when it is drawn again), and in the page URL (``?spec=...``), so a
copied link reopens the same form. Every field's widget, bounds and label come from its
entry in the layer registry or the training settings' fields (``mnist_core.models``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from app import loaders
from app.run_panel import run_panel
from app.sidebar import ActiveDataset, active_dataset
from app.text import plain
from mnist_core import runs
from mnist_core.data import DatasetError
from mnist_core.diskcache import storage_error
from mnist_core.models import (
    EARLY_STOPPING_FIELDS,
    LAYER_TYPES,
    MAX_LAYERS,
    PRESETS,
    REDUCE_LR_FIELDS,
    TRAIN_FIELDS,
    EarlyStoppingSpec,
    Field,
    LayerSpec,
    ModelSpec,
    ReduceLRSpec,
    SpecError,
    TrainSpec,
    analyze,
    format_shape,
    max_training_memory_mb,
)
from mnist_core.models.spec import MAX_NAME_LENGTH, name_problem

LAYERS = "builder_layers"  # [{"id": int, "type": str, **params}], in order
NAME = "builder_name"
TRAIN = "builder_train"  # the TrainSpec the form shows
PRESET = "builder_preset"  # the preset box's choice
FORM = "builder_form"  # bumped when a spec is loaded: fresh widget keys
NOTES = "builder_link_notes"  # what was wrong with the link the form was loaded from
RUN = "builder_run"  # the run shown below the form
LAST_START = "builder_last_start"  # (spec and dataset, time, run id) of the last Train
SELECTED_RUN = "selected_run"  # the run the user is looking at, shared by pages
SPEC_URL = "builder_spec_url"  # the spec shown, as link text: where a new study starts from
DEFAULT_PRESET = "ff64"
FIELDS_PER_LINE = 3  # readable selects at 1,280 px: "valid", "relu" never cut
REPEAT_SECONDS = 5.0  # a second Train of the same spec within this is a double click


def render(active: ActiveDataset) -> None:
    key, dataset = active
    st.title("Model builder")
    _init_state()
    h, w = dataset.image_shape
    st.caption(
        f"Input: {h}×{w}×1 images from {loaders.title_of(key)}; a softmax over its "
        f"{dataset.n_classes} classes is added after the last layer."
    )
    for note in st.session_state[NOTES]:
        st.error(plain(note))
    preset_picker()

    left, right = st.columns([3, 2], gap="medium")
    with left:
        name = name_input()
        st.subheader("Layers")
        layer_rows, error_slots = layer_editor()
        st.subheader("Training")
        train = training_settings()
    spec = ModelSpec(tuple(layer_rows), train, name)
    analysis = analyze(spec, input_shape=dataset.image_shape, n_classes=dataset.n_classes)
    with left:
        for error in analysis.errors_for(None):
            if error.field != "size":
                st.error(plain(str(error)))
    for number, slot in enumerate(error_slots, start=1):  # each error under its layer
        if errors := analysis.errors_for(number):
            slot.error(plain(str(errors[0])))
    with right:
        summary_table(analysis)
        train_button(spec, analysis, key, dataset)
        study_link(spec, key)
    st.query_params["spec"] = st.session_state[SPEC_URL] = spec.to_url()

    run_id = st.session_state.get(RUN)
    if run_id:
        st.divider()
        st.subheader("Training run")
        run_panel(run_id)


# --------------------------------------------------------------------------- state


def _init_state() -> None:
    """On a session's first visit, take the spec from the URL, else the default preset."""
    if LAYERS in st.session_state:
        return
    spec, preset, notes = PRESETS[DEFAULT_PRESET].spec, DEFAULT_PRESET, []
    if "spec" in st.query_params:
        try:
            spec = ModelSpec.from_url(st.query_params["spec"])
        except SpecError as exc:
            notes = [f"{exc} The default model is shown instead."]
        else:
            preset = spec.name if isinstance(spec.name, str) and spec.name in PRESETS else preset
    _load_spec(spec, notes=notes)
    st.session_state[PRESET] = preset
    if run_id := st.query_params.get("run"):
        try:
            st.session_state[RUN] = runs.open_run(run_id).run_id
        except runs.RunError as exc:  # a hand-made link: say so, as plain text
            st.session_state[NOTES].append(str(exc))


def _load_spec(spec: ModelSpec, *, notes: list[str] = ()) -> None:
    """Put ``spec`` into the form (fresh widget keys, so no stale widget state survives).
    A value no widget can hold (text where a number belongs, a number out of the widget's
    bounds) is replaced by its default, and its sentence kept in the notes."""
    notes = list(notes)
    layers = []
    for number, layer in enumerate(spec.layers, start=1):
        st.session_state["layer_counter"] = st.session_state.get("layer_counter", 0) + 1
        params = _fitting(layer.kind.fields, layer.params, f"Layer {number} ({layer.type}): ", notes)
        layers.append({"id": st.session_state["layer_counter"], "type": layer.type, **params})
    train = spec.train
    values = _fitting(TRAIN_FIELDS.values(), vars(train), "", notes)
    for key, fields in (("early_stopping", EARLY_STOPPING_FIELDS), ("reduce_lr", REDUCE_LR_FIELDS)):
        if (callback := getattr(train, key)) is not None:
            values[key] = replace(callback, **_fitting(fields.values(), vars(callback), "", notes))
    name = spec.name
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:  # more than the input holds
        notes.append(f"{name_problem(name)} The form shows 'custom' instead.")
        name = "custom"
    st.session_state[LAYERS] = layers
    st.session_state[NAME] = name
    st.session_state[TRAIN] = replace(train, **values)
    st.session_state[FORM] = st.session_state.get(FORM, 0) + 1
    st.session_state[NOTES] = notes


def _fitting(fields, values: dict, prefix: str, notes: list[str]) -> dict:
    """``values`` of ``fields``, each one the form cannot show replaced by its default."""
    result = {}
    for field in fields:
        value = values.get(field.name)
        if not field.fits_form(value):
            default = "the default" if field.default is None else repr(field.default)
            notes.append(f"{field.problem(value, prefix + field.subject)} The form shows "
                         f"{default} instead.")  # fmt: skip
            value = field.default
        result[field.name] = value
    return result


def preset_picker() -> None:
    c_preset, c_load, c_scratch = st.columns([3, 1, 1], vertical_alignment="bottom")
    st.session_state.setdefault("preset_choice", st.session_state[PRESET])
    st.session_state[PRESET] = c_preset.selectbox(
        "Preset", list(PRESETS), key="preset_choice",
        format_func=lambda n: f"{PRESETS[n].title} ({PRESETS[n].params_mnist:,} params on MNIST)",
    )  # fmt: skip
    c_load.button("Load preset", width="stretch",
                  on_click=lambda: _load_spec(PRESETS[st.session_state["preset_choice"]].spec))  # fmt: skip
    c_scratch.button("From scratch", width="stretch",
                     on_click=lambda: _load_spec(ModelSpec((LayerSpec("Flatten"),), TrainSpec())))  # fmt: skip


def name_input() -> str:
    key = f"N{st.session_state[FORM]}_name"
    st.session_state.setdefault(key, st.session_state[NAME])
    name = st.text_input("Model name", max_chars=MAX_NAME_LENGTH, key=key,
                         help="Shown in the runs list and the report, exactly as typed.")  # fmt: skip
    st.session_state[NAME] = name
    return name


# --------------------------------------------------------------------------- fields


def field_widget(container, field: Field, key: str, current):
    """The widget the registry describes for ``field``, keyed ``key``; seeded with
    ``current`` whenever Streamlit has no state for it (first draw, or back from another
    page), so the form shows what the session holds."""
    if key not in st.session_state:
        st.session_state[key] = _typed(field, current)
    if field.kind == "choice":
        return container.selectbox(field.label, field.choices, key=key, help=field.help)
    if field.kind == "bool":
        return container.checkbox(field.label, key=key, help=field.help)
    return container.number_input(
        field.label, min_value=_typed(field, field.widget_min), max_value=_typed(field, field.widget_max),
        step=_typed(field, field.step or 1) if field.kind == "int" else _typed(field, field.step),
        format=field.format, help=field.help, key=key,
    )  # fmt: skip


def _typed(field: Field, value):
    if value is None or field.kind not in ("int", "float"):
        return value
    return int(value) if field.kind == "int" else float(value)


def _field_lines(fields, key_of, current_of) -> dict:
    """Widgets for ``fields``, :data:`FIELDS_PER_LINE` to a line (a line of checkboxes
    alone takes the whole width); their values by name."""
    values = {}
    fields = list(fields)
    for start in range(0, len(fields), FIELDS_PER_LINE):
        line = fields[start : start + FIELDS_PER_LINE]
        if all(field.kind == "bool" for field in line):
            places = [st.container() for _ in line]
        else:
            places = st.columns(FIELDS_PER_LINE)
        for place, field in zip(places, line):
            values[field.name] = field_widget(place, field, key_of(field), current_of(field))
    return values


# --------------------------------------------------------------------------- layers


def layer_editor() -> tuple[list[LayerSpec], list]:
    """One bordered row per layer; returns the layers and, per layer, a slot for its error."""
    layers = st.session_state[LAYERS]
    result, slots = [], []
    for position, layer in enumerate(layers):
        with st.container(border=True, key=f"layer-box-{layer['id']}"):
            result.append(_layer_row(position, layer, len(layers)))
            slots.append(st.empty())
    c_type, c_add = st.columns([3, 1], vertical_alignment="bottom")
    kinds = list(LAYER_TYPES)
    c_type.selectbox("Add a layer", kinds, index=kinds.index("Dense"), key="new_layer_type",
                     format_func=lambda kind: kind)  # fmt: skip
    full = len(layers) >= MAX_LAYERS
    c_add.button("Add", on_click=_add_layer, width="stretch", icon=":material/add:", disabled=full,
                 help=f"At most {MAX_LAYERS} layers." if full else None)  # fmt: skip
    return result, slots


def _layer_row(position: int, layer: dict, count: int) -> LayerSpec:
    uid = layer["id"]
    kind = LAYER_TYPES[layer["type"]]
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        # The registry's names and descriptions: our own text, safe as Markdown.
        st.markdown(f"**{position + 1}. {kind.name}**", width="stretch")
        st.button("↑", key=f"up-{uid}", on_click=_move, args=(uid, -1),
                  disabled=position == 0, help="Move up")  # fmt: skip
        st.button("↓", key=f"down-{uid}", on_click=_move, args=(uid, 1),
                  disabled=position == count - 1, help="Move down")  # fmt: skip
        st.button("✕", key=f"remove-{uid}", on_click=_remove, args=(uid,), help="Remove")
    st.caption(kind.description)
    values = _field_lines(kind.fields, lambda f: f"L{uid}_{f.name}", lambda f: layer[f.name])
    layer.update(values)
    return LayerSpec(kind.name, values)


def _add_layer() -> None:
    kind = LAYER_TYPES[st.session_state["new_layer_type"]]
    st.session_state["layer_counter"] = st.session_state.get("layer_counter", 0) + 1
    st.session_state[LAYERS].append(
        {"id": st.session_state["layer_counter"], "type": kind.name, **kind.defaults}
    )


def _move(uid: int, step: int) -> None:
    layers = st.session_state[LAYERS]
    i = next(i for i, layer in enumerate(layers) if layer["id"] == uid)
    j = i + step
    if 0 <= j < len(layers):
        layers[i], layers[j] = layers[j], layers[i]


def _remove(uid: int) -> None:
    st.session_state[LAYERS] = [layer for layer in st.session_state[LAYERS] if layer["id"] != uid]


# --------------------------------------------------------------------------- training


def training_settings() -> TrainSpec:
    """The training fields (momentum and Nesterov for SGD only), early stopping and reduce
    LR on plateau; the TrainSpec they make is kept in the session for the next draw."""
    t: TrainSpec = st.session_state[TRAIN]
    v = st.session_state[FORM]
    shown = [TRAIN_FIELDS[name] for name in ("optimizer", "learning_rate", "lr_schedule",
                                             "batch_size", "epochs", "validation_split",
                                             "seed")]  # fmt: skip
    optimizer = st.session_state.get(f"T{v}_optimizer", t.optimizer)
    if optimizer == "sgd":
        shown += [TRAIN_FIELDS["momentum"], TRAIN_FIELDS["nesterov"]]
    shown.append(TRAIN_FIELDS["keras_backend"])  # auto: by the layers (mnist_core.runs.backend)
    current = {**vars(t), "learning_rate": t.effective_learning_rate}
    values = {**vars(t), **_field_lines(shown, lambda f: f"T{v}_{f.name}", lambda f: current[f.name])}
    for name, label, kind, fields in (
        ("early_stopping", "Early stopping", EarlyStoppingSpec, EARLY_STOPPING_FIELDS),
        ("reduce_lr", "Reduce learning rate on plateau", ReduceLRSpec, REDUCE_LR_FIELDS),
    ):
        toggle = f"T{v}_{name}"
        st.session_state.setdefault(toggle, getattr(t, name) is not None)
        values[name] = None
        if st.checkbox(label, key=toggle):
            callback = getattr(t, name) or kind()
            values[name] = kind(**_field_lines(
                fields.values(), lambda f, name=name: f"T{v}_{name}_{f.name}",
                lambda f, callback=callback: getattr(callback, f.name),
            ))  # fmt: skip
    train = TrainSpec(**values)
    st.session_state[TRAIN] = train
    return train


# --------------------------------------------------------------------------- summary, train


def summary_table(analysis) -> None:
    st.subheader("Summary")
    table = pd.DataFrame(
        [
            {"layer": row.name if row.number is None else f"{row.number} · {row.name}",
             "output": format_shape(row.output_shape),
             "params": "?" if row.params is None else f"{row.params:,}"}
            for row in analysis.rows
        ]
    )  # fmt: skip
    st.table(table, hide_index=True)  # wraps long layer names at any width
    if analysis.total_params is not None:
        st.metric("Total parameters", f"{analysis.total_params:,}")
    if analysis.memory_mb is not None:
        st.caption(f"Training needs about {_megabytes(analysis.memory_mb)} of memory (limit "
                   f"{max_training_memory_mb():,} MB).")  # fmt: skip
    for error in analysis.errors:
        if error.field == "size":
            st.error(plain(str(error)))
    if not analysis.ok:
        count = len(analysis.errors)
        st.warning(f"{count} problem{'s' if count > 1 else ''} to fix before training; "
                   "see the red notes.")  # fmt: skip


def _megabytes(mb: float) -> str:
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:,.0f} MB"


def train_button(spec: ModelSpec, analysis, key: str, dataset) -> None:
    if st.button("Train", type="primary", disabled=not analysis.ok, icon=":material/play_arrow:",
                 width="stretch", key="train"):  # fmt: skip
        _start_run(spec, key, dataset)


def study_link(spec: ModelSpec, key: str) -> None:
    st.page_link("views/studies.py", label="Study this spec", icon=":material/tune:",
                 query_params={"spec": spec.to_url(), "dataset": key},
                 help="Opens the Studies page on this spec: vary its settings, search them.")  # fmt: skip


def _start_run(spec: ModelSpec, key: str, dataset) -> None:
    """Create and queue a run of ``spec``, once: a second click on the same spec within
    :data:`REPEAT_SECONDS` (a double click) starts nothing. Problems are one sentence."""
    what, now = (spec.to_url(), key), time.monotonic()
    last = st.session_state.get(LAST_START)
    if last is not None and last[0] == what and now - last[1] < REPEAT_SECONDS:
        st.info(f"This model was started a moment ago as run {plain(last[2])}; it is below.")
        return
    try:
        record = runs.create_run(
            spec, dataset=loaders.source_of(key), fingerprint=dataset.fingerprint,
            input_shape=dataset.image_shape, n_classes=dataset.n_classes,
        )  # fmt: skip
        st.session_state[LAST_START] = (what, now, record.run_id)
        runs.start(record)
    except (SpecError, DatasetError, runs.RunError) as exc:
        st.error(plain(str(exc)))
        return
    except OSError as exc:
        st.error(plain(str(storage_error(exc, runs.runs_dir()))))
        return
    st.session_state[RUN] = st.session_state[SELECTED_RUN] = record.run_id
    st.query_params["run"] = record.run_id
    # The live panel is far below the form: say where the run went.
    st.toast(f"Run {plain(record.run_id)} queued; follow it under *Training run* below.",
             icon=":material/play_arrow:")
    st.success(f"Run {plain(record.run_id)} queued: its live panel is under **Training run** "
               "below.", icon=":material/arrow_downward:")


if __name__ == "__main__":  # run as a page by st.navigation
    render(active_dataset())
