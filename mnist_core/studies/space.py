"""A search space: which parameters vary, over which values, and a trial's spec.

A dimension is written ``PATH=VALUES`` (the CLI's ``--vary``, the page's fields):

- a list: ``batch_size=16,128,512``, ``optimizer=sgd,rmsprop,adam``;
- a range: ``learning_rate=1e-4..1e-1:log``, ``layer 2.units=32..512:int``,
  ``layer 3.rate=0.1..0.5``; ``:log`` samples on a log scale, ``:int`` whole numbers (the
  default for whole-number settings), and a number (``1e-4..1e-1:log:4``) turns the range
  into that many evenly spaced points (1e-4, 1e-3, 1e-2, 0.1), which a grid can use.

Every value is checked against the parameter's typed field (see
:mod:`mnist_core.studies.parameters`) when it is parsed, so a bad value is one sentence
before anything starts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from mnist_core.models import ModelSpec
from mnist_core.models.fields import shown
from mnist_core.studies.parameters import Parameter, StudyError, resolve

__all__ = ["MAX_POINTS", "Dimension", "SearchSpace", "parse_dimension"]

MAX_POINTS = 1_000
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\s*\.\.\s*({_NUMBER})((?::\w+)*)$")
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclass(frozen=True)
class Dimension:
    """One varied parameter: a list of ``values``, or a range ``low``..``high`` (``log``
    scale; ``integer`` for whole-number settings)."""

    path: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None

    def text(self) -> str:
        """The dimension as it is written: ``batch_size=16,128``, ``learning_rate=0.0001..0.1:log``."""
        if not self.is_range:
            return f"{self.path}={','.join(_format(v) for v in self.values)}"
        options = (":log" if self.log else "") + (":int" if self.integer else "")
        return f"{self.path}={_format(self.low)}..{_format(self.high)}{options}"

    def distribution(self):
        """Optuna's distribution of this dimension."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if not self.is_range:
            return CategoricalDistribution(self.values)
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, log=self.log)

    def to_json(self) -> dict:
        if not self.is_range:
            return {"path": self.path, "values": list(self.values)}
        return {"path": self.path, "low": self.low, "high": self.high, "log": self.log,
                "integer": self.integer}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Dimension:
        values = data.get("values")
        return cls(data["path"], tuple(values) if values is not None else None, data.get("low"),
                   data.get("high"), bool(data.get("log")), bool(data.get("integer")))  # fmt: skip


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_dimension(text: str, base: ModelSpec) -> Dimension:
    """``"PATH=VALUES"`` as a checked dimension of a study of ``base``; StudyError (one
    sentence) for an unknown parameter, a malformed or empty range, a value out of range."""
    if not isinstance(text, str) or "=" not in text:
        raise StudyError(f"{shown(text)} does not say what to vary; write PATH=VALUES, as in "
                         "batch_size=16,128,512 or learning_rate=1e-4..1e-1:log.")  # fmt: skip
    path, _, values = text.partition("=")
    parameter = resolve(path.strip(), base)
    values = values.strip()
    if not values:
        raise StudyError(f"'{parameter.path}' has no values; give a list (a,b,c) or a range "
                         "(low..high).")  # fmt: skip
    match = _RANGE.match(values)
    if match is None:
        tokens = [token.strip() for token in values.split(",")]
        if "" in tokens:
            raise StudyError(f"'{parameter.path}={values}' has an empty value; separate "
                             "values with single commas.")  # fmt: skip
        return _list_dimension(parameter, [_parse_value(parameter, token) for token in tokens])
    return _range_dimension(parameter, match, values)


def _parse_value(parameter: Parameter, token: str) -> Any:
    kind = parameter.field.kind
    value: Any = token
    if kind == "bool" and token.lower() in _TRUE + _FALSE:
        value = token.lower() in _TRUE
    elif kind in ("int", "float") and re.fullmatch(_NUMBER, token):
        number = float(token)
        value = int(number) if kind == "int" and number.is_integer() else number
    if problem := parameter.problem(value):
        raise StudyError(problem)
    return value


def _list_dimension(parameter: Parameter, values: list[Any]) -> Dimension:
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_POINTS:
        raise StudyError(f"'{parameter.path}' has {len(unique):,} values; at most "
                         f"{MAX_POINTS:,} are allowed.")  # fmt: skip
    return Dimension(parameter.path, tuple(unique))


def _range_dimension(parameter: Parameter, match: re.Match, written: str) -> Dimension:
    path, kind = parameter.path, parameter.field.kind
    if kind not in ("int", "float"):
        raise StudyError(f"'{path}' takes a list of values (such as "
                         f"{','.join(parameter.field.choices[:3]) or 'true,false'}), not a "
                         "range.")  # fmt: skip
    low, high = float(match[1]), float(match[2])
    log = integer = False
    points = None
    for option in filter(None, match[3].split(":")):
        if option == "log":
            log = True
        elif option == "int":
            integer = True
        elif option.isdigit():
            points = int(option)
        else:
            raise StudyError(f"Unknown range option {option!r} in '{path}={written}'; use log, "
                             "int or a number of points.")  # fmt: skip
    integer = integer or kind == "int"
    if not low < high:
        raise StudyError(f"The range {written} for '{path}' is empty; write LOW..HIGH with LOW "
                         "below HIGH.")  # fmt: skip
    if log and low <= 0:
        raise StudyError(f"A log range must lie above 0; '{path}' got {written}.")
    if integer and not (low.is_integer() and high.is_integer()):
        raise StudyError(f"'{path}' takes whole numbers; the range {written} has fractional "
                         "ends.")  # fmt: skip
    for end in (low, high):
        if problem := parameter.problem(int(end) if kind == "int" else end):
            raise StudyError(problem)
    if points is None:
        return Dimension(path, None, int(low) if integer else low, int(high) if integer else high,
                         log=log, integer=integer)  # fmt: skip
    if not 2 <= points <= MAX_POINTS:
        raise StudyError(f"A range's number of points must be from 2 to {MAX_POINTS:,}; "
                         f"'{path}' asks for {points}.")  # fmt: skip
    return _list_dimension(parameter, _spaced(low, high, points, log=log, integer=integer))


def _spaced(low: float, high: float, points: int, *, log: bool, integer: bool) -> list:
    if log:
        a, b = math.log10(low), math.log10(high)
        values = [10 ** (a + (b - a) * i / (points - 1)) for i in range(points)]
    else:
        values = [low + (high - low) * i / (points - 1) for i in range(points)]
    values[0], values[-1] = low, high  # exact ends, whatever the rounding
    if integer:
        return [round(v) for v in values]
    return [float(f"{v:.6g}") for v in values]


@dataclass(frozen=True)
class SearchSpace:
    """The varied dimensions of a study, in the order given."""

    dimensions: tuple[Dimension, ...]

    @classmethod
    def parse(cls, texts: list[str], base: ModelSpec) -> SearchSpace:
        """Parse ``PATH=VALUES`` texts; StudyError for none, or a parameter given twice."""
        if not texts:
            raise StudyError("A study needs at least one parameter to vary, as in "
                             "--vary 'batch_size=16,128,512'.")  # fmt: skip
        dimensions = [parse_dimension(text, base) for text in texts]
        paths = [d.path for d in dimensions]
        for path in paths:
            if paths.count(path) > 1:
                raise StudyError(f"'{path}' is varied twice; give it one list or range.")
        return cls(tuple(dimensions))

    @property
    def paths(self) -> list[str]:
        return [d.path for d in self.dimensions]

    @property
    def grid_size(self) -> int | None:
        """How many combinations a grid has; None when a dimension is a continuous range."""
        if any(d.is_range for d in self.dimensions):
            return None
        return math.prod(len(d.values) for d in self.dimensions)

    def grid(self) -> dict[str, list]:
        """The grid as Optuna's GridSampler takes it."""
        return {d.path: list(d.values) for d in self.dimensions}

    def distributions(self) -> dict:
        return {d.path: d.distribution() for d in self.dimensions}

    def apply(self, base: ModelSpec, params: dict[str, Any]) -> ModelSpec:
        """``base`` with a trial's ``params`` applied (layer settings first, then the number
        of hidden Dense layers); an ordinary spec, for ``analyze`` and ``create_run``."""
        resolved = sorted((resolve(path, base) for path in params), key=lambda p: p.order)
        spec = base
        for parameter in resolved:
            spec = parameter.apply(spec, params[parameter.path])
        return spec

    def corners(self) -> list[dict[str, Any]]:
        """Combinations worth checking before a search starts: every list value and both ends
        of every range, all together when there are at most ``MAX_POINTS`` combinations, else
        one dimension at a time (the others at their first value)."""
        options = [list(d.values) if not d.is_range else [d.low, d.high] for d in self.dimensions]
        if math.prod(len(o) for o in options) <= MAX_POINTS:
            import itertools

            return [dict(zip(self.paths, combo)) for combo in itertools.product(*options)]
        first = {path: values[0] for path, values in zip(self.paths, options)}
        return [{**first, path: value} for path, values in zip(self.paths, options)
                for value in values]  # fmt: skip

    def to_json(self) -> list[dict]:
        return [d.to_json() for d in self.dimensions]

    @classmethod
    def from_json(cls, data: list[dict]) -> SearchSpace:
        return cls(tuple(Dimension.from_json(d) for d in data))
