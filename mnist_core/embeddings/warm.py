"""A warm embedding worker: one long-lived process per cache folder that has already
imported what an embedding job needs (NumPy, scikit-learn, umap-learn, the worker) and
forks a child for each job. The child is an ordinary worker (``mnist_core.worker``'s
``main`` on the job folder: it takes the folder's lock, writes its status and log), so the
job protocol of :mod:`mnist_core.runs.jobs` is unchanged: a killed child is a dead worker
(its job reads failed, in one sentence, and can be retried), and a killed warm worker is
simply started again by the next job.

:func:`launch` is what the local executor calls for an embedding job; it returns the
child's pid, or None when no warm worker can be reached (the executor then starts a plain
worker process, as before). ``MNIST_WARM_WORKER=0`` turns it off. The warm worker leaves
after ``MNIST_WARM_IDLE`` seconds without a job (default 120) or when its cache folder is
gone; one the Streamlit server started (:func:`start_for_server`, once per server process,
in the background) stays as long as that server runs, so a first job does not wait for its
imports. It listens as soon as a PCA job's imports are done, then imports scikit-learn and
umap-learn while idle; a server's warm worker, once a UMAP is in sight (the page shows the
UMAP form: :func:`prepare_umap`, or a UMAP job came), also compiles umap's numba functions on tiny data, so its forks run a
UMAP with nothing left to compile. It runs numba's fork-safe ``workqueue`` threading layer
(GNU OpenMP aborts a forked child once the parent used it). This module imports nothing
heavy: the Streamlit server calls :func:`launch` and :func:`start_for_server`.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mnist_core import paths
from mnist_core.runs.executor import pid_running

ENV = "MNIST_WARM_WORKER"
IDLE_ENV = "MNIST_WARM_IDLE"
PARENT_ENV = "MNIST_WARM_PARENT"  # the server's pid: stay while it runs
START_TIMEOUT = 30.0


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


def socket_path() -> Path:
    """The warm worker's socket for this cache folder and interpreter (kept short: a Unix
    socket path has a 108-byte limit)."""
    blob = f"{paths.cache_dir()}|{sys.executable}".encode()
    name = f"mnist-warm-{os.getuid()}-{hashlib.sha256(blob).hexdigest()[:16]}.sock"
    return Path(tempfile.gettempdir()) / name


def _ask(directory: Path, timeout: float) -> int | None:
    """Send the job folder to a listening warm worker; the pid of its child, or None."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(socket_path()))
            conn.sendall(json.dumps({"directory": str(directory), "env": dict(os.environ)}).encode()
                         + b"\n")  # fmt: skip
            reply = conn.makefile("rb").readline()
        except OSError:
            return None
    try:
        return int(json.loads(reply)["pid"])
    except (ValueError, KeyError, TypeError):
        return None


def launch(directory: Path) -> int | None:
    """The pid of a child of the warm worker now doing the job in ``directory`` (the warm
    worker is started first when there is none), or None."""
    if not enabled():
        return None
    pid = _ask(directory, timeout=30)
    if pid is not None:
        return pid
    if not starting():  # one being started (by the server) is waited for, not doubled
        start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if socket_path().exists():
            pid = _ask(directory, timeout=30)
            if pid is not None:
                return pid
        time.sleep(0.05)
    return None


def prepare_umap() -> None:
    """Tell this cache folder's warm worker that a UMAP may come (the page shows its form):
    a server's warm worker then compiles umap's functions while the user chooses. Never
    waits: nothing happens when no warm worker listens."""
    if not enabled() or not socket_path().exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(0.2)
        try:
            conn.connect(str(socket_path()))
            conn.sendall(json.dumps({"warm": "umap"}).encode() + b"\n")
        except OSError:
            pass


def starting() -> bool:
    """Whether a warm worker holds this cache folder's lock (it runs, or is importing)."""
    import fcntl

    try:
        with open(f"{socket_path()}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        pass
    return False


def start_for_server() -> threading.Thread | None:
    """Start a warm worker for the Streamlit server, in a background thread (never keeping
    a page waiting), unless ``MNIST_WARM_WORKER=0`` or one is running; it stays while this
    process runs. The thread, or None when nothing is started."""
    if not enabled():
        return None

    def run():
        if not starting():
            start(parent=os.getpid())

    thread = threading.Thread(target=run, name="warm embedding worker start", daemon=True)
    thread.start()
    return thread


def start(*, parent: int | None = None) -> None:
    """Start a warm worker for this cache folder (it leaves at once if one is running);
    with ``parent``, it stays while that process runs rather than leaving when idle."""
    env = dict(os.environ)
    if parent is not None:
        env[PARENT_ENV] = str(parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.PROJECT_ROOT), env.get("PYTHONPATH")]))
    subprocess.Popen([sys.executable, "-m", "mnist_core.embeddings.warm"], env=env,
                     cwd=paths.PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


# --------------------------------------------------------------------------- the server


def _child(directory: str, env: dict, inherited: list) -> None:
    """In the forked child: become the job's worker, then leave."""
    code = 1
    try:
        for handle in inherited:  # the server's socket and lock are not the job's
            handle.close()
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(paths.PROJECT_ROOT)
        from mnist_core.runs.executor import LOG_FILE

        log = os.open(Path(directory) / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        print(f"[warm worker {os.getppid()}] job started in a fork of the warm embedding worker.",
              flush=True)  # fmt: skip
        from mnist_core import worker

        code = worker.main([directory])
    except BaseException:  # noqa: BLE001 (anything: the job's status says failed)
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _import_quality() -> None:
    import sklearn.metrics
    import sklearn.model_selection
    import sklearn.neighbors  # noqa: F401


def _warm_blas() -> None:
    """BLAS and LAPACK's first calls (a PCA's GEMM and eigh) cost more than later ones."""
    import numpy as np

    from mnist_core.embeddings import pca

    pca(np.random.default_rng(0).random((2000, 784), dtype=np.float32), n_components=50)


def _import_umap() -> None:
    from mnist_core import embeddings

    embeddings.import_umap()
    import umap.umap_  # noqa: F401


def serve() -> int:
    import fcntl

    path = socket_path()
    lock = open(f"{path}.lock", "a")  # noqa: SIM115 (held for the process's life)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another warm worker serves this cache folder
    # numba's default threading layer here (GNU OpenMP) aborts a forked child that uses it
    # once the parent has: the warm worker compiles and runs umap's parallel functions, so
    # it and its forks use numba's own fork-safe pool (a seeded UMAP is the same either way).
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    # What a PCA job needs up to its chart, before listening: each fork starts with it.
    import numpy  # noqa: F401

    import mnist_core.worker  # noqa: F401
    from mnist_core import embeddings
    from mnist_core.data import load_dataset  # noqa: F401

    cache = paths.cache_dir()
    idle = float(os.environ.get(IDLE_ENV, "120"))
    parent = int(os.environ.get(PARENT_ENV) or 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    # Done in order while no job asks, one per pause (a job forked before they are done
    # does what it needs itself): scikit-learn's import, BLAS, umap-learn's import; and in
    # a server's warm worker, once a UMAP is in sight (the page shows the UMAP form, or a
    # UMAP job came), umap's numba functions compiled on tiny data (compute.warm_up_steps,
    # ~20-45 CPU-s once; a server whose users only look at PCA never pays it).
    warmups = [_import_quality, _warm_blas, _import_umap]
    compile_later = embeddings.warm_up_steps() if parent else []
    last, existed = time.monotonic(), cache.is_dir()  # a server's may be made later
    jobs_running: list[int] = []  # forks still running (reaped by the kernel when done)
    try:
        while (cache.is_dir() or not existed) and (
            pid_running(parent) if parent else time.monotonic() - last < idle
        ):
            existed = existed or cache.is_dir()
            server.settimeout(0.02 if warmups else 0.5)
            try:
                conn, _ = server.accept()
            except TimeoutError:
                jobs_running = [pid for pid in jobs_running if pid_running(pid)]
                if warmups and not jobs_running:  # never beside a job: it has the cores
                    try:
                        warmups.pop(0)()
                    except Exception:  # noqa: BLE001 (a job imports or compiles it itself)
                        warmups.clear()
                    sys.stdout.flush()
                continue
            last = time.monotonic()
            with conn:
                conn.settimeout(10)
                try:
                    request = json.loads(conn.makefile("rb").readline())
                    if request.get("warm") == "umap":  # the page shows the UMAP form
                        warmups, compile_later = warmups + compile_later, []
                        continue
                    directory, env = str(request["directory"]), dict(request["env"])
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue
                if "-umap-" in Path(directory).name:
                    warmups, compile_later = warmups + compile_later, []
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    _child(directory, env, [server, lock])
                jobs_running.append(pid)
                try:
                    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                except OSError:
                    pass  # the launcher gave up: the job still runs, its status says so
    finally:
        server.close()
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
