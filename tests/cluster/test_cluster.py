"""The cluster runtime with real processes: crash, restart, partition, pause, status, hygiene.

Every test here starts real OS processes (marked ``cluster``) and waits with generous, bounded
deadlines; nothing asserts on speed.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import psutil
import pytest

from distlab.cluster import Cluster, ClusterError, NodeProgram
from distlab.cluster.programs import DurableKV, Echo, VolatileKV
from distlab.rpc import RpcTimeout

pytestmark = pytest.mark.cluster

DEADLINE_S = 30.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def write_until_crash(cluster: Cluster, node: str, program_name: str) -> dict[str, str]:
    """A client writes k0, k1, ... to ``node`` in a loop; crash the node mid-stream.

    Returns every write the node acknowledged before it died.
    """
    client = cluster.client(node)
    acknowledged: dict[str, str] = {}
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            key, value = f"k{i}", f"{program_name}-{i}"
            try:
                client.call("KV.put", key, value, timeout=2.0)
            except Exception:  # the node died under us: this write was never acknowledged
                return
            acknowledged[key] = value
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_until(lambda: len(acknowledged) >= 25, "25 acknowledged writes")
        cluster.crash(node)  # mid-write: the loop is still running
        thread.join(timeout=DEADLINE_S)
        assert not thread.is_alive(), "writer did not notice the crash"
    finally:
        stop.set()
        thread.join(timeout=DEADLINE_S)
    return acknowledged


def test_crash_mid_write_then_restart_keeps_every_acknowledged_write() -> None:
    with Cluster.start(3, program=DurableKV, seed=1) as cluster:
        acknowledged = write_until_crash(cluster, "n1", "durable")
        assert cluster.status()["n1"].state == "crashed"
        cluster.restart("n1")
        recovered = cluster.client("n1").call("KV.dump", timeout=5.0)
        missing = {k: v for k, v in acknowledged.items() if recovered.get(k) != v}
        assert not missing, f"acknowledged writes lost after restart: {sorted(missing)[:5]}"
        # Nothing beyond what was attempted: at most the one in-flight write extra.
        assert len(recovered) - len(acknowledged) in (0, 1)
        assert cluster.status()["n1"].fields["recovered"] == len(recovered)
        # The other nodes were untouched.
        assert cluster.client("n0").call("KV.dump", timeout=5.0) == {}


def test_volatile_server_loses_its_writes_in_a_crash() -> None:
    # The control experiment: without non-volatile storage, a restart comes back empty.
    with Cluster.start(1, program=VolatileKV, seed=2) as cluster:
        acknowledged = write_until_crash(cluster, "n0", "volatile")
        assert acknowledged
        cluster.restart("n0")
        assert cluster.client("n0").call("KV.dump", timeout=5.0) == {}


def test_partitioned_node_cannot_reach_the_others_until_heal() -> None:
    with Cluster.start(3, program=Echo, seed=3) as cluster:
        ask = {name: cluster.client(name, client_name="controller") for name in cluster.names}

        def reaches(src: str, dst: str) -> bool:
            return ask[src].call("Echo.ping_peer", dst, 5.0, timeout=10.0)

        def cut_off(src: str, dst: str) -> bool:
            # A blocked message is lost, so the ping ends by timing out: keep that wait short.
            return not ask[src].call("Echo.ping_peer", dst, 0.3, timeout=10.0)

        assert reaches("n0", "n1") and reaches("n1", "n0") and reaches("n1", "n2")
        cluster.partition(["n0"], ["n1", "n2"])
        assert cut_off("n0", "n1")
        assert cut_off("n0", "n2")
        assert cut_off("n1", "n0")
        assert reaches("n1", "n2")  # the majority side still talks
        cluster.heal()
        assert reaches("n0", "n1") and reaches("n1", "n0") and reaches("n2", "n0")
        cluster.isolate("n2")
        assert cut_off("n2", "n0") and cut_off("n1", "n2")
        assert reaches("n0", "n1")
        kinds = [event.kind for event in cluster.events()]
        assert kinds[-3:] == ["partition", "heal", "partition"]


def test_pause_and_resume() -> None:
    with Cluster.start(2, program=Echo, seed=4) as cluster:
        client = cluster.client("n1")
        assert client.call("Echo.echo", "connected", timeout=5.0) == "connected"
        pid = cluster.pid("n1")
        cluster.pause("n1")
        wait_until(
            lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED, "n1 to be stopped"
        )
        status = cluster.status()
        assert status["n1"].state == "paused" and not status["n1"].alive
        assert status["n0"].alive
        with pytest.raises(RpcTimeout) as error:
            client.call("Echo.echo", "hi", timeout=0.5)
        assert error.value.definite is False  # sent to a frozen process: it may run later
        cluster.isolate("n1")  # while n1 is frozen: it learns of this on resume
        cluster.resume("n1")
        wait_until(lambda: cluster.status()["n1"].alive, "n1 to answer after resume")
        assert cluster.client("n1").call("Echo.echo", "back", timeout=5.0) == "back"
        control = cluster.client("n1", client_name="controller")
        assert ["n1", "n0"] in control.call("Fault.get", timeout=5.0)["blocked"]
        assert not control.call("Echo.ping_peer", "n0", 0.3, timeout=10.0)


def test_a_frozen_node_shows_unresponsive_instead_of_hanging_status() -> None:
    with Cluster.start(2, program=Echo, seed=5) as cluster:
        pid = cluster.pid("n0")
        os.kill(pid, signal.SIGSTOP)  # behind the controller's back
        try:
            status = cluster.status(timeout_s=0.5)
            assert status["n0"].state == "unresponsive" and not status["n0"].alive
            assert status["n0"].pid == pid
            assert status["n1"].state == "up"
        finally:
            os.kill(pid, signal.SIGCONT)


def test_status_of_a_crashed_node_and_the_process_is_really_gone() -> None:
    with Cluster.start(3, program=Echo, seed=6) as cluster:
        pid = cluster.pid("n2")
        cluster.crash("n2")
        assert gone(pid)
        status = cluster.status()
        assert status["n2"] == status["n2"].__class__(
            name="n2", state="crashed", alive=False, pid=None, address=status["n2"].address
        )
        assert status["n0"].fields == {"peers": ["n1", "n2"]}
        with pytest.raises(ClusterError, match="it is crashed"):
            cluster.crash("n2")
        with pytest.raises(ClusterError, match="no node named 'n9'"):
            cluster.crash("n9")
        cluster.restart("n2")
        assert cluster.pid("n2") != pid and cluster.status()["n2"].alive
        with pytest.raises(ClusterError, match="crash\\(\\) or stop\\(\\) it before restart"):
            cluster.restart("n2")


def test_a_node_killed_behind_the_controllers_back_shows_as_crashed() -> None:
    with Cluster.start(2, program=DurableKV, seed=12) as cluster:
        cluster.client("n1").call("KV.put", "x", "1", timeout=5.0)
        os.kill(cluster.pid("n1"), signal.SIGKILL)
        wait_until(lambda: cluster.status()["n1"].state == "crashed", "n1 to show as crashed")
        assert cluster.events()[-1].kind == "exit"
        cluster.restart("n1")
        assert cluster.client("n1").call("KV.get", "x", timeout=5.0) == "1"


def test_restart_on_a_taken_port_tells_the_peers_the_new_address() -> None:
    with Cluster.start(2, program=Echo, seed=7) as cluster:
        old = cluster.address("n1")
        cluster.crash("n1")
        cluster.restart("n1")
        assert cluster.address("n1") == old  # normally a node keeps its port
        cluster.stop("n1")
        squatter = socket.socket()
        try:
            squatter.bind(old)
            squatter.listen()
            cluster.restart("n1")
            assert cluster.address("n1") != old
            asker = cluster.client("n0", client_name="controller")
            wait_until(
                lambda: asker.call("Echo.ping_peer", "n1", 1.0, timeout=10.0),
                "n0 to reach n1 at its new port",
            )
            assert "moved" in [event.kind for event in cluster.events()]
        finally:
            squatter.close()


def test_stop_is_graceful_and_close_leaves_no_process() -> None:
    cluster = Cluster.start(3, program=DurableKV, seed=8)
    try:
        pids = [cluster.pid(name) for name in cluster.names]
        cluster.client("n0").call("KV.put", "a", "1", timeout=5.0)
        cluster.stop("n0")
        assert "stopping gracefully" in cluster.logs("n0")
        assert [e.detail for e in cluster.events() if e.kind == "stop"] == ["graceful"]
        cluster.pause("n1")  # close() must also handle a frozen node
        root = cluster.root
    finally:
        cluster.close()
    wait_until(lambda: all(gone(pid) for pid in pids), "every node to exit after close()")
    assert not root.exists()


def test_slow_node_delays_its_replies() -> None:
    with Cluster.start(2, program=Echo, seed=9) as cluster:
        client = cluster.client("n1")
        assert client.call("Echo.echo", 1, timeout=5.0) == 1
        cluster.slow("n1", delay_ms=2000)
        with pytest.raises(RpcTimeout):
            client.call("Echo.echo", 2, timeout=0.3)
        cluster.slow("n1", delay_ms=0)
        fresh = cluster.client("n1")
        assert fresh.call("Echo.echo", 3, timeout=10.0) == 3


def test_logs_and_merged_events() -> None:
    with Cluster.start(2, program=DurableKV, seed=10) as cluster:
        cluster.crash("n0")
        cluster.restart("n0")
        assert "recovered 0 writes" in cluster.logs("n0")
        assert cluster.logs("n0").count("starting (pid") == 2  # both incarnations
        events = cluster.events(include_logs=True)
        assert [e.time for e in events] == sorted(e.time for e in events)
        kinds = [e.kind for e in events if e.source == "controller"]
        assert kinds == ["start", "start", "crash", "restart"]
        assert any(e.source == "log" and "listening" in e.detail for e in events)


GREETING = "a global of the test module"


class Greeter(NodeProgram):
    """Defined in a test file the node process cannot import: must travel by value."""

    def services(self) -> dict[str, object]:
        return {"Greeter": self}

    def greet(self) -> str:
        return f"{GREETING} from {self.ctx.name} in pid {os.getpid()}"


def test_a_program_class_from_an_unimportable_module_travels_by_value() -> None:
    with Cluster.start(1, program=Greeter, seed=13) as cluster:
        reply = cluster.client("n0").call("Greeter.greet", timeout=5.0)
        assert reply == f"{GREETING} from n0 in pid {cluster.pid('n0')}"


def test_bad_program_fails_fast_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="NodeProgram subclass"):
        Cluster.start(1, program=dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no class 'Missing'"):
        Cluster.start(1, program="distlab.cluster.programs:Missing")


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_nodes_run_as_normal_work_or_as_batch_work_when_asked() -> None:
    def policies(cluster: Cluster) -> set[int]:
        pid = cluster.pid("n0")
        assert pid is not None
        return {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}

    with Cluster.start(1, program=Echo, scheduling="batch") as cluster:
        assert policies(cluster) == {os.SCHED_BATCH}  # every thread inherits it
        cluster.crash("n0")
        cluster.restart("n0")
        assert policies(cluster) == {os.SCHED_BATCH}
    with Cluster.start(1, program=Echo) as cluster:
        assert policies(cluster) == {os.SCHED_OTHER}


def test_an_unknown_scheduling_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="scheduling must be one of"):
        Cluster.start(1, program=Echo, scheduling="realtime")
