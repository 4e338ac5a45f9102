"""Small experiments on a Cluster for the fault-tolerance chapter (notebook 05).

* :func:`write_keys` / :func:`read_all` -- fill a KV node and read it back.
* :func:`measure_outage` -- crash a node, restart it, and record how long clients could not
  reach it: recoverability (可恢复性) is not availability (可用性).
* :class:`MirrorClient` -- the naive way to keep two copies: write to each, skip the ones
  that fail. After a crash and a missed update the copies disagree.

Drivers only: the logic under test lives in the node programs and the Cluster. Never prints.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from distlab.cluster.launch import Cluster

__all__ = ["MirrorClient", "Outage", "measure_outage", "read_all", "write_keys"]


def write_keys(client: Any, count: int, prefix: str = "k", timeout: float = 5.0) -> int:
    """Put ``prefix0 .. prefix{count-1}`` (value = the index); returns how many were acked."""
    for i in range(count):
        client.call("KV.put", f"{prefix}{i}", str(i), timeout=timeout)
    return count


def read_all(client: Any, timeout: float = 5.0) -> dict[str, str]:
    """The node's whole map."""
    return client.call("KV.dump", timeout=timeout)


@dataclass(frozen=True)
class Outage:
    """What a client saw while a node crashed and restarted.

    ``samples`` are (seconds since the crash, call succeeded) pairs from a client polling
    ``KV.get`` in a loop; ``outage_s`` runs from the crash to the first success after it.
    """

    samples: tuple[tuple[float, bool], ...]
    outage_s: float
    failed_calls: int
    down_s: float

    def plot(self) -> Any:
        """A small figure: each poll as a dot, up (1) or down (0), over time."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 2.5), dpi=80)
        times = [t for t, _ in self.samples]
        ax.step(times, [int(ok) for _, ok in self.samples], where="post")
        ax.axvline(0, color="#c62828", linestyle=":", label="crash")
        ax.axvline(self.down_s, color="#2e7d32", linestyle="--", label="restart")
        ax.set_yticks([0, 1], ["down", "up"])
        ax.set_xlabel("seconds since the crash")
        ax.set_title(f"unavailable for {self.outage_s:.2f} s")
        ax.legend(loc="lower right")
        fig.tight_layout()
        return fig


def measure_outage(
    cluster: Cluster, name: str, *, down_s: float = 0.5, key: str = "k0", settle_s: float = 0.3
) -> Outage:
    """Crash ``name``, keep it down ``down_s`` seconds, restart it, and poll it throughout."""
    samples: list[tuple[float, bool]] = []  # (monotonic time, succeeded)
    stop = threading.Event()
    address = [cluster.address(name)]

    def poll() -> None:
        from distlab.rpc import Client

        client = None
        while not stop.is_set():
            ok = False
            try:
                if client is None:
                    client = Client(address[0], name="poller", secret=cluster.secret)
                client.call("KV.get", key, timeout=0.2)
                ok = True
            except Exception:  # any failure: the service is unavailable right now
                if client is not None:
                    client.close()
                client = None
            samples.append((time.monotonic(), ok))
            time.sleep(0.01)
        if client is not None:
            client.close()

    poller = threading.Thread(target=poll, name="outage-poller", daemon=True)
    poller.start()
    try:
        time.sleep(settle_s)
        crashed_at = time.monotonic()
        cluster.crash(name)
        time.sleep(down_s)
        cluster.restart(name)
        address[0] = cluster.address(name)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            ok and t > crashed_at for t, ok in list(samples)
        ):
            time.sleep(0.02)
        time.sleep(settle_s)
    finally:
        stop.set()
        poller.join(timeout=30)
    relative = tuple((t - crashed_at, ok) for t, ok in samples)
    first_failure = next((t for t, ok in relative if t > 0 and not ok), 0.0)
    recovered = next((t for t, ok in relative if ok and t > first_failure), float("nan"))
    return Outage(
        samples=relative,
        outage_s=recovered,
        failed_calls=sum(not ok for _, ok in relative),
        down_s=down_s,
    )


class MirrorClient:
    """Naive replication (复制): send every put to each copy, ignore copies that fail.

    Nothing makes a copy that missed an update catch up, so copies drift apart: the problem
    replication protocols (primary-backup, Raft) exist to solve.
    """

    def __init__(self, clients: dict[str, Any], timeout: float = 0.5) -> None:
        self.clients = clients
        self.timeout = timeout
        self.missed: dict[str, int] = dict.fromkeys(clients, 0)

    def put(self, key: str, value: str) -> list[str]:
        """Write to every copy; returns the names that acknowledged."""
        acked = []
        for name, client in self.clients.items():
            try:
                client.call("KV.put", key, value, timeout=self.timeout)
                acked.append(name)
            except Exception:  # that copy is down: the naive scheme just moves on
                self.missed[name] += 1
        return acked

    def get_each(self, key: str) -> dict[str, str | None]:
        """The value of ``key`` on every copy."""
        return {
            name: client.call("KV.get", key, timeout=self.timeout)
            for name, client in self.clients.items()
        }
