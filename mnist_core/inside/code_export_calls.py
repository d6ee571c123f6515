"""Keras calls as code: a recorder that turns the layer registry's ``keras`` calls into
:class:`Call` values, and their text in Python or in R (keras3), wrapped to a width.

Used by :mod:`mnist_core.inside.code_export`; imports no Keras.
"""

from __future__ import annotations

import json
import re
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["R_FUNCTIONS", "R_MAX_INT", "WIDTH", "Call", "Code", "ExportError", "RInt", "Recorder",
           "comment", "keras_name", "layer_call", "plain", "python_args", "python_call",
           "python_path", "r_args", "r_call", "r_function", "string", "value", "wrap"]  # fmt: skip

WIDTH = 92  # wrap generated calls longer than this
# Keras call -> (keras3 R function, names of its positional arguments, keep them unnamed).
# Checked against rstudio/keras3's R sources: layer_*() take the model first (piped).
R_FUNCTIONS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "keras.layers.Flatten": ("layer_flatten", (), False),
    "keras.layers.Dense": ("layer_dense", ("units",), False),
    "keras.layers.Dropout": ("layer_dropout", ("rate",), False),
    "keras.layers.Conv2D": ("layer_conv_2d", ("filters", "kernel_size"), False),
    "keras.layers.MaxPooling2D": ("layer_max_pooling_2d", ("pool_size",), False),
    "keras.layers.AveragePooling2D": ("layer_average_pooling_2d", ("pool_size",), False),
    "keras.layers.GlobalAveragePooling2D": ("layer_global_average_pooling_2d", (), False),
    "keras.layers.BatchNormalization": ("layer_batch_normalization", (), False),
    "keras.layers.LayerNormalization": ("layer_layer_normalization", (), False),
    "keras.layers.RandomRotation": ("layer_random_rotation", ("factor",), False),
    "keras.layers.RandomTranslation": (
        "layer_random_translation", ("height_factor", "width_factor"), False),
    # Keras's RandomZoom(factor) zooms height and width alike (width_factor None).
    "keras.layers.RandomZoom": ("layer_random_zoom", ("height_factor", "width_factor"), False),
    "keras.regularizers.L2": ("regularizer_l2", ("l2",), True),
}  # fmt: skip
R_MAX_INT = 2**31 - 1


class ExportError(ValueError):
    """A run or spec that cannot be exported as code; ``str()`` is one sentence."""


# --------------------------------------------------------------------------- recording calls


@dataclass(frozen=True)
class Call:
    """One recorded call: ``path(*args, **kwargs)``, e.g. ``keras.layers.Dense(64, ...)``."""

    path: str
    args: tuple
    kwargs: dict


class Recorder:
    """Stands in for the ``keras`` module: attribute access builds a dotted path, a call
    returns a :class:`Call`."""

    def __init__(self, path: str = "keras"):
        self._path = path

    def __getattr__(self, name: str) -> Recorder:
        return Recorder(f"{self._path}.{name}")

    def __call__(self, *args, **kwargs) -> Call:
        return Call(self._path, args, kwargs)


def layer_call(layer, number: int) -> Call:
    """Layer ``number`` (1-based) of a spec as the Keras call the app's builder makes."""
    return layer.kind.keras(Recorder(), layer.params, f"l{number}_{layer.type.lower()}")


def keras_name(name: str) -> str:
    """The model's Keras name, as :func:`mnist_core.models.keras_build.keras_name` makes it
    (that module imports Keras; a test keeps the two equal)."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")[:64]
    return text or "model"


# --------------------------------------------------------------------------- values as code


def plain(text: Any) -> str:
    """User text made safe for a comment: one line of printable characters."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def string(text: str) -> str:
    """A string literal valid in Python and in R (double quotes, JSON escapes)."""
    return json.dumps(str(text), ensure_ascii=False)


class Code(str):
    """Code written as is, in either language: a variable the script defines (the cosine
    schedule's ``learning_rate``)."""


class RInt(int):
    """An integer written as R's integer literal (``3L``): for a Python function called
    from R directly, which gets no keras3 conversion."""


def value(item: Any, lang: str) -> str:
    """``item`` (a number, text, bool, tuple or :class:`Call`) as ``"python"`` or ``"r"`` code."""
    if isinstance(item, Call):
        return python_call(item) if lang == "python" else r_call(item)
    if isinstance(item, Code):
        return str(item)
    if isinstance(item, bool):
        return ("True" if item else "False") if lang == "python" else str(item).upper()
    if isinstance(item, RInt) and lang == "r":
        return f"{int(item)}L"
    if isinstance(item, (int, float)):
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, (tuple, list)):
        items = ", ".join(value(v, lang) for v in item)
        return f"({items}{',' if len(item) == 1 else ''})" if lang == "python" else f"c({items})"
    raise ExportError(f"No code can be written for the value {item!r}.")


def python_path(call: Call) -> str:
    return call.path.removeprefix("keras.") if call.path.startswith("keras.layers.") else call.path


def python_call(call: Call) -> str:
    return f"{python_path(call)}({', '.join(python_args(call))})"


def python_args(call: Call) -> list[str]:
    # None is each argument's Keras default (no regulariser, ...): left out, as a person would.
    return [value(a, "python") for a in call.args] + [
        f"{k}={value(v, 'python')}" for k, v in call.kwargs.items() if v is not None]


def r_call(call: Call) -> str:
    function, _, _ = r_function(call)
    return f"{function}({', '.join(r_args(call))})"


def r_function(call: Call) -> tuple[str, tuple[str, ...], bool]:
    try:
        return R_FUNCTIONS[call.path]
    except KeyError:
        raise ExportError(f"No keras3 R function is known for {call.path}; add it to "
                          "R_FUNCTIONS in mnist_core/inside/code_export_calls.py.") from None


def r_args(call: Call) -> list[str]:
    _, names, unnamed = r_function(call)
    if len(call.args) > len(names):
        raise ExportError(f"{call.path} takes {len(names)} positional arguments in R_FUNCTIONS; "
                          f"the registry passes {len(call.args)}.")  # fmt: skip
    positional = [value(a, "r") if unnamed else f"{n} = {value(a, 'r')}"
                  for n, a in zip(names, call.args)]  # fmt: skip
    return positional + [f"{k} = {value(v, 'r')}" for k, v in call.kwargs.items() if v is not None]


def wrap(head: str, args: list[str], tail: str, indent: str = "") -> str:
    """``head(arg, arg, ...)tail`` on one line, or its arguments filled onto lines aligned
    after the parenthesis when longer than :data:`WIDTH`."""
    line = f"{indent}{head}({', '.join(args)}){tail}"
    if len(line) <= WIDTH or not args:
        return line
    pad = " " * (len(indent) + len(head) + 1)
    lines, current = [], f"{indent}{head}("
    for number, arg in enumerate(args):
        piece = arg + (", " if number < len(args) - 1 else f"){tail}")
        if len(current) + len(piece.rstrip()) > WIDTH and current.strip() not in (f"{head}(", ""):
            lines.append(current.rstrip())
            current = pad
        current += piece
    return "\n".join([*lines, current])


def comment(text: str, indent: str = "") -> list[str]:
    """``text`` as ``#`` comment lines (Python and R alike), wrapped to :data:`WIDTH`."""
    return textwrap.wrap(text, WIDTH, initial_indent=f"{indent}# ",
                         subsequent_indent=f"{indent}# ")  # fmt: skip
