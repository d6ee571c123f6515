"""Typed settings: a value's kind, range and default, its one-sentence complaint, its form.

A :class:`Field` describes one setting of a layer or of training: ``"int"``, ``"float"``,
``"choice"`` or ``"bool"``, with its range and default. :meth:`Field.problem` checks a
value read from JSON (which may be anything: a string, a list, ``NaN``) and returns the one
sentence that says what would be valid, or None. The same object tells the form which
widget to draw and its bounds, so the form and the validation cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Field", "SpecError", "shown"]

KINDS = ("int", "float", "choice", "bool")


class SpecError(ValueError):
    """An impossible spec. ``layer`` is the 1-based layer number at fault, or None for a
    training setting; ``field`` names the setting."""

    def __init__(self, message: str, *, layer: int | None = None, field: str | None = None):
        super().__init__(message)
        self.layer = layer
        self.field = field


@dataclass(frozen=True)
class Field:
    """One setting.

    ``low``/``high`` bound numbers (None: unbounded on that side); ``low_open``/``high_open``
    make a bound exclusive. ``also`` is one extra valid value outside the range (the
    validation split's 0, "none"). ``label`` names the field in the form; ``subject`` in a
    sentence ("The learning rate"; defaults to the label). ``step`` and ``format`` are the
    form's number input's.
    """

    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    also: float | None = None
    optional: bool = False  # None is valid (the learning rate: "the optimizer's default")
    label: str = ""
    subject: str = ""
    step: float | None = None
    format: str | None = None
    help: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Field {self.name}: kind must be one of {', '.join(KINDS)}; "
                             f"got {self.kind!r}.")  # fmt: skip
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"Field {self.name}: the default {self.default!r} is not a choice.")
        if self.kind in ("int", "float") and self.problem(self.default, "x") is not None:
            raise ValueError(f"Field {self.name}: the default {self.default!r} is out of range.")
        object.__setattr__(self, "label", self.label or self.name)
        object.__setattr__(self, "subject", self.subject or self.label)

    # ------------------------------------------------------------------ validation

    def problem(self, value: Any, subject: str | None = None) -> str | None:
        """The sentence saying why ``value`` is not valid here, or None when it is.
        ``subject`` starts the sentence (default: this field's subject)."""
        subject = subject or self.subject
        if value is None and self.optional:
            return None
        if self.kind == "bool":
            if isinstance(value, bool):
                return None
            return f"{subject} must be true or false; got {shown(value)}."
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return None
            return f"{subject} must be one of {', '.join(self.choices)}; got {shown(value)}."
        if self.kind == "int":
            if _is_int(value) and self._in_range(value):
                return None
            return f"{subject} must be a whole number {self.range_text()}; got {shown(value)}."
        # float
        number = _is_real(value)
        if number and value == self.also:
            return None
        if number and math.isfinite(value) and self._in_range(value):
            return None
        if self.also is not None:  # "0 (none) or a number in [0.01, 0.9]" says it all
            return f"{subject} must be {self.range_text()}; got {shown(value)}."
        if not number or not math.isfinite(value):
            if self.high is None:
                return f"{subject} must be a finite number {self.range_text()}; got {shown(value)}."
            return f"{subject} must be a number {self.range_text()}; got {shown(value)}."
        return f"{subject} must be {self.range_text()}; got {shown(value)}."

    def range_text(self) -> str:
        """The valid values in words: "from 1 to 1,000", "in [0, 1)", "greater than 0"."""
        low, high = self.low, self.high
        if self.kind == "int":
            return f"from {low:,} to {high:,}"
        if high is None:
            text = f"greater than {low:g}" if self.low_open else f"at least {low:g}"
        else:
            text = (f"in {'(' if self.low_open else '['}{low:g}, {high:g}"
                    f"{')' if self.high_open else ']'}")  # fmt: skip
        if self.also is not None:
            text = f"{self.also:g} (none) or a number {text}"
        return text

    def _in_range(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None
                    and (value >= self.high if self.high_open else value > self.high))  # fmt: skip

    # ------------------------------------------------------------------ form

    @property
    def widget_min(self) -> float | None:
        """The form's lower bound: the range's when inclusive (an exclusive bound is left to
        the validation sentence, so the form can hold every number a link may carry)."""
        low = None if self.low is None or self.low_open else self.low
        if low is not None and self.also is not None:
            return min(low, self.also)
        return low

    @property
    def widget_max(self) -> float | None:
        if self.high is None or self.high_open:
            return None
        return self.high

    def fits_form(self, value: Any) -> bool:
        """Whether the form's widget can hold ``value`` (the right kind, within the widget's
        bounds): a value from a link that does not is replaced by the default there."""
        if value is None:
            return self.optional
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "int" and not _is_int(value):
            return False
        if self.kind == "float" and not (_is_real(value) and math.isfinite(value)):
            return False
        low, high = self.widget_min, self.widget_max
        return (low is None or value >= low) and (high is None or value <= high)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shown(value: Any, limit: int = 60) -> str:
    """A value as a sentence quotes it: ``'x'``, ``['Dense']``, ``1e+40``; cut when long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
