"""The study driver: the ``study`` job a worker runs (``python -m mnist_core.worker DIR``).

It asks Optuna for trials and runs each as ordinary runs (one per repeat's seed, ``group``
= the study id) through the same FIFO training queue as every run, keeping as many runs in
flight as the queue has slots. The runs train where the plan's backend says: on this
machine, or on a Ray cluster (the driver stays here; it only asks and follows); while that
cluster cannot be reached, the driver waits and says so, telling no trial anything.

It follows the runs' events, reports the objective of each epoch (the mean over the
repeats) to Optuna and, with a pruner, stops a trial's runs when Optuna says prune (the
trial is ``pruned``). A trial whose runs all finished is told the mean of their best
epochs; a failed or diverged run makes its trial ``failed``.

A stop request (:func:`mnist_core.studies.stop`) cancels queued runs, stops running ones,
waits for them and ends the driver ``stopped``. Everything lives in the study folder and
the runs' folders, so a new driver (a resume, or after the machine restarted) adopts the
trials that were in flight and goes on with the same Optuna study.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from optuna.trial import Trial, TrialState

from mnist_core import runs
from mnist_core.models import SpecError
from mnist_core.runs.executor import ExecutorUnavailable, get_executor
from mnist_core.runs.states import ACTIVE, CANCELLED, DONE, FINAL, STOPPED
from mnist_core.studies import optuna_study
from mnist_core.studies.parameters import StudyError
from mnist_core.studies.plan import StudyPlan
from mnist_core.studies.results import curve, mean_sd, run_result
from mnist_core.studies.store import StudyRecord, _load

__all__ = ["POLL_SECONDS", "drive"]

POLL_SECONDS = 0.25
STOP_WAIT_SECONDS = 600.0
STAGE_SECONDS = 1.0  # how often the status says where the trials are
USER_ENDED = ("stopped", "cancelled")  # not a result: not counted, redone on resume


@dataclass
class InFlight:
    """A trial whose runs are queued or training."""

    trial: Trial
    params: dict
    directories: list[Path]
    reported: set[int] = field(default_factory=set)
    pruned_at: int | None = None  # Optuna said prune after this epoch; its runs are stopping


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


class Driver:
    def __init__(self, record: StudyRecord, progress):
        self.record, self.progress = record, progress
        self.plan: StudyPlan = record.plan
        self.study = optuna_study.load(record.directory, self.plan, record.study_id)
        self.inflight: list[InFlight] = []
        self.began = time.monotonic()
        self.stage, self.staged = "", 0.0
        self.executor = get_executor(self.plan.backend, self.plan.address)

    # ------------------------------------------------------------------ the loop

    def run(self) -> str:
        self.adopt()
        while True:
            if self.record.stop_requested:
                return self.stop()
            if not self.reachable():
                time.sleep(POLL_SECONDS)
                continue
            for flight in list(self.inflight):
                if self.follow(flight):
                    self.inflight.remove(flight)
            launched = self.launch_while_free()
            if not self.inflight and not launched and not self.more_to_launch():
                self.report_stage()
                return DONE
            if time.monotonic() - self.staged > STAGE_SECONDS:
                self.report_stage()
            time.sleep(POLL_SECONDS)

    def reachable(self) -> bool:
        """Whether the trials' executor answers; when not, the stage says why (and runs
        that cannot be seen are not taken for dead)."""
        try:
            self.executor.check()
        except ExecutorUnavailable as exc:
            text = f"waiting for the cluster: {exc}"
            if text != self.stage:
                self.progress.stage(text)
                self.stage = text
            return False
        return True

    def adopt(self) -> None:
        """Take over the trials a previous driver left in flight."""
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            trial = Trial(self.study, frozen._trial_id)
            run_ids = frozen.user_attrs.get("run_ids")
            if not run_ids:
                self.end(trial, "cancelled", [], error="The driver stopped before this trial's "
                         "runs were made.")  # fmt: skip
                continue
            directories = [runs.runs_dir() / run_id for run_id in run_ids]
            self.inflight.append(InFlight(trial, dict(frozen.params), directories,
                                          set(frozen.intermediate_values),
                                          frozen.user_attrs.get("pruned_at")))  # fmt: skip

    # ------------------------------------------------------------------ launching

    def tally(self) -> tuple[list, set]:
        """The trials that reached a result, and the grid points in flight or waiting."""
        trials = self.study.get_trials(deepcopy=False)
        results = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
                   or (t.state == TrialState.FAIL and t.user_attrs.get("ended") not in USER_ENDED)]  # fmt: skip
        busy = {_key(t.params) for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)}
        return results, busy

    def remaining(self) -> tuple[int, list[dict]]:
        """How many more trials may start, and (grid) which points have no result yet."""
        results, busy = self.tally()
        left = self.plan.trials - len(results) - len(self.inflight)
        if self.plan.search != "grid":
            return left, []
        import itertools

        grid = self.plan.space.grid()
        done = {_key(t.params) for t in results}
        points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
        open_points = [p for p in points if _key(p) not in done and _key(p) not in busy]
        return min(left, len(open_points)), open_points

    def more_to_launch(self) -> bool:
        in_time = self.plan.time_budget is None or (
            time.monotonic() - self.began < self.plan.time_budget)  # fmt: skip
        return in_time and self.remaining()[0] > 0

    def active_runs(self) -> int:
        return sum(runs.read_status(d).state in ACTIVE for f in self.inflight for d in f.directories)

    def launch_while_free(self) -> int:
        launched = 0
        while not self.record.stop_requested and self.more_to_launch():
            active = self.active_runs()
            if active and active + self.plan.repeats > self.executor.slots():
                break
            self.launch()
            launched += 1
        if launched:
            self.report_stage()
        return launched

    def launch(self) -> None:
        if self.plan.search == "grid":
            self.enqueue_redone_point()
        trial = self.study.ask(self.plan.space.distributions())
        params = dict(trial.params)
        plan = self.plan
        try:
            records = [runs.create_run(plan.trial_spec(params, seed), dataset=plan.dataset,
                                       fingerprint=plan.fingerprint, input_shape=plan.input_shape,
                                       n_classes=plan.n_classes, group=self.record.study_id)
                       for seed in plan.seeds]  # fmt: skip
        except SpecError as exc:  # a sampled combination that cannot be built
            self.end(trial, "failed", [], error=str(exc))
            return
        trial.set_user_attr("run_ids", [r.run_id for r in records])
        trial.set_user_attr("seeds", list(plan.seeds))
        for record in records:
            runs.start(record, executor=self.plan.backend, address=self.plan.address)
        self.inflight.append(InFlight(trial, params, [r.directory for r in records]))

    def enqueue_redone_point(self) -> None:
        """A grid point whose trial a person stopped or cancelled has no result: the grid
        sampler counts it as visited, so it is queued again by hand."""
        count, open_points = self.remaining()
        trials = self.study.get_trials(deepcopy=False)
        ended = {_key(t.params) for t in trials if t.user_attrs.get("ended") in USER_ENDED}
        redo = [p for p in open_points if _key(p) in ended]
        if count > 0 and redo:
            self.study.enqueue_trial(redo[0])

    # ------------------------------------------------------------------ following

    def follow(self, flight: InFlight, *, may_prune: bool = True) -> bool:
        """Report new epochs, prune or tell an ended trial; True when it is told."""
        records = [runs.load_run(d) for d in flight.directories]
        events = [record.events() for record in records]
        objective = self.plan.objective
        curves = [curve(e, objective) for e in events]
        common = set.intersection(*(set(c) for c in curves)) if curves else set()
        for step in sorted(common - flight.reported) if flight.pruned_at is None else ():
            flight.trial.report(mean_sd([c[step] for c in curves])[0], step)
            flight.reported.add(step)
            if may_prune and self.plan.pruner and flight.trial.should_prune():
                # Told once its runs have ended: until then they hold their queue slots.
                flight.pruned_at = step
                flight.trial.set_user_attr("pruned_at", step)  # a new driver finds it
                for record in records:
                    if record.status.active:
                        runs.stop(record)
                break
        if not all(record.status.state in FINAL for record in records):
            return False
        results = [run_result(r, objective, events=e) for r, e in zip(records, events)]
        states = [r.state for r in records]
        if flight.pruned_at is not None:
            self.end(flight.trial, "pruned", results, pruned_at=flight.pruned_at)
        elif all(state == DONE for state in states):
            self.end(flight.trial, "complete", results)
        elif bad := next((r for r in records if r.state not in (DONE, STOPPED, CANCELLED)), None):
            self.end(flight.trial, "failed", results,
                     error=bad.status.error or f"Run {bad.run_id} ended {bad.state}.")  # fmt: skip
        else:
            self.end(flight.trial, CANCELLED if CANCELLED in states else STOPPED, results)
        return True

    def end(self, trial: Trial, how: str, results: list, *, error: str | None = None,
            pruned_at: int | None = None) -> None:
        """Tell Optuna how ``trial`` ended, with each run's result in its attributes."""
        trial.set_user_attr("results", [r.to_json() for r in results])
        trial.set_user_attr("ended", how)
        if error:
            trial.set_user_attr("error", error)
        if pruned_at is not None:
            trial.set_user_attr("pruned_at", pruned_at)
        value = mean_sd([r.value for r in results])[0]
        if how == "complete" and value is None:
            trial.set_user_attr("ended", "failed")
            trial.set_user_attr("error", "The trial's runs measured no validation "
                                f"{self.plan.objective.removeprefix('val_')}.")  # fmt: skip
            how = "failed"
        if how == "complete":
            self.study.tell(trial, value)
            self.record.write_importances(optuna_study.importances(self.study))
        elif how == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        self.report_stage()

    # ------------------------------------------------------------------ stopping

    def stop(self) -> str:
        """Cancel queued runs, stop running ones, and tell each trial how it ended."""
        self.progress.stage("stopping: cancelling queued trials, stopping running ones")
        runs.stop_group(self.record.study_id)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while self.inflight and time.monotonic() < deadline:
            for flight in list(self.inflight) if self.reachable() else ():
                if self.follow(flight, may_prune=False):
                    self.inflight.remove(flight)
            time.sleep(POLL_SECONDS)
        self.report_stage()
        return STOPPED

    def report_stage(self) -> None:
        """Say in the status how many trials are in each state, where the training ones
        are, and the best so far (only when that changed)."""
        record = _load(self.record.directory)
        best = record.best
        text = ", ".join(f"{n} {state}" for state, n in record.counts().items()) or "no trials yet"
        training = [f"trial {row.number} epoch {max(r.epochs_run for r in row.results)}"
                    for row in record.trials if row.state == "running" and row.results]  # fmt: skip
        if training:
            text += f" ({', '.join(training)})"
        if best is not None:
            text += f"; best {self.plan.objective} {best.value:.4f} (trial {best.number})"
        if text != self.stage:
            self.progress.stage(text)
            self.stage = text
        self.staged = time.monotonic()


def drive(directory: Path, progress) -> str:
    """The ``study`` job: run the study in ``directory``; its final state, done or stopped."""
    record = _load(directory)
    if record.plan is None:
        raise StudyError(record.status.error or f"Study {directory.name} has no readable plan.")
    progress.running()
    return Driver(record, progress).run()
