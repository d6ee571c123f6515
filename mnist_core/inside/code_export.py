"""Take a run away: a standalone script that reproduces it, in Python (Keras 3) or R (keras3).

:func:`python_script` and :func:`r_script` return the script's text for a run (a
:class:`~mnist_core.runs.store.RunRecord`) or for a spec and a dataset. The script loads the
same data the same way (the app's scaling, its held-out test split, Keras's validation
split), builds the same model (layer names, settings, regularisers, seed), compiles and fits
it with the same optimizer and callbacks, and evaluates it on the test set.

Nothing here imports Keras. Each layer is written by the registry's own ``keras`` function,
called on a recorder that turns the calls into code: the script builds a layer exactly as
the app does, and a layer type added to the registry is exported with it. The R names of
those calls are in :data:`R_FUNCTIONS`; the templates are in ``templates/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_core.inside.code_export_calls import (
    R_FUNCTIONS,
    R_MAX_INT,
    Call,
    Code,
    ExportError,
    RInt,
    comment,
    keras_name,
    layer_call,
    plain,
    python_args,
    python_call,
    python_path,
    r_args,
    r_function,
    string,
    value,
    wrap,
)
from mnist_core.models import ModelSpec, analyze
from mnist_core.models.analysis import ADDED_FLATTEN

__all__ = ["R_FUNCTIONS", "ExportError", "keras_name", "python_script", "r_script"]

TEMPLATES = Path(__file__).with_name("templates")
KERAS_DATASETS = ("mnist", "fashion_mnist")  # loaded with keras.datasets / dataset_*()
# Image size and classes of the named datasets (a test checks them against the data).
NAMED_SHAPES = {"mnist": ((28, 28), 10), "fashion_mnist": ((28, 28), 10), "digits": ((8, 8), 10)}
UPLOAD_FORMATS = {  # kind: what the upload is, for the comment above load_data()
    "npz": "an .npz archive (x_train, y_train, and maybe x_test, y_test)",
    "csv": "a CSV in the Kaggle digit-recognizer layout (label,pixel0,...)",
    "idx": "IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, ...)",
}
OPTIMIZERS = {  # spec name: (Keras class, keras3 R function)
    "sgd": ("SGD", "optimizer_sgd"), "rmsprop": ("RMSprop", "optimizer_rmsprop"),
    "adam": ("Adam", "optimizer_adam"), "adamw": ("AdamW", "optimizer_adam_w"),
    "adagrad": ("Adagrad", "optimizer_adagrad"), "adadelta": ("Adadelta", "optimizer_adadelta"),
    "nadam": ("Nadam", "optimizer_nadam"),
}  # fmt: skip


# --------------------------------------------------------------------------- what is exported


@dataclass(frozen=True)
class _Source:
    spec: ModelSpec
    dataset: str  # a named dataset or the path of an upload
    input_shape: tuple[int, int]
    n_classes: int
    run_id: str | None = None
    test_accuracy: float | None = None
    epochs_run: int | None = None

    @property
    def kind(self) -> str:
        """keras, digits, npz, csv or idx."""
        if self.dataset in KERAS_DATASETS:
            return "keras"
        if self.dataset == "digits":
            return "digits"
        path = Path(self.dataset)
        if path.suffix.lower() in (".npz", ".csv"):
            return path.suffix.lower()[1:]
        if path.is_dir() or "idx" in path.name:
            return "idx"
        raise ExportError(f"{path.name}: no script can read this dataset; exported code reads "
                          "mnist, fashion_mnist, digits, .npz, .csv and IDX files.")  # fmt: skip


def _source(run_or_spec, dataset_name: str | None) -> _Source:
    if isinstance(run_or_spec, ModelSpec):
        if dataset_name is None:
            raise ExportError("Name the dataset the spec is trained on (mnist, fashion_mnist, "
                              "digits or a file).")  # fmt: skip
        if dataset_name in NAMED_SHAPES:
            return _Source(run_or_spec, dataset_name, *NAMED_SHAPES[dataset_name])
        from mnist_core.data import load_dataset  # a file: its shape and classes; no Keras

        dataset = load_dataset(dataset_name, download=False)
        return _Source(run_or_spec, str(dataset_name), dataset.image_shape, dataset.n_classes)
    record = run_or_spec
    if record.spec is None:
        what = "a random-forest baseline" if record.kind == "baseline" else "without a model spec"
        raise ExportError(f"Run {record.run_id} is {what}; only Keras runs export as code.")
    summary = record.summary
    return _Source(record.spec, dataset_name or record.dataset, tuple(record.input_shape),
                   record.n_classes, record.run_id,
                   summary.test_accuracy if summary else None,
                   summary.epochs_run if summary else None)  # fmt: skip


def _fill(name: str, **values: str) -> str:
    """Template ``name`` with every ``{{key}}`` replaced, in one pass (text put in is never
    scanned again)."""
    text = (TEMPLATES / name).read_text()
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


# --------------------------------------------------------------------------- shared pieces


def _about(source: _Source) -> list[str]:
    spec, train = source.spec, source.spec.train
    analysis = analyze(spec, input_shape=source.input_shape, n_classes=source.n_classes)
    analysis.raise_first()
    h, w = source.input_shape
    data = plain(Path(source.dataset).name)
    lines = [(f"Model {plain(spec.name)!r} on {data} ({h}x{w} images, {source.n_classes} "
              f"classes), {analysis.total_params:,} parameters:")]  # fmt: skip
    lines += [f"    {f'{row.number}.' if row.number else '+ ':3} {plain(row.name)}"
              for row in analysis.rows[1:]]  # fmt: skip
    lr = f"learning rate {train.effective_learning_rate:g}"
    if train.lr_schedule == "cosine":
        lr += " (cosine to 0)"
    lines.append(f"Trained with {train.optimizer}, {lr}, batch size {train.batch_size}, "
                 f"{train.epochs} epochs, seed {train.seed}.")  # fmt: skip
    if source.test_accuracy is not None:
        lines.append(f"The app measured a test accuracy of {source.test_accuracy:.2%} after "
                     f"{source.epochs_run} epochs.")  # fmt: skip
    return lines


def _needs_flatten(source: _Source) -> bool:
    rows = analyze(source.spec, input_shape=source.input_shape, n_classes=source.n_classes).rows
    return any(row.name == ADDED_FLATTEN for row in rows)


def _names(source: _Source, lang: str) -> dict[str, str]:
    model = keras_name(source.spec.name)
    origin = (f"run {source.run_id} of the MNIST dashboard" if source.run_id
              else "a model of the MNIST dashboard")  # fmt: skip
    return {"title": plain(source.spec.name), "origin": origin, "output": f"{model}-output",
            "file_name": f"train_{model}.{'py' if lang == 'python' else 'R'}"}


def _upload_parts(source: _Source, lang: str) -> dict[str, str]:
    from mnist_core.data import upload_info

    path = Path(source.dataset)
    info = upload_info(path)
    shown = info.title if info is not None else path.name
    default = "." if source.kind == "idx" else path.name
    return {"upload_name": f'"{plain(shown)}"', "format": UPLOAD_FORMATS[source.kind],
            "data_path": string(default)}


def _data(source: _Source, lang: str) -> str:
    kind = source.kind
    prefix = "python" if lang == "python" else "r"
    if kind == "keras":
        from mnist_core.data import NAMED_DATASETS

        title = NAMED_DATASETS[source.dataset].title
        function = f"dataset_{source.dataset}"
        return _fill(f"{prefix}_keras.tmpl", dataset_title=title, module=source.dataset,
                     function=function)  # fmt: skip
    split = _fill(f"{prefix}_split.tmpl")
    if kind == "digits":
        return split + "\n\n" + _fill(f"{prefix}_digits.tmpl")
    upload = _fill(f"{prefix}_upload.tmpl", **_upload_parts(source, lang))
    return "\n\n".join([upload, split, _fill(f"{prefix}_{kind}.tmpl")])


# --------------------------------------------------------------------------- callbacks


@dataclass(frozen=True)
class _Callback:
    """One callback: why (a comment), then the Keras class, the keras3 function and the
    arguments (``path`` is a file in the output folder, given first)."""

    comment: str
    keras: str
    r_function: str
    kwargs: dict
    path: str | None = None


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _callbacks(train) -> list[_Callback]:
    """The callbacks of a run, in the app's order."""
    items = []
    if (es := train.early_stopping) is not None:
        items.append(_Callback(
            f"Stops when {es.monitor} has not improved by {es.min_delta:g} for "
            f"{_epochs(es.patience)}"
            + ("; goes back to the best epoch's weights." if es.restore_best_weights else "."),
            "EarlyStopping", "callback_early_stopping",
            {"monitor": es.monitor, "patience": es.patience, "min_delta": float(es.min_delta),
             "restore_best_weights": es.restore_best_weights},
        ))  # fmt: skip
    if (rl := train.reduce_lr) is not None:
        items.append(_Callback(
            f"Multiplies the learning rate by {rl.factor:g} when {rl.monitor} has not improved "
            f"for {_epochs(rl.patience)}.", "ReduceLROnPlateau", "callback_reduce_lr_on_plateau",
            {"monitor": rl.monitor, "factor": float(rl.factor), "patience": rl.patience,
             "min_lr": float(rl.min_lr)},
        ))  # fmt: skip
    items.append(_Callback("Keeps the last epoch's weights after every epoch, as the app does.",
                           "ModelCheckpoint", "callback_model_checkpoint",
                           {"save_weights_only": True}, "last.weights.h5"))  # fmt: skip
    if es is not None and es.restore_best_weights:
        items.append(_Callback(
            f"And the best epoch's (the app also wants {es.monitor} to improve by min_delta).",
            "ModelCheckpoint", "callback_model_checkpoint",
            {"monitor": es.monitor, "save_best_only": True, "save_weights_only": True},
            "best.weights.h5",
        ))  # fmt: skip
    items.append(_Callback("Loss and accuracy of every epoch, as a table.", "CSVLogger",
                           "callback_csv_logger", {}, "history.csv"))  # fmt: skip
    items.append(_Callback("The app ends a run whose loss turns NaN (or explodes) as diverged.",
                           "TerminateOnNaN", "callback_terminate_on_nan", {}))  # fmt: skip
    return items


def _python_callbacks(train) -> str:
    lines, indent = [], " " * 8
    for item in _callbacks(train):
        args = [f"args.output / {string(item.path)}"] if item.path else []
        args += [f"{k}={value(v, 'python')}" for k, v in item.kwargs.items()]
        lines += [*comment(item.comment, indent),
                  wrap(f"keras.callbacks.{item.keras}", args, ",", indent)]  # fmt: skip
    return "\n".join(lines) + "\n"


def _r_callbacks(train) -> str:
    items, lines, indent = _callbacks(train), [], "  "
    for number, item in enumerate(items):
        tail = "" if number == len(items) - 1 else ","
        args = [f"file.path(output_dir, {string(item.path)})"] if item.path else []
        function = item.r_function
        min_delta = item.kwargs.get("min_delta", 0.0)
        if item.keras == "EarlyStopping" and min_delta != int(min_delta):
            # keras3's callback_early_stopping() passes min_delta through as.integer().
            function = "keras$callbacks$EarlyStopping"
            item = _Callback(item.comment + " (keras3's callback_early_stopping() would round "
                             "min_delta to a whole number, so this calls the Keras class.)",
                             item.keras, function,
                             {**item.kwargs, "patience": RInt(item.kwargs["patience"])})
        args += [f"{k} = {value(v, 'r')}" for k, v in item.kwargs.items()]
        lines += [*comment(item.comment, indent), wrap(function, args, tail, indent)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the scripts


def _optimizer(train) -> Call:
    """The optimizer's call; with a cosine schedule its rate is the script's variable
    ``learning_rate`` (see :func:`_schedule`)."""
    rate = float(train.effective_learning_rate)
    kwargs: dict[str, Any] = {"learning_rate": Code("learning_rate")
                              if train.lr_schedule == "cosine" else rate}  # fmt: skip
    if train.optimizer == "sgd":
        kwargs |= {"momentum": float(train.momentum), "nesterov": bool(train.nesterov)}
    return Call(f"keras.optimizers.{OPTIMIZERS[train.optimizer][0]}", (), kwargs)


_SCHEDULE_COMMENT = (
    "The learning rate falls along a half cosine, step by step, from {rate:g} to 0 after "
    "the last batch of the last epoch, as in the app (Keras trains on the first "
    "(1 - validation split) share of the images, in batches).")


def _schedule(train, lang: str) -> str:
    """The lines that make the cosine schedule before compiling ("" without one)."""
    if train.lr_schedule != "cosine":
        return ""
    rate = float(train.effective_learning_rate)
    text = _SCHEDULE_COMMENT.format(rate=rate)
    if lang == "python":
        return "\n".join([
            *comment(text, "    "),
            "    steps_per_epoch = math.ceil(int(len(x_train) * (1 - VALIDATION_SPLIT)) / "
            "BATCH_SIZE)",
            "    total_steps = steps_per_epoch * args.epochs",
            wrap("learning_rate = keras.optimizers.schedules.CosineDecay",
                 [repr(rate), "decay_steps=total_steps", "alpha=0.0"], "", "    "),
        ]) + "\n"  # fmt: skip
    return "\n".join([
        *comment(text),
        "steps_per_epoch <- ceiling(floor(dim(x_train)[1] * (1 - validation_split)) / "
        "batch_size)",
        "total_steps <- steps_per_epoch * epochs",
        wrap("learning_rate <- learning_rate_schedule_cosine_decay",
             [f"initial_learning_rate = {value(rate, 'r')}", "decay_steps = total_steps",
              "alpha = 0"], ""),
    ]) + "\n"  # fmt: skip


def _docstring_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def python_script(run_or_spec, dataset_name: str | None = None) -> str:
    """A standalone Keras 3 script (numpy and keras; scikit-learn for ``digits``) that
    reproduces a run. ``run_or_spec`` is a RunRecord, or a ModelSpec with ``dataset_name``
    (a named dataset or a file). Raises ExportError or SpecError, in one sentence."""
    source = _source(run_or_spec, dataset_name)
    spec, train, kind = source.spec, source.spec.train, source.kind
    h, w = source.input_shape
    lines = [f'    inputs = keras.Input(shape=({h}, {w}, 1), name="image")']
    current = "inputs"
    for number, layer in enumerate(spec.layers, start=1):
        call = layer_call(layer, number)
        lines.append(wrap(f"x = {python_path(call)}", python_args(call), f"({current})",
                           "    "))  # fmt: skip
        current = "x"
    if _needs_flatten(source):
        lines.append(f'    x = layers.Flatten(name="flatten_output")({current})')
        current = "x"
    lines += [
        f'    outputs = layers.Dense(N_CLASSES, activation="softmax", name="output")({current})',
        f"    return keras.Model(inputs, outputs, name={string(keras_name(spec.name))})",
    ]
    upload = kind in UPLOAD_FORMATS
    imports = {"npz": ["math"], "csv": ["math"], "idx": ["gzip", "math", "re", "struct"]}
    modules = sorted({*imports.get(kind, []), *(["math"] if train.lr_schedule == "cosine" else [])})
    names = _names(source, "python")
    backend = _backend(run_or_spec)
    return _fill(
        "python.tmpl", **{**names, "title": _docstring_text(names["title"])},
        backend=backend, backend_package="jax" if backend == "jax" else "tensorflow",
        about=_docstring_text("\n".join(_about(source))), epochs=str(train.epochs),
        seed=str(train.seed), batch_size=str(train.batch_size),
        validation_split=repr(float(train.validation_split)), n_classes=str(source.n_classes),
        needs=" (and scikit-learn)" if kind == "digits" else "",
        pip=" scikit-learn" if kind == "digits" else "",
        stdlib_imports="".join(f"import {m}\n" for m in modules),
        data=_data(source, "python").rstrip(),
        model_doc=f"The model as the app builds it: {len(spec.layers)} layers, then the "
                  "softmax output.",
        model="\n".join(lines),
        data_argument=('    parser.add_argument("--data", default=DATA_PATH,\n'
                       '                        help="your data (default: DATA_PATH above)")\n')
        if upload else "",
        load_call="load_data(args.data)" if upload else "load_data()",
        optimizer=python_call(_optimizer(train)), callbacks=_python_callbacks(train),
        schedule=_schedule(train, "python"),
    )  # fmt: skip


def _backend(run_or_spec) -> str:
    """The Keras backend a run trained on (recorded in the run; runs from before backends
    were recorded trained on TensorFlow), or the one a spec would train on."""
    from mnist_core.runs.backend import choose_backend, used_backend

    if isinstance(run_or_spec, ModelSpec):
        return choose_backend(run_or_spec)[0]
    used = used_backend(run_or_spec)
    if used is not None:
        return str(used["backend"])
    return "tensorflow" if run_or_spec.summary is not None else choose_backend(run_or_spec.spec)[0]


def r_script(run_or_spec, dataset_name: str | None = None) -> str:
    """The same as :func:`python_script`, as an R script for the keras3 package
    (``keras_model_sequential() |> layer_dense(...)``, ``compile()``, ``fit()``)."""
    source = _source(run_or_spec, dataset_name)
    spec, train, kind = source.spec, source.spec.train, source.kind
    if train.seed > R_MAX_INT:
        raise ExportError(f"The seed {train.seed:,} does not fit R's integers (at most "
                          f"{R_MAX_INT:,}); train with a smaller seed to export to R.")  # fmt: skip
    h, w = source.input_shape
    lines = [(f"model <- keras_model_sequential(input_shape = c({h}, {w}, 1), "
              f"name = {string(keras_name(spec.name))}) |>")]  # fmt: skip
    calls = [layer_call(layer, number) for number, layer in enumerate(spec.layers, start=1)]
    if _needs_flatten(source):
        calls.append(Call("keras.layers.Flatten", (), {"name": "flatten_output"}))
    lines += [wrap(r_function(call)[0], r_args(call), " |>", "  ") for call in calls]
    lines.append('  layer_dense(units = n_classes, activation = "softmax", name = "output")')
    optimizer = _optimizer(train)
    requirements = ""
    if kind == "digits":
        requirements = ('reticulate::py_require("scikit-learn")  # load_data() reads '
                        "scikit-learn's digits\n")  # fmt: skip
    return _fill(
        "r.tmpl", **_names(source, "r"),
        about="\n".join(f"# {line}" for line in _about(source)),
        requirements=requirements, seed=str(train.seed), epochs=str(train.epochs),
        batch_size=str(train.batch_size), validation_split=f"{train.validation_split:g}",
        n_classes=str(source.n_classes), data=_data(source, "r"),
        load_call="load_data(data_path)" if kind in UPLOAD_FORMATS else "load_data()",
        model="\n".join(lines),
        optimizer=wrap(OPTIMIZERS[train.optimizer][1],
                        [f"{k} = {value(v, 'r')}" for k, v in optimizer.kwargs.items()], ""),
        callbacks=_r_callbacks(train), schedule=_schedule(train, "r"),
    )  # fmt: skip
