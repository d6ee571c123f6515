"""The one error every dataset source raises: :class:`DatasetError`, one sentence for people."""

from __future__ import annotations

from pathlib import Path


class DatasetError(ValueError):
    """A dataset source that cannot be used. ``str(error)`` is one sentence for the user that
    names the file (or dataset) and the problem."""


def fail(path: str | Path, problem: str) -> DatasetError:
    """A :class:`DatasetError` whose message names the file: ``"<name>: <problem>."``."""
    return DatasetError(f"{Path(path).name}: {problem}.")
