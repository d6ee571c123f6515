"""Optuna's side of a study: its storage in the study folder, samplers, pruners, importance.

The storage is a :class:`optuna.storages.JournalStorage` over a
:class:`optuna.storages.journal.JournalFileBackend` file (``optuna-journal.log``): an
append-only log that readers replay, safe to read while the driver writes, on any file
system the runs live on (a shared one for a cluster); ``optuna-dashboard
<study folder>/optuna-journal.log`` opens it too. One Optuna study per folder, named after
the study id.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.samplers import GridSampler, RandomSampler, TPESampler
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from mnist_core.studies.plan import StudyPlan
from mnist_core.studies.store import JOURNAL_FILE

__all__ = ["JOURNAL_FILE", "importances", "load", "make_pruner", "make_sampler"]

optuna.logging.set_verbosity(optuna.logging.WARNING)


class AskTellGridSampler(GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` after the last grid point, which
    only works inside ``study.optimize``; the driver knows when every point has a result."""

    def after_trial(self, study, trial, state, values) -> None:
        return None


def storage(directory: Path) -> JournalStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return JournalStorage(JournalFileBackend(str(directory / JOURNAL_FILE)))


def make_sampler(plan: StudyPlan, *, started: int = 0):
    """The plan's sampler. ``started`` trials exist already (a resumed study): seeding with
    it keeps a resumed random or TPE search from repeating its first points."""
    if plan.search == "grid":
        # Always the same seed: it shuffles the grid, and trials name their point by index.
        return AskTellGridSampler(plan.space.grid(), seed=plan.search_seed)
    seed = plan.search_seed + started
    if plan.search == "random":
        return RandomSampler(seed=seed)
    # Few startup trials: a study here has tens of trials, not hundreds.
    return TPESampler(seed=seed, n_startup_trials=min(10, max(2, plan.trials // 4)))


def make_pruner(plan: StudyPlan):
    if plan.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=plan.prune_startup,
                                           n_warmup_steps=plan.prune_warmup)  # fmt: skip
    if plan.pruner == "hyperband":
        epochs = max(_epochs_values(plan))
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 2))
    return optuna.pruners.NopPruner()


def _epochs_values(plan: StudyPlan) -> list[int]:
    for dimension in plan.space.dimensions:
        if dimension.path == "epochs":
            return [int(v) for v in (dimension.values or (dimension.low, dimension.high))]
    return [plan.base.train.epochs]


def load(directory: Path, plan: StudyPlan, study_id: str, *, create: bool = False) -> optuna.Study:
    """The study's Optuna study, with the plan's sampler and pruner (created if asked)."""
    backend = storage(directory)
    started = 0
    if not create:
        started = len(backend.get_all_trials(backend.get_study_id_from_name(study_id),
                                             deepcopy=False))  # fmt: skip
    kwargs = {"study_name": study_id, "storage": backend, "pruner": make_pruner(plan),
              "sampler": make_sampler(plan, started=started)}  # fmt: skip
    if create:
        return optuna.create_study(direction=plan.direction, load_if_exists=True, **kwargs)
    return optuna.load_study(**kwargs)


def read_trials(directory: Path, study_id: str) -> list[optuna.trial.FrozenTrial]:
    """Every trial of the study, as the journal has them now ([] before the first)."""
    if not (directory / JOURNAL_FILE).exists():
        return []
    backend = storage(directory)
    try:
        study_key = backend.get_study_id_from_name(study_id)
    except KeyError:
        return []
    return backend.get_all_trials(study_key, deepcopy=False)


def importances(study: optuna.Study) -> dict[str, float] | None:
    """Each varied parameter's share of the objective's variance (fANOVA over the complete
    trials), highest first; None with fewer than 2 complete trials or nothing to tell."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        return dict(get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0)))
    except (ValueError, RuntimeError, ZeroDivisionError):
        # Every complete trial alike in some parameter, or one value only: nothing to tell.
        return None
