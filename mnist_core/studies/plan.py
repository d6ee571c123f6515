"""What a study is asked to do: base spec, space, search, objective, budgets, repeats,
pruning and dataset, checked as a whole before anything starts.

:func:`plan_study` returns a :class:`StudyPlan` (written as ``study.json``) or raises
StudyError with one sentence: a grid over :data:`MAX_TRIALS` trials, repeats below 1, a
time budget that is not positive, a base spec without validation data, a backend other
than local or ray (ray needs the cluster's HOST:PORT), or a combination of values that would
not build (checked with ``analyze``: every grid point, or every list value and range end of
a random or TPE search). Planning never connects to anything: whoever starts the study
checks that its backend can be reached.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from mnist_core.models import ModelSpec, SpecError, analyze
from mnist_core.models.fields import shown
from mnist_core.studies.parameters import StudyError
from mnist_core.studies.space import SearchSpace

__all__ = ["BACKENDS", "MAX_REPEATS", "MAX_TRIALS", "OBJECTIVES", "PRUNERS", "SEARCHES",
           "StudyPlan", "plan_study"]  # fmt: skip

SEARCHES = ("grid", "random", "tpe")
BACKENDS = ("local", "ray")
OBJECTIVES = ("val_accuracy", "val_loss")
PRUNERS = ("median", "hyperband")
MAX_TRIALS = 1_000
MAX_REPEATS = 20
MAX_RUNS = 2_000  # trials × repeats
DEFAULT_TRIALS = 10  # random and TPE searches, when no budget is given


@dataclass(frozen=True)
class StudyPlan:
    """A study's settings. ``trials`` is the trial budget: trials that reach a result
    (complete, pruned or failed; trials a person stopped or cancelled do not count).
    ``time_budget``: seconds after each start of the driver during which new trials may
    begin. ``seeds``: one per repeat. ``pruner`` None: no pruning; ``prune_startup``
    trials must complete before any is pruned, and none is pruned before epoch
    ``prune_warmup + 1``. ``backend``: where the trials' runs train (``local``, or ``ray``:
    the cluster at ``address``, HOST:PORT); the driver itself runs on this machine."""

    base: ModelSpec
    space: SearchSpace
    dataset: str
    fingerprint: str
    input_shape: tuple[int, int]
    n_classes: int
    search: str = "tpe"
    objective: str = "val_accuracy"
    trials: int = DEFAULT_TRIALS
    time_budget: float | None = None
    seeds: tuple[int, ...] = (0,)
    pruner: str | None = None
    prune_startup: int = 3
    prune_warmup: int = 0
    search_seed: int = 0
    name: str = ""
    backend: str = "local"
    address: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def repeats(self) -> int:
        return len(self.seeds)

    @property
    def direction(self) -> str:
        return "minimize" if self.objective == "val_loss" else "maximize"

    def trial_spec(self, params: dict[str, Any], seed: int) -> ModelSpec:
        """The spec of one run of a trial: ``params`` applied to the base; with repeats,
        the repeat's ``seed`` (unless the seed itself is varied)."""
        spec = self.space.apply(self.base, params)
        if "seed" not in params:
            spec = replace(spec, train=replace(spec.train, seed=seed))
        return spec

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(base=self.base.to_json(), space=self.space.to_json(),
                    input_shape=list(self.input_shape), seeds=list(self.seeds))  # fmt: skip
        return data

    @classmethod
    def from_json(cls, data: dict) -> StudyPlan:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.update(base=ModelSpec.from_json(data["base"]),
                     space=SearchSpace.from_json(data["space"]),
                     input_shape=tuple(data["input_shape"]), seeds=tuple(data["seeds"]))  # fmt: skip
        return cls(**known)


def plan_study(
    base: ModelSpec,
    vary: list[str] | SearchSpace,
    *,
    dataset: str,
    fingerprint: str,
    input_shape: tuple[int, int],
    n_classes: int,
    search: str = "tpe",
    objective: str = "val_accuracy",
    trials: int | None = None,
    time_budget: float | None = None,
    repeats: int = 1,
    prune: bool | str = False,
    prune_startup: int = 3,
    prune_warmup: int = 0,
    search_seed: int = 0,
    name: str = "",
    backend: str | None = None,
    address: str | None = None,
) -> StudyPlan:
    """Check everything and return the plan; StudyError (one sentence) for anything that
    would fail later. ``vary`` holds ``PATH=VALUES`` texts (see
    :mod:`mnist_core.studies.space`). ``trials`` None: the whole grid, or
    :data:`DEFAULT_TRIALS` for random and TPE. ``prune``: False, True (median) or a
    pruner name. ``backend`` (default ``$MNIST_EXECUTOR``, else local) and ``address``
    (default ``$MNIST_RAY_ADDRESS``): where the trials train."""
    _choice("search", search, SEARCHES)
    backend, address = _where(backend, address)
    _choice("objective", objective, OBJECTIVES)
    pruner = ("median" if prune is True else prune) or None
    if pruner is not None:
        _choice("pruner", pruner, PRUNERS)
    space = vary if isinstance(vary, SearchSpace) else SearchSpace.parse(list(vary), base)
    _whole("repeats", repeats, 1, MAX_REPEATS)
    grid = space.grid_size
    if search == "grid":
        if grid is None:
            ranged = next(d.path for d in space.dimensions if d.is_range)
            raise StudyError(f"A grid needs a list of values for '{ranged}'; give a list, a "
                             "range with a number of points (1e-4..1e-1:log:4), or search "
                             "random or tpe.")  # fmt: skip
        if grid > MAX_TRIALS:
            raise StudyError(f"The grid has {grid:,} combinations, over the limit of "
                             f"{MAX_TRIALS:,} trials; vary fewer settings or give fewer "
                             "values.")  # fmt: skip
    if trials is None:
        trials = grid if search == "grid" else DEFAULT_TRIALS
    _whole("The trial budget", trials, 1, MAX_TRIALS)
    if search == "grid":
        trials = min(trials, grid)
    if trials * repeats > MAX_RUNS:
        raise StudyError(f"{trials:,} trials × {repeats} repeats is {trials * repeats:,} runs, "
                         f"over the limit of {MAX_RUNS:,}; ask for fewer.")  # fmt: skip
    if time_budget is not None and not (isinstance(time_budget, (int, float))
                                        and math.isfinite(time_budget) and time_budget > 0):  # fmt: skip
        raise StudyError(f"The time budget must be a number of seconds above 0; got "
                         f"{shown(time_budget)}.")  # fmt: skip
    if repeats > 1 and "seed" in space.paths:
        raise StudyError("Vary the seed or repeat each trial with several seeds, not both.")
    _whole("prune_startup", prune_startup, 0, MAX_TRIALS)
    _whole("prune_warmup", prune_warmup, 0, 1_000)
    if base.train.validation_split in (0, None):
        raise StudyError("A study compares trials on validation data, and the base spec has "
                         "no validation split; set one (0.2, say).")  # fmt: skip
    seeds = tuple(base.train.seed + i for i in range(repeats)) if isinstance(
        base.train.seed, int) else tuple(range(repeats))  # fmt: skip
    plan = StudyPlan(base, space, dataset, fingerprint, tuple(input_shape), n_classes,
                     search=search, objective=objective, trials=trials,
                     time_budget=time_budget, seeds=seeds, pruner=pruner,
                     prune_startup=prune_startup, prune_warmup=prune_warmup,
                     search_seed=search_seed, name=name or base.name, backend=backend,
                     address=address)  # fmt: skip
    _check_builds(plan)
    return plan


def _where(backend: str | None, address: str | None) -> tuple[str, str | None]:
    """The backend and (for ray) the address, from the arguments or the environment."""
    from mnist_core.runs.executor import EXECUTOR_ENV, RAY_ADDRESS_ENV

    backend = backend or os.environ.get(EXECUTOR_ENV) or "local"
    _choice("backend", backend, BACKENDS)
    if backend == "local":
        return backend, None
    address = (address or os.environ.get(RAY_ADDRESS_ENV) or "").strip()
    if not address:
        raise StudyError(f"The ray backend needs the cluster's HOST:PORT: pass --address or "
                         f"set {RAY_ADDRESS_ENV}.")  # fmt: skip
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise StudyError(f"The Ray address {shown(address)} is not HOST:PORT (the head's port, "
                         "6379 unless `ray start --head --port` said otherwise).")  # fmt: skip
    return backend, address


def _choice(what: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise StudyError(f"The {what} must be one of {', '.join(choices)}; got {shown(value)}.")


def _whole(what: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        subject = what[0].upper() + what[1:]
        raise StudyError(f"{subject} must be a whole number from {low:,} to {high:,}; got "
                         f"{shown(value)}.")  # fmt: skip


def _check_builds(plan: StudyPlan) -> None:
    """Every grid point (or every corner of a random search) must make a valid spec."""
    base_problem = analyze(plan.base, input_shape=plan.input_shape, n_classes=plan.n_classes)
    if not base_problem.ok:
        raise StudyError(f"The base spec cannot be trained: {base_problem.errors[0]}")
    if plan.search == "grid":
        import itertools

        grid = plan.space.grid()
        combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    else:
        combos = plan.space.corners()
    for params in combos:
        try:
            spec = plan.trial_spec(params, plan.seeds[-1])
            analysis = analyze(spec, input_shape=plan.input_shape, n_classes=plan.n_classes)
        except SpecError as exc:
            problem = str(exc)
        else:
            if analysis.ok:
                continue
            problem = str(analysis.errors[0])
        described = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in params.items())  # fmt: skip
        raise StudyError(f"With {described}: {problem[0].lower() + problem[1:]}")
