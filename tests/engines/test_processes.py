"""Server processes die with whoever started them, even when that one is killed -9."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from distlab.engines.processes import ServerError, ServerProcess, free_ports, require_binary

pytestmark = [pytest.mark.engines, pytest.mark.cluster]

_STARTER = """
import json, sys, time
from distlab.engines.redis import RedisReplicaSet
rs = RedisReplicaSet.start(root=sys.argv[1])  # the test's folder: a killed starter leaves it
print(json.dumps([s.pid for s in rs.servers.values()]), flush=True)
time.sleep(60)
"""


def _wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv not installed")
def test_servers_die_when_the_python_that_started_them_is_killed(redis_binary, tmp_path):
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = starter.stdout.readline()
        assert line, "the starter process did not report its servers"
        pids = json.loads(line)
        assert len(pids) == 3 and not any(_gone(pid) for pid in pids)
        starter.send_signal(signal.SIGKILL)
        starter.wait(timeout=10)
        deadline = time.monotonic() + 15
        while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in pids), "orphaned redis-server processes"
    finally:
        starter.kill()
        starter.wait(timeout=10)
        starter.stdout.close()


def test_pause_resume_and_crash_are_signals_to_the_real_process(redis_binary, tmp_path):
    (port,) = free_ports(1)
    server = ServerProcess(
        "solo",
        [
            redis_binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        tmp_path / "solo.log",
    )
    server.start()
    try:
        process = psutil.Process(server.pid)
        with pytest.raises(ServerError, match="already running"):
            server.start()
        server.pause()
        _wait_for(lambda: process.status() == psutil.STATUS_STOPPED)  # signals land async
        server.resume()
        _wait_for(lambda: process.status() != psutil.STATUS_STOPPED)
        server.crash()
        assert not server.running and _gone(process.pid)
    finally:
        server.crash()


def test_a_missing_binary_is_named_with_the_package_to_install():
    with pytest.raises(ServerError, match="apt-get install"):
        require_binary("no-such-server-binary-xyz")
