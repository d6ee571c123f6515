"""The study store: the one owner of a study folder's layout under ``<cache>/studies/``.

- ``study.json``: the id, when it was made, and the :class:`~mnist_core.studies.plan.StudyPlan`;
- ``optuna-journal.log``: Optuna's storage (see :mod:`mnist_core.studies.optuna_study`);
- ``status.json``, ``job.json``, ``worker.log``, ``worker.lock``: the driver, an ordinary job
  (see :mod:`mnist_core.runs.states`): queued, running, then done, stopped or failed;
- ``stop_requested``: a person asked the study to stop;
- ``importance.json``: the parameters' importance (fANOVA), written by the driver.

Each trial's runs are ordinary runs in ``<cache>/runs/`` with ``group`` = the study id;
a trial's Optuna user attributes name them (``run_ids``, ``seeds``) and, once it ended,
hold each run's result (``results``) and how it ended (``ended``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core import paths
from mnist_core.diskcache import storage_error, write_json_atomic
from mnist_core.runs import RunError, Status, load_run, read_status, runs_dir
from mnist_core.runs.states import DAMAGED
from mnist_core.studies.parameters import StudyError
from mnist_core.studies.plan import StudyPlan
from mnist_core.studies.results import RunResult, mean_sd, run_result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["JOURNAL_FILE", "TRIAL_STATES", "StudyRecord", "TrialRow", "create_study",
           "list_studies", "open_study", "studies_dir"]  # fmt: skip

# How a trial stands, in the order tables count them.
TRIAL_STATES = ("queued", "running", "complete", "pruned", "failed", "stopped", "cancelled")
JOURNAL_FILE = "optuna-journal.log"
_FILES = {"plan": "study.json", "stop": "stop_requested", "importance": "importance.json",
          "journal": JOURNAL_FILE}  # fmt: skip


def studies_dir() -> Path:
    return paths.cache_dir() / "studies"


@dataclass(frozen=True)
class TrialRow:
    """One trial: its parameters, state, runs (one per repeat) and their aggregate: the
    objective's mean and sd over the repeats' best epochs, the mean validation accuracy
    and loss there, the median best epoch, mean training seconds."""

    number: int
    state: str
    params: dict[str, Any]
    results: tuple[RunResult, ...]
    seeds: tuple[int, ...] = ()
    error: str | None = None
    pruned_at: int | None = None

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.results]

    @property
    def value(self) -> float | None:
        return mean_sd([r.value for r in self.results])[0]

    @property
    def sd(self) -> float | None:
        return mean_sd([r.value for r in self.results])[1]

    @property
    def val_accuracy(self) -> float | None:
        return mean_sd([r.val_accuracy for r in self.results])[0]

    @property
    def val_loss(self) -> float | None:
        return mean_sd([r.val_loss for r in self.results])[0]

    @property
    def best_epoch(self) -> int | None:
        epochs = [r.best_epoch for r in self.results if r.best_epoch is not None]
        return int(statistics.median_low(epochs)) if epochs else None

    @property
    def seconds(self) -> float | None:
        return mean_sd([r.seconds for r in self.results])[0]


@dataclass(frozen=True)
class StudyRecord:
    """A study as its folder describes it, read at one moment (see :meth:`refresh`)."""

    study_id: str
    directory: Path
    plan: StudyPlan | None
    created: float
    status: Status
    problems: tuple[str, ...] = field(default=())

    def path(self, name: str) -> Path:
        return self.directory / _FILES[name]

    @property
    def state(self) -> str:
        """The driver's state: new (never started), queued, running, done, stopped, failed
        (or damaged)."""
        return self.status.state or (DAMAGED if self.problems else "new")

    @property
    def name(self) -> str:
        return self.plan.name if self.plan else "?"

    @property
    def stop_requested(self) -> bool:
        return self.path("stop").exists()

    def refresh(self) -> StudyRecord:
        return open_study(self.study_id)

    @cached_property
    def trials(self) -> list[TrialRow]:
        """Every trial asked so far, by number; a live trial's results are read from its runs."""
        from mnist_core.studies.optuna_study import read_trials

        if self.plan is None:
            return []
        rows = []
        for trial in read_trials(self.directory, self.study_id):
            if trial.state.name == "WAITING":  # enqueued for a resumed grid, not begun
                continue
            rows.append(_trial_row(trial, self.plan.objective))
        return rows

    def counts(self) -> dict[str, int]:
        """How many trials are in each state (states with none left out)."""
        counted = {state: 0 for state in TRIAL_STATES}
        for row in self.trials:
            counted[row.state] = counted.get(row.state, 0) + 1
        return {state: n for state, n in counted.items() if n}

    @property
    def best(self) -> TrialRow | None:
        """The complete trial with the best objective (mean over repeats); the first of equals."""
        complete = [r for r in self.trials if r.state == "complete" and r.value is not None]
        if not complete or self.plan is None:
            return None
        sign = 1 if self.plan.direction == "minimize" else -1
        return min(complete, key=lambda r: (sign * r.value, r.number))

    @property
    def importances(self) -> dict[str, float] | None:
        try:
            data = json.loads(self.path("importance").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: trial, state, a column per varied parameter, objective, sd,
        val_accuracy, val_loss, best_epoch, seconds, run_id (the first repeat's), repeats
        finished, error."""
        import pandas as pd

        columns = ["trial", "state", *(self.plan.space.paths if self.plan else []), "objective",
                   "sd", "val_accuracy", "val_loss", "best_epoch", "seconds", "run_id",
                   "repeats", "error"]  # fmt: skip
        rows = [{"trial": r.number, "state": r.state, **r.params, "objective": r.value,
                 "sd": r.sd, "val_accuracy": r.val_accuracy, "val_loss": r.val_loss,
                 "best_epoch": r.best_epoch, "seconds": r.seconds,
                 "run_id": r.run_ids[0] if r.run_ids else None,
                 "repeats": sum(x.value is not None for x in r.results), "error": r.error}
                for r in self.trials]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def runs_frame(self) -> pd.DataFrame:
        """One row per run: trial, repeat, seed, run_id, state, best_epoch, objective,
        val_accuracy, val_loss, epochs_run, seconds."""
        import pandas as pd

        columns = ["trial", "repeat", "seed", "run_id", "state", "best_epoch", "objective",
                   "val_accuracy", "val_loss", "epochs_run", "seconds"]  # fmt: skip
        rows = [{"trial": row.number, "repeat": i + 1,
                 "seed": row.seeds[i] if i < len(row.seeds) else None, "run_id": r.run_id,
                 "state": r.state, "best_epoch": r.best_epoch, "objective": r.value,
                 "val_accuracy": r.val_accuracy, "val_loss": r.val_loss,
                 "epochs_run": r.epochs_run, "seconds": r.seconds}
                for row in self.trials for i, r in enumerate(row.results)]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    # ------------------------------------------------------------------ written by others

    def request_stop(self) -> None:
        self.path("stop").touch()

    def clear_stop(self) -> None:
        self.path("stop").unlink(missing_ok=True)

    def write_importances(self, values: dict[str, float] | None) -> None:
        if values is None:
            self.path("importance").unlink(missing_ok=True)
        else:
            write_json_atomic(self.path("importance"), values)


def _trial_row(trial, objective: str) -> TrialRow:
    attrs = trial.user_attrs
    seeds = tuple(attrs.get("seeds") or ())
    if trial.state.name != "RUNNING":
        results = tuple(RunResult.from_json(r) for r in attrs.get("results") or ())
        ended = attrs.get("ended") or trial.state.name.lower()
        return TrialRow(trial.number, ended, dict(trial.params), results, seeds,
                        attrs.get("error"), attrs.get("pruned_at"))  # fmt: skip
    results = tuple(_live_result(run_id, objective) for run_id in attrs.get("run_ids") or ())
    # Pruned, its runs still stopping (the driver tells Optuna once they have ended).
    state = "pruned" if "pruned_at" in attrs else live_state([r.state for r in results])
    return TrialRow(trial.number, state, dict(trial.params), results, seeds,
                    pruned_at=attrs.get("pruned_at"))  # fmt: skip


def _live_result(run_id: str, objective: str) -> RunResult:
    try:
        return run_result(load_run(runs_dir() / run_id), objective)
    except RunError as exc:
        return RunResult(run_id, DAMAGED, error=str(exc))


def live_state(run_states: list[str]) -> str:
    """A running trial's state from its runs' states."""
    if not run_states or all(s == "queued" for s in run_states):
        return "queued"
    if any(s in ("queued", "running") for s in run_states):
        return "running"
    for state, shown_as in (("failed", "failed"), ("diverged", "failed"), (DAMAGED, "failed"),
                            ("cancelled", "cancelled"), ("stopped", "stopped")):  # fmt: skip
        if state in run_states:
            return shown_as
    return "complete"


def _check_id(study_id: str) -> None:
    if (not isinstance(study_id, str) or not study_id or "/" in study_id or "\\" in study_id
            or study_id.startswith(".") or len(study_id) > 100):  # fmt: skip
        raise StudyError(f"{study_id!r} is not a study id (study ids look like "
                         "20261121-101500-ab12cd).")  # fmt: skip


def open_study(study_id: str) -> StudyRecord:
    """The record of study ``study_id``; StudyError (one sentence) for a bad or unknown id."""
    _check_id(study_id)
    directory = studies_dir() / study_id
    if not directory.is_dir():
        raise StudyError(f"There is no study {study_id} in {studies_dir()}.")
    return _load(directory)


def list_studies() -> list[StudyRecord]:
    """Every study, newest first."""
    root = studies_dir()
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [_load(d) for d in sorted(folders, key=lambda p: p.name, reverse=True)]


def _load(directory: Path) -> StudyRecord:
    problems = []
    plan, created = None, 0.0
    try:
        data = json.loads((directory / _FILES["plan"]).read_text())
        plan, created = StudyPlan.from_json(data["plan"]), float(data.get("created") or 0.0)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"study.json is missing or unreadable ({exc})")
    status = read_status(directory)
    if problems:
        status = Status(DAMAGED, stage=DAMAGED, error=f"Study {directory.name} is damaged: "
                        f"{'; '.join(problems)}.", finished=status.finished)  # fmt: skip
    return StudyRecord(directory.name, directory, plan, created, status, tuple(problems))


def create_study(plan: StudyPlan) -> StudyRecord:
    """Write a new study folder for ``plan`` with an empty Optuna study in it (the driver
    is started by :func:`mnist_core.studies.start`). StorageError when it cannot be written."""
    from mnist_core.studies import optuna_study

    study_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    directory = studies_dir() / study_id
    try:
        directory.mkdir(parents=True)
        write_json_atomic(directory / _FILES["plan"], {"study_id": study_id, "created": time.time(),
                                                       "plan": plan.to_json()})  # fmt: skip
        optuna_study.load(directory, plan, study_id, create=True)
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise storage_error(exc, directory / _FILES["plan"]) from None
    return _load(directory)
