"""Studies on full MNIST (issue 11, "Measured"): training slots, and pruning.

(b) The same runs (4 capacity configurations × 3 epochs) with 1 and with 2 training slots
    (``MNIST_MAX_TRAINING``), each run using its threads per run (cores // slots, read back
    from the runs' ``threads`` events), in ABBA order so that a drift in the machine's
    load favours neither; wall time from the first submit to the last run's end. The
    faster should be :data:`mnist_core.runs.queue.DEFAULT_MAX_TRAINING` (a row says
    whether it is).
(a) The capacity grid (the ``capacity`` study preset: Dense networks of 128/256/512/1024
    units × 1/2/3 hidden layers, Adam, batch 128, 20 % validation, 10 epochs: 12
    configurations) as a full grid study and as a pruned grid study with each of Optuna's
    median and Hyperband pruners (the studies' own settings: pruning after 3 complete
    trials, from epoch 1), one after the other in one run, on the default queue, the grid
    sampler visiting the configurations in the same order. A study's best is the
    validation accuracy at its best complete trial's best epoch. Target: a pruned study
    within 0.2 points of the full grid's best in <= 50 % of its wall time; the pruner that
    measured better is named (the fastest within 0.2 points, else the closest).
    Then, with no training, pruning is replayed on the full grid's own recorded curves
    (:func:`replay`: Optuna's sampler and pruner see the trials in the grid's order): the
    median pruner after 1, 2 and 3 complete trials, and Hyperband over 40 draws of its
    brackets (a hash of the study's name puts trials in brackets, so one real Hyperband
    study is one draw). With one slot the replay of the median pruner after 3 trials makes
    the real study's decisions (checked on a reduced run); with two, trials end in another
    order and decisions may differ. A replay's share of the grid's run time is what the
    wall-time ratio would be on a machine whose load did not change between the studies.

``python -m benchmarks --only study`` runs it at full size (full mode only: it does not fit
the quick run's minutes); ``python -m benchmarks.study_bench --epochs 2 --slot-epochs 2``
is a reduced size to check that it works (``--keep-cache`` keeps its runs and studies).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from benchmarks.common import Row, print_table, seeded_cache

GRID_EPOCHS = 10
SLOT_EPOCHS = 3
SLOT_CONFIGS = ((256, 1), (512, 1), (256, 2), (512, 2))  # units, hidden layers
PRUNERS = ("median", "hyperband")
MAX_POINTS_BELOW = 0.2  # the pruned study's best may be this many points below the grid's
MAX_TIME_RATIO = 0.5


def _say(text: str) -> None:
    print(f"[study bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _mnist():
    from mnist_core.data import load_dataset

    return load_dataset("mnist", download=False)


def capacity_plan(epochs: int, pruner: str | None):
    """The capacity-grid study preset from the tutorial's grid settings, as a plan."""
    from mnist_core import studies
    from mnist_core.models import capacity_grid

    base = capacity_grid(units=(128,), depths=(1,), epochs=epochs)[0]
    preset = studies.preset_study("capacity", base)
    dataset = _mnist()
    return studies.plan_study(
        preset.base, list(preset.vary), dataset="mnist", fingerprint=dataset.fingerprint,
        input_shape=dataset.image_shape, n_classes=dataset.n_classes, search=preset.search,
        prune=pruner or False, name=f"capacity grid ({pruner or 'full'})",
    )  # fmt: skip


def _config(params: dict) -> str:
    units = next(v for k, v in params.items() if k.endswith(".units"))
    return f"{units}x{params['hidden_dense_layers']}"


def run_study(plan):
    """Run the study to its end; its record, summary, wall seconds, one line per trial."""
    from mnist_core import studies

    record = studies.create_study(plan)
    start = time.perf_counter()
    studies.start(record)
    status = studies.follow(record, on_stage=lambda text: _say(f"{plan.name}: {text}"))
    seconds = time.perf_counter() - start
    if status.state != "done":
        raise SystemExit(f"{plan.name} ended {status.state}: {status.error}")
    record = record.refresh()
    lines = []
    for row in record.trials:
        how = f"pruned after epoch {row.pruned_at}" if row.state == "pruned" else row.state
        accuracy = f"{row.val_accuracy:.4f}" if row.val_accuracy is not None else "-"
        epochs = max((r.epochs_run for r in row.results), default=0)
        lines.append(f"{_config(row.params):>7}: {how}, {epochs} epochs, best val_accuracy "
                     f"{accuracy} (epoch {row.best_epoch}), {row.seconds or 0:.1f} s training")  # fmt: skip
    return record, studies.summary(record, seconds=seconds), seconds, lines


def bench_pruning(epochs: int) -> list[Row]:
    """(a): the full grid, then each pruner, side by side."""
    from mnist_core.runs import max_training

    what = f"capacity grid, 12 configs × {epochs} epochs, {max_training()} slots"
    grid, full, full_seconds, lines = run_study(capacity_plan(epochs, None))
    _say("full grid trials:\n  " + "\n  ".join(lines))
    best = full["best"]["val_accuracy"]
    rows = [
        Row(f"{what}, full grid: best val accuracy ({_config(full['best']['params'])})", best,
            unit=""),
        Row(f"{what}, full grid: wall time ({_counts(full)})", full_seconds),
    ]  # fmt: skip
    measured = {}
    for pruner in PRUNERS:
        _, pruned, seconds, lines = run_study(capacity_plan(epochs, pruner))
        _say(f"{pruner} pruner trials:\n  " + "\n  ".join(lines))
        accuracy = pruned["best"]["val_accuracy"]
        below = (best - accuracy) * 100
        measured[pruner] = (below, seconds)
        rows += [
            Row(f"{what}, {pruner} pruner: best val accuracy ({_config(pruned['best']['params'])})",
                accuracy, unit="", target=f">= {best - MAX_POINTS_BELOW / 100:.4f}"),
            Row(f"{what}, {pruner} pruner: points below the full grid's best", below,
                unit="pts", target=f"<= {MAX_POINTS_BELOW}"),
            Row(f"{what}, {pruner} pruner: wall time ({_counts(pruned)})", seconds,
                target=f"<= ratio {MAX_TIME_RATIO}", reference=full_seconds,
                reference_name="full grid"),
        ]  # fmt: skip
    rows.append(Row(f"{what}: the pruner that measured better", better_pruner(measured)))
    return rows + replay_rows(grid, what)


def better_pruner(measured: dict[str, tuple[float, float]]) -> str:
    """Of ``{pruner: (points below the grid's best, seconds)}``: the fastest of those within
    :data:`MAX_POINTS_BELOW` points, else the closest to the grid's best."""
    close = [p for p, (below, _) in measured.items() if below <= MAX_POINTS_BELOW]
    if close:
        return min(close, key=lambda p: measured[p][1])
    return min(measured, key=lambda p: measured[p][0])


def grid_runs(record) -> dict[tuple, dict]:
    """Per configuration of a finished full grid: its validation-accuracy curve, the
    seconds from its training start to each epoch's end, and its run's seconds from start
    to end (training plus importing, loading, evaluating and saving)."""
    from mnist_core import runs

    measured = {}
    for row in record.trials:
        run = runs.open_run(row.run_ids[0])
        epochs = [e for e in run.events() if e["type"] == "epoch"]
        status = run.status
        measured[_key(row.params)] = {
            "curve": {e["epoch"]: e["val_accuracy"] for e in epochs},
            "at": {e["epoch"]: e["t"] for e in epochs},
            "fit": run.summary.wall_seconds, "run": status.finished - status.started,
        }  # fmt: skip
    return measured


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def replay(plan, measured: dict[tuple, dict], *, name: str = "replay") -> tuple[float, float]:
    """What ``plan`` (a pruned grid) would have done on the full grid's own curves, with no
    training: Optuna's sampler and pruner (the ones a study uses) see the trials one at a
    time in the grid's order, each reporting its recorded epochs until pruned. Returns the
    best complete trial's value and the run seconds it would have cost (a pruned run: its
    overhead and its epochs up to the pruning one)."""
    import optuna
    from optuna.trial import TrialState

    from mnist_core.studies.optuna_study import make_pruner, make_sampler

    study = optuna.create_study(study_name=name, direction=plan.direction,
                                sampler=make_sampler(plan), pruner=make_pruner(plan))  # fmt: skip
    best, cost = None, 0.0
    for _ in range(plan.trials):
        trial = study.ask(plan.space.distributions())
        config = measured[_key(trial.params)]
        for epoch in sorted(config["curve"]):
            trial.report(config["curve"][epoch], epoch)
            if trial.should_prune():
                cost += config["run"] - config["fit"] + config["at"][epoch]
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            value = max(config["curve"].values())
            cost += config["run"]
            best = value if best is None else max(best, value)
            study.tell(trial, value)
    return best, cost


def replay_rows(grid, what: str, draws: int = 40) -> list[Row]:
    """Pruning settings replayed on the full grid's curves (see :func:`replay`): the median
    pruner after 1, 2 and 3 complete trials; Hyperband, whose trials fall in brackets by a
    hash of the study's name, over ``draws`` names."""
    from dataclasses import replace

    measured = grid_runs(grid)
    best = max(max(c["curve"].values()) for c in measured.values())
    total = sum(c["run"] for c in measured.values())
    rows = []
    for startup in (1, 2, 3):
        value, cost = replay(replace(grid.plan, pruner="median", prune_startup=startup), measured)
        rows.append(Row(f"{what}, replayed on its curves: median pruner after {startup} "
                        "complete trial" + ("s" if startup > 1 else ""),
                        f"{(best - value) * 100:.2f} pts below, {cost / total:.2f} of the time"))  # fmt: skip
    results = [replay(replace(grid.plan, pruner="hyperband"), measured, name=f"draw-{n}")
               for n in range(draws)]  # fmt: skip
    below = [(best - value) * 100 for value, _ in results]
    share = [cost / total for _, cost in results]
    both = sum(b <= MAX_POINTS_BELOW and t <= MAX_TIME_RATIO for b, t in zip(below, share))
    rows.append(Row(f"{what}, replayed on its curves: Hyperband pruner ({draws} bracket draws)",
                    f"{sum(below) / draws:.2f} pts below, {sum(share) / draws:.2f} of the time "
                    f"(both targets met in {both}/{draws})"))  # fmt: skip
    return rows


def _counts(summary: dict) -> str:
    return ", ".join(f"{n} {state}" for state, n in summary["trials"].items())


def time_runs(slots: int, epochs: int) -> tuple[float, set[int]]:
    """Submit the :data:`SLOT_CONFIGS` runs at once with ``slots`` training slots; seconds
    until the last ended, and the threads per run they recorded."""
    from mnist_core import runs
    from mnist_core.models import capacity_grid
    from mnist_core.runs.queue import MAX_TRAINING_ENV

    dataset = _mnist()
    specs = [capacity_grid(units=(u,), depths=(d,), epochs=epochs)[0] for u, d in SLOT_CONFIGS]
    records = [runs.create_run(spec, dataset="mnist", fingerprint=dataset.fingerprint,
                               input_shape=dataset.image_shape, n_classes=dataset.n_classes,
                               group=f"slots-{slots}") for spec in specs]  # fmt: skip
    before = os.environ.get(MAX_TRAINING_ENV)
    os.environ[MAX_TRAINING_ENV] = str(slots)  # the workers inherit it
    try:
        start = time.perf_counter()
        for record in records:
            runs.start(record)
        finals = [runs.wait(record.directory, timeout=7200) for record in records]
        seconds = time.perf_counter() - start
    finally:
        if before is None:
            os.environ.pop(MAX_TRAINING_ENV, None)
        else:
            os.environ[MAX_TRAINING_ENV] = before
    if any(status.state != "done" for status in finals):
        raise SystemExit(f"{slots}-slot runs ended {[s.state for s in finals]}.")
    threads = {e["threads"] for r in records for e in r.events() if e["type"] == "threads"}
    _say(f"{len(records)} runs with {slots} slot(s): {seconds:.1f} s, threads per run {threads}")
    return seconds, threads


def bench_slots(epochs: int, rounds: int) -> list[Row]:
    """(b): 1 vs 2 slots, ``rounds`` times each in ABBA order; the mean of each."""
    from mnist_core.runs.queue import DEFAULT_MAX_TRAINING

    order = [1, 2, 2, 1] * (rounds // 2) + [1, 2] * (rounds % 2)
    times: dict[int, list[float]] = {1: [], 2: []}
    threads: dict[int, set[int]] = {1: set(), 2: set()}
    for slots in order:
        seconds, used = time_runs(slots, epochs)
        times[slots].append(seconds)
        threads[slots] |= used
    mean = {slots: sum(t) / len(t) for slots, t in times.items()}
    what = f"{len(SLOT_CONFIGS)} capacity configs × {epochs} epochs"
    faster = min(mean, key=mean.get)

    def shown(slots: int) -> str:
        used = ", ".join(map(str, sorted(threads[slots])))
        return (f"{what}, {slots} slot{'s' if slots > 1 else ''} ({used} thread"
                f"{'s' if used != '1' else ''} per run; mean of {len(times[slots])})")  # fmt: skip

    return [
        Row(shown(1), mean[1]),
        Row(shown(2), mean[2], reference=mean[1], reference_name="1 slot"),
        Row("the faster slot count = MNIST_MAX_TRAINING's default", str(faster),
            target=f"= {DEFAULT_MAX_TRAINING}"),
    ]  # fmt: skip


def run(*, epochs: int = GRID_EPOCHS, slot_epochs: int = SLOT_EPOCHS, rounds: int = 2) -> list[Row]:
    """Both parts (in a cache the caller seeded with MNIST, see :func:`seeded_cache`)."""
    return [*bench_slots(slot_epochs, rounds), *bench_pruning(epochs)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.study_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--epochs", type=int, default=GRID_EPOCHS, help="capacity grid epochs")
    parser.add_argument("--slot-epochs", type=int, default=SLOT_EPOCHS, help="slot runs' epochs")
    parser.add_argument("--rounds", type=int, default=2, help="times each slot count is timed")
    parser.add_argument("--keep-cache", action="store_true", help="keep the runs and studies")
    args = parser.parse_args()
    cache = seeded_cache()
    try:
        rows = run(epochs=args.epochs, slot_epochs=args.slot_epochs, rounds=args.rounds)
    finally:
        if args.keep_cache:
            _say(f"cache kept in {cache}")
        else:
            shutil.rmtree(cache, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
