"""No orphans: when the controlling process dies (kill -9), every node exits by itself.

The controller runs in a subprocess (as a notebook kernel would), with a NodeProgram class
defined in its own ``__main__`` -- which also checks that such a class travels to the nodes
(pickled by value with dill).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.cluster

CONTROLLER = r"""
import json, sys, time
from distlab.cluster import Cluster, NodeProgram

GREETING = "hello from a class defined in __main__"   # a global the class needs


class Greeter(NodeProgram):
    def services(self):
        return {"Greeter": self}

    def greet(self, who):
        return f"{GREETING}, {who}, says {self.ctx.name}"


if __name__ == "__main__":
    # root= keeps the files under pytest's tmp_path: a killed controller cannot clean up.
    cluster = Cluster.start(3, program=Greeter, seed=11, root=sys.argv[1])
    reply = cluster.client("n2").call("Greeter.greet", "test", timeout=10.0)
    pids = [cluster.pid(name) for name in cluster.names]
    print(json.dumps({"pids": pids, "reply": reply}), flush=True)
    time.sleep(600)  # killed long before this
"""


def test_nodes_exit_when_the_controller_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "controller.py"
    script.write_text(CONTROLLER)
    controller = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "cluster")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids: list[int] = []
    try:
        line = controller.stdout.readline()  # blocks until the cluster is up (or it died)
        assert line, f"controller failed:\n{controller.stderr.read()}"
        report = json.loads(line)
        pids = report["pids"]
        assert report["reply"] == "hello from a class defined in __main__, test, says n2"
        assert all(psutil.pid_exists(pid) for pid in pids)
    finally:
        controller.kill()  # SIGKILL: no atexit, no close(), nothing
        controller.wait(timeout=30)
        controller.stdout.close()
        controller.stderr.close()
    deadline = time.monotonic() + 10.0
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _running(pid)]
    for pid in alive:  # clean up before failing, so nothing leaks into other tests
        psutil.Process(pid).kill()
    assert not alive, f"orphaned nodes still running 10 s after the controller died: {alive}"


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_script_that_exits_with_a_cluster_open_leaves_no_folder_behind(tmp_path: Path) -> None:
    script = tmp_path / "forgetful.py"
    script.write_text(
        "from distlab.cluster import Cluster, Echo\n"
        "if __name__ == '__main__':\n"
        "    cluster = Cluster.start(1, program=Echo)\n"
        "    print(cluster.root, flush=True)\n"  # and exit without close()
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    root = Path(done.stdout.strip().splitlines()[-1])
    assert root.name.startswith("distlab-cluster-") and not root.exists()


def test_a_folder_abandoned_by_a_dead_controller_is_removed_by_the_next_cluster() -> None:
    import tempfile

    from distlab.cluster import Cluster, Echo

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    abandoned = Path(tempfile.mkdtemp(prefix="distlab-cluster-"))
    (abandoned / "owner.pid").write_text(gone.stdout.strip())
    (abandoned / "data").mkdir()
    with Cluster.start(1, program=Echo):
        assert not abandoned.exists()
