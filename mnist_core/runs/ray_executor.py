"""The ``ray`` executor: a job's worker runs on a Ray cluster (``MNIST_EXECUTOR=ray``,
``MNIST_RAY_ADDRESS=HOST:PORT``, the head's GCS port), on the same job folder, which must be
on storage every node sees at the same path (the cache folder, ``MNIST_CACHE_DIR``).

**Outliving the submitter.** A normal Ray task is killed when the process that submitted it
exits, and the Streamlit server or the CLI submit and go away. So each job gets a *detached*
named actor (namespace :data:`NAMESPACE`, 0 CPUs, no restarts; see
:mod:`mnist_core.runs.ray_owner`) whose creation the Ray head owns: it outlives whoever
submitted it, waits for the job's turn, runs the worker (``mnist_core.worker``'s ``main`` on
the folder, its output in ``worker.log``) as a Ray task with the job's CPU and GPU request
(``MNIST_RAY_CPUS``, default 1; ``MNIST_RAY_GPUS``, default 0) that it owns, and exits when
the job has ended. Ray ships their code; they run this checkout (at the same path on every
node, with the same virtual environment as ``ray start``) with the submitter's ``MNIST_*``
settings. The job's status records ``executor: "ray"``, the cluster's ``address`` and the
actor's name (``task``); its ``pid`` is the Ray worker process that trains.

**Liveness** is Ray's: the job is alive while its actor is (``ray.get_actor`` finds a named
actor from the moment it is registered until it is dead), never a pid or a lock. When the
task dies (its process killed, its node lost), the owner writes ``failed`` with a sentence;
when the owner itself is gone, reading derives ``failed``. A cluster that cannot be reached
reads as ``failed`` with that sentence, derived, never written: once it answers again the
job reads as it really is.

**The queue (FIFO, place, Stop/Cancel) on Ray.** Ray's scheduler does not start waiting
work in submission order (eight same-sized actors on two CPUs started as 0 1 3 2 5 4), so it
cannot be the queue by itself, and the local ``flock`` slots cannot be either: a run holding
Ray CPUs while it waits for a slot behind a run Ray has not started yet can block the
cluster, and ``MNIST_MAX_TRAINING`` counts one machine's runs, not a cluster's. Instead each
owner waits (at no CPU cost) until no live queued Ray job of its folder was submitted before
it, then hands its task to Ray; the next one waits until that task has started. So at most
one job of a folder is pending in Ray at a time, jobs start in submission order, and as
many train at once as the cluster has CPUs for (:meth:`RayExecutor.slots`). Stop writes the
stop request, as for local runs; the owner then cancels at once a task that has not started
(the run ends ``cancelled``), and cancels a started one that has not ended within
``MNIST_STOP_GRACE_SECONDS`` (default 60: a stopped run is still evaluated) of the request.

**Connecting** happens only when a job says ray, once per process (cached), after a probe
that the address answers gRPC (an unreachable or wrong address is one sentence in
milliseconds, where ``ray.init`` would wait minutes). Ray ends a connected process whose
cluster stays unreachable for ``RAY_gcs_rpc_server_reconnect_timeout_s`` (60 s); a shared
server must outlive its cluster, so that limit is raised here unless it was set. The machine
that connects must be a node of the cluster (``ray start --address HEAD:PORT --num-cpus 0``
on a machine that only serves the app).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
import threading
import time
from pathlib import Path

from mnist_core.paths import CACHE_ENV_VAR, PROJECT_ROOT, cache_dir
from mnist_core.runs import states
from mnist_core.runs.executor import LOG_FILE, RAY_ADDRESS_ENV, ExecutorUnavailable
from mnist_core.runs.states import QUEUED, Status

NAMESPACE = "mnist_dashboard"
CPUS_ENV, GPUS_ENV, GRACE_ENV = "MNIST_RAY_CPUS", "MNIST_RAY_GPUS", "MNIST_STOP_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 60.0
PROBE_SECONDS = 2.0  # how long an address may take to answer the probe
PROBE_CACHE_SECONDS = 2.0  # a probe's answer is reused this long (pages poll often)
LAUNCH_GRACE_SECONDS = 10.0  # a job whose actor is not found yet may still be registering
CALL_SECONDS = 10.0  # the longest a question to the cluster may take
RECONNECT_ENV = "RAY_gcs_rpc_server_reconnect_timeout_s"
# Every environment variable of the submitter with these prefixes goes to the job's worker.
FORWARDED = ("MNIST_", "KERAS_", "TF_")
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"

_lock = threading.Lock()
_connected: list[str] = []  # the address this process is connected to (at most one)
_probes: dict[str, tuple[float, str | None]] = {}
_capacity: dict[str, tuple[float, int]] = {}
_remote: dict[str, object] = {}


# ---------------------------------------------------------------------- connecting


def split_address(address: str | None) -> tuple[str, int]:
    """``HOST:PORT`` as a pair; ExecutorUnavailable (one sentence) for anything else."""
    if not address:
        raise ExecutorUnavailable(f"The ray backend needs the cluster's HOST:PORT: pass "
                                  f"--address or set {RAY_ADDRESS_ENV}.")  # fmt: skip
    host, _, port = str(address).strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorUnavailable(
            f"The Ray address {address!r} is not HOST:PORT (the head's port, 6379 unless "
            "`ray start --head --port` said otherwise).")  # fmt: skip
    return host, int(port)


def probe(address: str) -> str | None:
    """Why ``address`` cannot be a Ray head (None when it answers gRPC), cached briefly."""
    now = time.monotonic()
    cached = _probes.get(address)
    if cached and now - cached[0] < PROBE_CACHE_SECONDS:
        return cached[1]
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS) as conn:
            conn.settimeout(PROBE_SECONDS)
            conn.sendall(_HTTP2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = conn.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
        reason = None if len(head) == 9 and head[3] == 4 else "it answers, but not as a Ray head"
    except TimeoutError:
        reason = f"no answer within {PROBE_SECONDS:g} s"
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
    _probes[address] = (now, reason)
    return reason


def unreachable(address: str, reason: str) -> ExecutorUnavailable:
    return ExecutorUnavailable(f"Cannot reach the Ray cluster at {address}: {reason}; start one "
                               f"with `ray start --head` or check {RAY_ADDRESS_ENV}.")  # fmt: skip


def connect(address: str):
    """The ``ray`` module, this process connected to the cluster at ``address`` (once per
    process; inside a Ray worker, the cluster it runs on). ExecutorUnavailable otherwise."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized() and not _connected:
        return ray  # a Ray worker (a job's owner or task): on the cluster already
    reason = probe(address)
    if reason is not None:
        raise unreachable(address, reason)
    # A lost cluster must not end this process; a wrong port must not keep it waiting long.
    os.environ.setdefault(RECONNECT_ENV, str(10**9))
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "10")
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable("Ray is not installed here; install the project's "
                                  "requirements (ray) to use the ray executor.") from None
    with _lock:
        if _connected and not ray.is_initialized():
            _connected.clear()  # someone called ray.shutdown(): connect again
        if _connected and _connected[0] != address:
            raise ExecutorUnavailable(f"This process follows the Ray cluster at {_connected[0]}; "
                                      f"it cannot also use {address}.")  # fmt: skip
        if not _connected:
            try:
                ray.init(address=address, namespace=NAMESPACE, logging_level=logging.ERROR,
                         log_to_driver=False)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 (Ray raises many kinds; one sentence)
                raise unreachable(address, first_line(exc)) from None
            _connected.append(address)
    return ray


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


# ---------------------------------------------------------------------- the executor


def _number(env: str, default: float) -> float:
    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        return default
    return value if value >= 0 else default


def job_cpus() -> float:
    return _number(CPUS_ENV, 1.0) or 1.0


class RayExecutor:
    """Jobs on the Ray cluster at ``address`` (default ``$MNIST_RAY_ADDRESS``)."""

    name = "ray"

    def __init__(self, address: str | None = None):
        self.address = address or os.environ.get(RAY_ADDRESS_ENV) or None

    def check(self) -> None:
        """Connect now: ExecutorUnavailable (one sentence) when the cluster cannot be used."""
        connect(self._address())

    def _address(self) -> str:
        split_address(self.address)
        return self.address

    def slots(self) -> int:
        """How many jobs the cluster can run at once: its CPUs over each job's request."""
        address = self._address()
        cached = _capacity.get(address)
        if cached and time.monotonic() - cached[0] < 10:
            return cached[1]
        ray = connect(address)
        cpus = answer(address, ray.cluster_resources).get("CPU", 0)
        slots = max(1, int(cpus // job_cpus()))
        _capacity[address] = (time.monotonic(), slots)
        return slots

    def handle(self, directory: Path) -> dict:
        """The actor's name, recorded in the status before the actor exists."""
        return {"task": f"job-{directory.name}-{secrets.token_hex(4)}"}

    def launch(self, directory: Path) -> dict:
        """Create the job's owner actor (detached: it outlives this process)."""
        address = self._address()
        ray = connect(address)
        name = states.read_status(directory).task
        cpus = job_cpus()
        options = {"cpus": cpus, "gpus": _number(GPUS_ENV, 0.0), "address": address,
                   "grace": _number(GRACE_ENV, DEFAULT_GRACE_SECONDS), "root": str(PROJECT_ROOT),
                   "env": _job_env(cpus, self.slots())}  # fmt: skip
        try:
            remote(ray, "owner").options(
                name=name, namespace=NAMESPACE, lifetime="detached", num_cpus=0, max_restarts=0,
            ).remote(str(directory), options)  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            raise ExecutorUnavailable(f"The Ray cluster at {address} did not take the job: "
                                      f"{first_line(exc)}.") from None  # fmt: skip
        return {}

    def alive(self, directory: Path, status: Status) -> bool | str:
        """True while the job's actor lives; else the sentence saying why it is gone."""
        address = status.address or self.address or ""
        try:
            ray = connect(address)
        except ExecutorUnavailable as exc:
            return f"{exc} Until it answers, where this job is cannot be known."
        try:
            answer(address, lambda: ray.get_actor(status.task or "", namespace=NAMESPACE))
            return True
        except ExecutorUnavailable as exc:
            return f"{exc} Until it answers, where this job is cannot be known."
        except ValueError:  # no live actor by that name
            since = status.submitted or status.updated or 0.0
            if status.state == QUEUED and status.pid is None and (
                    time.time() - since < LAUNCH_GRACE_SECONDS):  # fmt: skip
                return True  # its submitter may still be creating it
        except Exception as exc:  # noqa: BLE001
            return f"Ray could not say whether this job's actor lives ({first_line(exc)})."
        tail = states.log_tail(directory / LOG_FILE)
        return (f"Its Ray actor {status.task} is gone without a final state (its node went down, "
                f"the cluster at {address} restarted, or someone killed it)"
                + (f"; its last words: {tail}" if tail else "."))  # fmt: skip


def _job_env(cpus: float, slots: int) -> dict[str, str]:
    """The job's environment on the cluster: the submitter's settings, its cache folder and
    checkout, one thread per CPU it asked for, and the cluster's capacity as its slots."""
    from mnist_core.runs.queue import MAX_TRAINING_ENV, THREADS_ENV

    env = {key: value for key, value in os.environ.items() if key.startswith(FORWARDED)}
    env[CACHE_ENV_VAR] = str(cache_dir())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                      os.environ.get("PYTHONPATH")]))  # fmt: skip
    env.setdefault(THREADS_ENV, str(max(1, int(cpus))))
    env[MAX_TRAINING_ENV] = str(slots)
    return env


def remote(ray, what: str):
    """The Ray-wrapped job owner (``"owner"``) or worker task (``"task"``), made once."""
    if not _remote:
        from mnist_core.runs.ray_owner import shipped

        owner, task = shipped()
        _remote["owner"] = ray.remote(owner)
        _remote["task"] = ray.remote(max_calls=1, max_retries=0)(task)
    return _remote[what]


def answer(address: str, call, seconds: float = CALL_SECONDS):
    """``call()``, or ExecutorUnavailable when the cluster does not answer within
    ``seconds`` (Ray waits a minute for a head that went away during the call)."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 (handed to the caller)
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="ray-call")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _probes[address] = (time.monotonic(), "it stopped answering")
        raise unreachable(address, f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
