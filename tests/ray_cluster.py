"""A real Ray head for the tests: ``ray start --head --block`` on this machine, on free ports,
with 2 CPUs and its own temporary folder, in its own session; stopped at the end of the
session, and only it: every process of its session (the head's, the workers Ray started
for the tests) is ended and checked gone. ``ray stop`` would end every Ray on the machine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.browser import free_port
from tests.conftest import ROOT, skip_or_fail

HEAD_CPUS = 2
START_SECONDS = 90


def session_processes(sid: int) -> list[int]:
    """The pids of every process in session ``sid`` (zombies left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _stop(process: subprocess.Popen, temp: Path) -> None:
    """End the head and everything it started, then check that nothing of it is left."""
    sid = process.pid  # start_new_session: the `ray start` process leads its session
    process.send_signal(signal.SIGTERM)  # `ray start --block` ends its processes on TERM
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 20
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    assert session_processes(sid) == [], f"processes of the test's Ray head outlived it: {left}"
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_head() -> str:
    """``127.0.0.1:PORT`` of a Ray head started for the tests (2 CPUs, no dashboard)."""
    ray = Path(sys.executable).parent / "ray"
    if not ray.exists():
        skip_or_fail("ray is not installed in this environment")
    # Short: Ray's Unix sockets live under it, and their paths may not exceed 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="rayt-", dir="/tmp"))
    port = free_port()
    command = [str(ray), "start", "--head", "--block", "--port", str(port),
               "--num-cpus", str(HEAD_CPUS), "--include-dashboard=false", "--temp-dir", str(temp),
               "--ray-client-server-port", str(free_port()),
               "--dashboard-agent-listen-port", str(free_port()), "--disable-usage-stats",
               "--object-store-memory", str(100 * 2**20)]  # fmt: skip
    log_path = temp / "ray-start.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                   env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
                                   start_new_session=True)  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        from mnist_core.runs.ray_executor import probe

        deadline = time.monotonic() + START_SECONDS
        while "Ray runtime started" not in log_path.read_text() or probe(address) is not None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield address
    finally:
        try:
            import ray as ray_module

            if ray_module.is_initialized():  # this process followed jobs on the head
                ray_module.shutdown()
        except ImportError:
            pass
        _stop(process, temp)
