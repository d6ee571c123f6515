"""The Studies page's form: where a study starts from (the Model builder's spec or a preset
model), the tutorials' one-click steps, what varies over which values, the search and its
budgets, and Launch.

The form is checked as it is filled in, by the engine (:func:`mnist_core.studies.plan_study`):
a bad value is the engine's one sentence under the form and Launch stays disabled, so
nothing is ever launched from bad input. Every choice is kept for the session (a page
switch loses nothing); the builder's spec travels in the URL (``?spec=``).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace

import streamlit as st

from app import loaders, page_state
from app.sidebar import ActiveDataset
from app.views.builder import DEFAULT_PRESET
from app.views.builder import SPEC_URL as BUILDER_SPEC  # the spec the Model builder shows
from mnist_core import studies
from mnist_core.data import DatasetError
from mnist_core.models import PRESETS, TRAIN_FIELDS, ModelSpec, SpecError
from mnist_core.runs.executor import EXECUTOR_ENV, RAY_ADDRESS_ENV
from mnist_core.studies.plan import BACKENDS

SOURCE, PRESET, TUNED = "study_source", "study_preset", "study_tuned"
PARAMS, SEARCH, TRIALS, TIME = "study_params", "study_search", "study_trials", "study_time"
OBJECTIVE, REPEATS, PRUNE, EPOCHS = "study_objective", "study_repeats", "study_prune", "study_epochs"
NAME, NOTES, LAST_LAUNCH = "study_name", "study_notes", "study_last_launch"
BACKEND, ADDRESS, SEEN = "study_backend", "study_address", "study_base_seen"
SOURCES = {"builder": "the Model builder's spec", "preset": "a preset model"}
PRUNING = {"none": "no pruning", "median": "median pruner", "hyperband": "Hyperband pruner"}
OBJECTIVE_TEXT = {"val_accuracy": "validation accuracy", "val_loss": "validation loss"}
TUTORIAL_LABELS = {"batch_size": "Batch size", "optimizer": "Optimizer",
                   "learning_rate": "Learning rate", "capacity": "Capacity grid",
                   "l2": "L2", "dropout": "Dropout"}  # fmt: skip
REPEAT_SECONDS = 5.0  # a second Launch of the same plan within this is a double click
SUGGESTED = {"learning_rate": "1e-4..1e-1:log", "batch_size": "16,128,512",
             "optimizer": "sgd,rmsprop,adam", "momentum": "0,0.5,0.9", "nesterov": "true,false",
             "seed": "0,1,2", "validation_split": "0.1,0.2,0.3", "hidden_dense_layers": "1,2,3",
             "rate": "0,0.2,0.4,0.5", "l2": "0,1e-4,1e-3,1e-2", "activation": "relu,tanh",
             "kernel_size": "3,5", "padding": "valid,same", "strides": "1,2",
             "lr_schedule": "constant,cosine", "keras_backend": "tensorflow,jax"}  # fmt: skip


def values_key(path: str) -> str:
    return f"study_values:{path}"


# --------------------------------------------------------------------------- the base spec


def builder_spec() -> ModelSpec:
    """The Model builder's spec: from this page's link (``?spec=``), else the one the
    builder shows in this session, else the builder's default preset. A link that cannot
    be read is said once, in the notes."""
    if text := st.query_params.get("spec"):
        try:
            return ModelSpec.from_url(text)
        except SpecError as exc:
            st.session_state[NOTES] = [f"{exc} The builder's spec in this session is used instead."]
            st.query_params.pop("spec", None)
    if text := st.session_state.get(BUILDER_SPEC):
        try:
            return ModelSpec.from_url(text)
        except SpecError:
            pass
    return PRESETS[DEFAULT_PRESET].spec


def base_picker() -> tuple[ModelSpec, tuple]:
    """Where the study starts from; the spec and a signature of the choice."""
    page_state.restore(SOURCE, "builder", options=list(SOURCES))
    page_state.restore(PRESET, DEFAULT_PRESET, options=list(PRESETS))
    c_source, c_preset = st.columns([1, 1], vertical_alignment="bottom")
    source = c_source.segmented_control("Start from", list(SOURCES), key=SOURCE,
                                        format_func=SOURCES.get, required=True) or "builder"  # fmt: skip
    page_state.remember(SOURCE)
    if source == "preset":
        preset = c_preset.selectbox("Preset model", list(PRESETS), key=PRESET,
                                    format_func=lambda n: PRESETS[n].title)  # fmt: skip
        page_state.remember(PRESET)
        spec = PRESETS[preset].spec
        st.query_params.pop("spec", None)
    else:
        spec = builder_spec()
        st.query_params["spec"] = spec.to_url()  # a reload or a shared link keeps it
    signature = (source, spec.to_url())
    if st.session_state.get(SEEN) != signature:  # another base: its own epochs per run
        st.session_state[SEEN] = signature
        st.session_state[EPOCHS] = spec.train.epochs
        page_state.keep_value(EPOCHS, spec.train.epochs)
    apply_link_tutorial(spec, signature)
    tuned = st.session_state.get(TUNED)
    if tuned and tuned[0] == signature:  # a tutorial step changed the base (added a layer)
        spec = ModelSpec.from_url(tuned[1])
    return spec, signature


def describe(spec: ModelSpec) -> str:
    """``ff64: Flatten → Dense 64 · adam, lr 0.001, batch 32, 10 epochs`` (plain text)."""
    layers = " → ".join(layer.type + (f" {layer.params['units']}" if "units" in layer.params else "")
                        for layer in spec.layers)  # fmt: skip
    t = spec.train
    cosine = " cosine" if getattr(t, "lr_schedule", "constant") == "cosine" else ""
    return (f"{spec.name or 'custom'}: {layers} · {t.optimizer}, lr {t.effective_learning_rate:g}{cosine}, "
            f"batch {t.batch_size}, {t.epochs} epoch{'s' if t.epochs != 1 else ''}, validation "
            f"split {t.validation_split:g}")


# --------------------------------------------------------------------------- tutorial steps


def tutorial_steps(base: ModelSpec, signature: tuple) -> None:
    """One click fills the form with a tutorial's study of the current base."""
    st.markdown("**Tutorial steps** (one click fills the form; change anything before Launch)")
    with st.container(horizontal=True, gap="small"):
        for name, title in studies.STUDY_PRESETS.items():
            st.button(TUTORIAL_LABELS.get(name, name), key=f"tutorial-{name}", help=title,
                      on_click=apply_tutorial, args=(name, base, signature))  # fmt: skip


def apply_tutorial(name: str, base: ModelSpec, signature: tuple) -> None:
    tuned = studies.preset_study(name, base)
    st.session_state[TUNED] = (signature, tuned.base.to_url(), name)
    paths = []
    for text in tuned.vary:
        path, _, values = text.partition("=")
        paths.append(path.strip())
        st.session_state[values_key(path.strip())] = values.strip()
    st.session_state[PARAMS] = paths
    st.session_state[SEARCH] = tuned.search
    st.session_state[TRIALS] = tuned.trials


def apply_link_tutorial(base: ModelSpec, signature: tuple) -> None:
    """``?tune=capacity`` (the Runs page's pointer to the capacity grid) fills the form once."""
    name = st.query_params.get("tune")
    if name is None:
        return
    st.query_params.pop("tune", None)
    if name in studies.STUDY_PRESETS:
        apply_tutorial(name, base, signature)
    else:
        st.session_state[NOTES] = [f"There is no tutorial step {name!r} (the link asked for it); "
                                   f"the steps are {', '.join(studies.STUDY_PRESETS)}."]  # fmt: skip


# --------------------------------------------------------------------------- the space


def current_value(path: str, base: ModelSpec):
    """The base spec's value of ``path`` (the first layer's, for a layer type)."""
    field = studies.resolve(path, base).field
    if path in TRAIN_FIELDS:
        return base.train.effective_learning_rate if path == "learning_rate" else getattr(base.train, path)
    if path == "hidden_dense_layers":
        return sum(layer.type == "Dense" for layer in base.layers)
    if match := re.match(r"layer (\d+)\.", path):
        return base.layers[int(match[1]) - 1].params.get(field.name, field.default)
    kind = path.split(".")[0]
    layer = next(layer for layer in base.layers if layer.type == kind)
    return layer.params.get(field.name, field.default)


def suggestion(path: str, base: ModelSpec) -> str:
    """Values worth trying for ``path``: the tutorials' where they have some, else around
    the base spec's value."""
    name = path.split(".")[-1]
    if path in SUGGESTED or name in SUGGESTED:
        return SUGGESTED.get(path) or SUGGESTED[name]
    field = studies.resolve(path, base).field
    value = current_value(path, base)
    if field.kind == "choice":
        return ",".join(field.choices[:3])
    if field.kind == "int" and isinstance(value, int):
        values = dict.fromkeys(v for v in (max(1, value // 2), value, value * 2)
                               if field.problem(v) is None)  # fmt: skip
        return ",".join(map(str, values))
    return f"{value:g}" if isinstance(value, float) else str(value)


def space_fields(base: ModelSpec) -> list[str]:
    """Pick parameters and type their values; the ``PATH=VALUES`` texts."""
    options = studies.searchable(base)
    page_state.restore(PARAMS, ["batch_size"])
    # Parameters the base no longer has (another spec was chosen) are dropped.
    st.session_state[PARAMS] = [p for p in st.session_state[PARAMS] or [] if p in options]
    paths = st.multiselect(
        "Parameters to vary", options, key=PARAMS,
        help="Training settings, one layer's setting (layer 2.units), every layer of a type "
             "(Dense.l2), or the number of hidden Dense layers.",
    )  # fmt: skip
    page_state.remember(PARAMS)
    vary = []
    for start in range(0, len(paths), 2):
        for column, path in zip(st.columns(2), paths[start : start + 2]):
            key = values_key(path)
            page_state.restore(key, suggestion(path, base))
            text = column.text_input(
                f"{path} values", key=key,
                help="A list (16,128,512) or a range: 1e-4..1e-1:log (log scale), 32..512:int, "
                     "1e-4..1e-1:log:4 (four points, for a grid).",
            )  # fmt: skip
            page_state.remember(key)
            vary.append(f"{path}={text}")
    return vary


# --------------------------------------------------------------------------- search settings


def search_fields(base: ModelSpec, paths: list[str]) -> dict:
    """Search, budgets, objective, repeats, pruning, epochs and name: plan_study's options."""
    page_state.restore(SEARCH, "grid", options=list(studies.SEARCHES))
    page_state.restore(TRIALS, None)
    page_state.restore(TIME, None)
    page_state.restore(OBJECTIVE, "val_accuracy", options=list(studies.OBJECTIVES))
    page_state.restore(REPEATS, 1)
    page_state.restore(PRUNE, "none", options=list(PRUNING))
    page_state.restore(EPOCHS, base.train.epochs)
    page_state.restore(NAME, "")
    c1, c2, c3, c4 = st.columns(4)
    search = c1.selectbox("Search", list(studies.SEARCHES), key=SEARCH,
                          format_func={"grid": "grid (every combination)", "random": "random",
                                       "tpe": "TPE (Optuna's default)"}.get)  # fmt: skip
    trials = c2.number_input("Trial budget", min_value=1, max_value=studies.MAX_TRIALS, step=1,
                             key=TRIALS, placeholder="whole grid" if search == "grid" else "10",
                             help="Trials that reach a result; empty: the whole grid, or 10.")  # fmt: skip
    minutes = c3.number_input("Time budget (minutes)", min_value=0.0, step=1.0, key=TIME,
                              placeholder="none", format="%g",
                              help="No new trial starts after this; empty: no limit.")  # fmt: skip
    objective = c4.selectbox("Objective (at the best epoch)", list(studies.OBJECTIVES),
                             key=OBJECTIVE, format_func=OBJECTIVE_TEXT.get,
                             help="Trials are compared on this, at each run's best epoch: the "
                                  "highest accuracy or the lowest loss, not the last.")  # fmt: skip
    c5, c6, c7, c8 = st.columns(4)
    repeats = c5.number_input("Repeats (seeds per trial)", min_value=1,
                              max_value=studies.MAX_REPEATS, step=1, key=REPEATS)  # fmt: skip
    prune = c6.selectbox("Pruning", list(PRUNING), key=PRUNE, format_func=PRUNING.get,
                         help="Stop a trial whose validation curve falls behind the others' "
                              "at the same epoch.")  # fmt: skip
    epochs = c7.number_input("Epochs per run", min_value=1, max_value=1_000, step=1, key=EPOCHS,
                             disabled="epochs" in paths,
                             help="Varied above" if "epochs" in paths else "Each trial's runs "
                             "train this many epochs (the base spec has "
                             f"{base.train.epochs}).")  # fmt: skip
    name = c8.text_input("Study name", key=NAME, max_chars=100, placeholder=base.name or "custom")
    for key in (SEARCH, TRIALS, TIME, OBJECTIVE, REPEATS, PRUNE, EPOCHS, NAME):
        page_state.remember(key)
    return dict(search=search, trials=None if trials is None else int(trials),
                time_budget=None if minutes is None else float(minutes) * 60,
                objective=objective, repeats=int(repeats),
                prune=False if prune == "none" else prune,
                epochs=int(epochs), name=name.strip(), **backend_fields())  # fmt: skip


def backend_fields() -> dict:
    """Where the trials train: this machine, or a Ray cluster at HOST:PORT (defaults from
    ``$MNIST_EXECUTOR`` and ``$MNIST_RAY_ADDRESS``)."""
    default = os.environ.get(EXECUTOR_ENV) or "local"
    page_state.restore(BACKEND, default if default in BACKENDS else "local", options=list(BACKENDS))
    page_state.restore(ADDRESS, os.environ.get(RAY_ADDRESS_ENV, ""))
    c_backend, c_address = st.columns([1, 3])
    backend = c_backend.selectbox(
        "Trials train on", list(BACKENDS), key=BACKEND,
        format_func={"local": "this machine", "ray": "a Ray cluster"}.get,
        help="A Ray cluster needs a cache folder every node shares (see the README).",
    )  # fmt: skip
    page_state.remember(BACKEND)
    if backend == "local":
        return {"backend": "local"}
    address = c_address.text_input("Ray address (HOST:PORT)", key=ADDRESS,
                                   placeholder="10.0.0.5:6379")  # fmt: skip
    page_state.remember(ADDRESS)
    return {"backend": backend, "address": address.strip()}


# --------------------------------------------------------------------------- plan and launch


def make_plan(base: ModelSpec, vary: list[str], options: dict, active: ActiveDataset):
    """The engine's plan for the form, or the sentence saying what is wrong."""
    key, dataset = active
    options = dict(options)
    if options["backend"] == "ray" and not options.get("address"):
        return None, "Give the Ray cluster's address (HOST:PORT of its head, port 6379 by default)."
    epochs = options.pop("epochs")
    base = replace(base, train=replace(base.train, epochs=epochs))
    try:
        return studies.plan_study(
            base, vary, dataset=loaders.source_of(key), fingerprint=dataset.fingerprint,
            input_shape=dataset.image_shape, n_classes=dataset.n_classes, **options,
        ), None  # fmt: skip
    except (SpecError, DatasetError) as exc:  # StudyError is a SpecError
        return None, str(exc)


def plan_text(plan: studies.StudyPlan, dataset_title: str) -> str:
    """``Grid over batch_size: 3 trials × 1 seed = 3 runs of 2 epochs on digits.``"""
    what = {"grid": "Grid", "random": "Random search", "tpe": "TPE search"}[plan.search]
    epochs = ("epochs as varied" if "epochs" in plan.space.paths
              else f"{plan.base.train.epochs} epoch{'s' if plan.base.train.epochs != 1 else ''}")  # fmt: skip
    seeds = f"{plan.repeats} seed{'s' if plan.repeats != 1 else ''}"
    budget = f", at most {plan.time_budget / 60:g} min of new trials" if plan.time_budget else ""
    pruning = f", {plan.pruner} pruning" if plan.pruner else ""
    return (f"{what} over {', '.join(plan.space.paths)}: {plan.trials} trials × {seeds} = "
            f"{plan.trials * plan.repeats} runs of {epochs} on {dataset_title}{budget}{pruning}.")


def launch(plan: studies.StudyPlan) -> tuple[str | None, str | None]:
    """Create and start the study, once per double click (a second Launch of the same plan
    within :data:`REPEAT_SECONDS` gives the first study back); its id, or the sentence
    saying why it could not be made."""
    what, now = repr(plan.to_json()), time.monotonic()
    last = st.session_state.get(LAST_LAUNCH)
    if last is not None and last[0] == what and now - last[1] < REPEAT_SECONDS:
        return last[2], None
    try:
        record = studies.create_study(plan)
        studies.start(record)
    except (SpecError, OSError) as exc:  # StudyError, StorageError (an OSError)
        return None, str(exc)
    st.session_state[LAST_LAUNCH] = (what, now, record.study_id)
    return record.study_id, None
