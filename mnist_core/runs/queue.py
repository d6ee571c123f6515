"""The training queue: first in, first out, at most ``$MNIST_MAX_TRAINING`` at once.

Every run's worker starts at once and waits here, costing almost nothing (it has not
imported TensorFlow yet). A waiting run may take a free slot only when no live queued run
was submitted before it, so runs start in submission order; slots are ``flock`` locks the
kernel releases if a worker dies. A run whose worker is gone is not "in the queue": it is
counted by nobody.

Runs training side by side share the machine's cores: each uses :func:`threads_per_run`
threads (the cores divided among the runs that take slots together, see :func:`sharing`, or
``$MNIST_THREADS_PER_RUN``), set by the
worker before TensorFlow starts its thread pools, so that two runs on two cores take one
core each instead of fighting over both.

Two slots are the default: on the 2-core development machine the same four runs (capacity
configurations 256/512 units × 1/2 layers, 2 epochs each, on MNIST) took 38.4 s and 64.9 s
with 1 slot (2 threads per run) and 24.1 s and 31.5 s with 2 slots (1 thread each), timed
in ABBA order while other people's jobs loaded the machine: 2 slots in 0.54 of the time
(``benchmarks/study_bench.py`` at a reduced size; the full size trains 3 epochs). Likely
causes, not measured apart: two runs overlap their start-up (importing TensorFlow, loading
the data) and their evaluation, which one slot does in turn; and on a shared machine two
processes get a larger share of contended cores. ``MNIST_MAX_TRAINING=1`` restores one at
a time.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mnist_core.runs import jobs, states
from mnist_core.runs.states import RUNNING

MAX_TRAINING_ENV = "MNIST_MAX_TRAINING"
THREADS_ENV = "MNIST_THREADS_PER_RUN"
DEFAULT_MAX_TRAINING = 2
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def max_training() -> int:
    """How many runs may train at once (``$MNIST_MAX_TRAINING``, default
    :data:`DEFAULT_MAX_TRAINING`)."""
    try:
        return max(1, int(os.environ.get(MAX_TRAINING_ENV, str(DEFAULT_MAX_TRAINING))))
    except ValueError:
        return DEFAULT_MAX_TRAINING


def available_cores() -> int:
    """The CPU cores this process may run on: its affinity mask (``taskset``, a container's
    cpuset), lowered to a cgroup v2 CPU quota when one is set (``docker --cpus 2``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        pass  # no cgroup v2 file, or "max": no quota
    return max(1, cores)


def threads_per_run(*, slots: int | None = None, cores: int | None = None) -> int:
    """How many threads one training run may use: ``$MNIST_THREADS_PER_RUN`` when it is a
    whole number >= 1, else the available cores divided among the training slots (at least
    1): 2 cores and 1 slot give 2 threads, 2 cores and 2 slots give 1 each."""
    try:
        wanted = int(os.environ.get(THREADS_ENV, "").strip())
    except ValueError:
        wanted = 0
    if wanted >= 1:
        return wanted
    slots = slots or max_training()
    cores = cores or available_cores()
    return max(1, cores // slots)


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued run stands: ``ahead`` live queued runs submitted before it, and
    ``training`` runs holding a slot now."""

    ahead: int
    training: int
    slots: int

    def sentence(self) -> str:
        runs = "run" if self.ahead == 1 else "runs"
        return (f"waiting in the queue: {self.ahead} {runs} ahead, {self.training} training now "
                f"({self.slots} may train at once)")  # fmt: skip


def _order_key(directory: Path, submitted: float | None) -> tuple[float, str]:
    return (submitted or 0.0, directory.name)


def queue_place(directory: Path) -> QueuePlace:
    """The true place of the run in ``directory`` among the live runs of its folder that
    run on the same executor (local runs and Ray runs never wait for each other)."""
    mine_status = jobs.read_status(directory)
    mine = _order_key(directory, mine_status.submitted)
    ahead = training = 0
    for other, status in _live_peers(directory, mine_status.executor):
        if status.state == RUNNING:
            training += 1
        elif _order_key(other, status.submitted) < mine:
            ahead += 1
    return QueuePlace(ahead, training, _slots(mine_status))


def _live_peers(directory: Path, executor: str):
    """(folder, status) of the other queued or running jobs of ``directory``'s folder on
    ``executor``. The file is read first and liveness asked only of the executor's own jobs,
    so a local run never connects to a Ray cluster to find its place."""
    for other in directory.parent.iterdir():
        if other == directory or not other.is_dir() or other.name.startswith("."):
            continue
        recorded = states.read_status(other)
        if not recorded.active or recorded.executor != executor:
            continue
        status = jobs.read_status(other)  # dead workers read as failed: not counted
        if status.active:
            yield other, status


def _slots(status) -> int:
    if status.executor == "local":
        return max_training()
    from mnist_core.runs.executor import get_executor

    return get_executor(status.executor, status.address).slots()


def sharing(directory: Path) -> int:
    """How many runs share the cores as the run in ``directory`` starts to train: the live
    local runs training or queued in its folder, itself included, at most the slot count. A
    run alone takes every core; runs launched together (a study's trials) split them."""
    return min(max_training(), 1 + sum(1 for _ in _live_peers(directory, "local")))


@contextmanager
def training_slot(
    directory: Path,
    *,
    on_wait: Callable[[QueuePlace], None],
    should_stop: Callable[[], bool],
    poll: float = 0.5,
) -> Iterator[bool]:
    """Hold one of the ``max_training()`` slots while the block runs, taking it in turn.

    While waiting, ``on_wait(place)`` is called whenever the place changes. Yields False
    (without a slot) when ``should_stop()`` turns true before the run's turn comes.
    """
    if jobs.read_status(directory).executor != "local":
        # On Ray the job's owner hands the task to Ray only when its turn has come (FIFO per
        # folder, see mnist_core.runs.ray_executor), and Ray has given it its CPUs already.
        yield True
        return
    slots = directory.parent / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    last: QueuePlace | None = None
    while True:
        if should_stop():
            yield False
            return
        place = queue_place(directory)
        if place.ahead == 0:
            taken = _take_free_slot(slots)
            if taken is not None:
                global _held_slot
                handle, _held_slot = taken
                try:
                    yield True
                finally:
                    _held_slot = None
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()
                return
        if place != last:
            on_wait(place)
            last = place
        time.sleep(poll)


def held_slot() -> int | None:
    """The number of the local training slot this process holds (0, 1, ...), or None."""
    return _held_slot


def slot_cpus(slot: int, threads: int) -> list[int] | None:
    """The cores a run in ``slot`` keeps to when it may use ``threads`` of them: slot 0 the
    first ``threads`` cores of this process's affinity mask, slot 1 the next, and so on
    (wrapping). None when ``threads`` covers every core: nothing to pin."""
    cpus = sorted(os.sched_getaffinity(0))
    if threads >= len(cpus):
        return None
    start = (slot * threads) % len(cpus)
    return [cpus[(start + i) % len(cpus)] for i in range(threads)]


_held_slot: int | None = None


def _take_free_slot(slots: Path):
    for number in range(max_training()):
        handle = open(slots / f"slot-{number}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return handle, number
    return None
