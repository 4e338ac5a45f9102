"""Experiments on real chain clusters: crash every place in the chain, and measure read scaling.

What it is:

- `crash_every_position(cluster)`: seeded clients (threads, one `ChainClient` each, one
  shared `distlab.check.History`) write and read while the node at the head, then the
  middle, then the tail is killed (SIGKILL) and restarted; after each, the run waits for
  the manager to take the node back (at the tail, after a state transfer). The result,
  `ClusterRun`: the checker's verdict, acknowledged writes lost (the tail's final values
  against the history), whether membership converged, reads served per node.
- `measure_throughput(cluster_or_kv, ...)`: closed-loop clients for a fixed time; reads and
  writes completed per second, and how many reads each node served (the mechanism, which
  does not depend on how many cores the machine has). `run_throughput_grid` runs it for
  chain replication and CRAQ at chain lengths 1 to 5 and for distlab's Raft KV, in one run
  (benchmarks/chain_bench.py prints it).

What it must never do: use unseeded randomness, or sleep to synchronise (it waits on
conditions: ``cluster.wait_for``).
Where it fits: above `distlab.chain.node` and `distlab.cluster`; used by the tests marked
``cluster``, the notebook and the benchmark.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from distlab.chain.node import MANAGER, ChainClient, cluster_managers
from distlab.check import History, check_linearizable, lost_acknowledged_writes
from distlab.core import derive_seed

__all__ = [
    "ClusterRun",
    "Throughput",
    "chain_converged",
    "crash_every_position",
    "kill_the_manager_leader",
    "manager_status",
    "measure_throughput",
    "run_throughput_grid",
]


@dataclass(frozen=True)
class ClusterRun:
    """The verdict of `crash_every_position`."""

    protocol: str
    verdict: str
    operations: int
    acknowledged_writes: int
    acknowledged_writes_lost: int
    converged: bool
    crashed: tuple[str, ...]
    epoch: int
    reads_served: dict[str, int]
    history: History = field(repr=False, compare=False)

    @property
    def linearizable(self) -> bool:
        return self.verdict == "ok"


def _managers(cluster: Any) -> tuple[str, ...]:
    return cluster_managers(cluster)


def manager_status(cluster: Any, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """The deciding manager's status fields (epoch, chain, ...): node ``n0``'s, or with
    replicated managers the Raft leader's (the newest term's); {} if there is none."""
    status = status if status is not None else cluster.status()
    managers = _managers(cluster)
    if len(managers) == 1:
        return dict(status[MANAGER].fields)
    leaders: list[dict[str, Any]] = [
        dict(status[name].fields)
        for name in managers
        if status[name].state == "up" and status[name].fields.get("role") == "leader"
    ]
    return max(leaders, key=lambda fields: int(fields.get("term", 0))) if leaders else {}


def chain_converged(cluster: Any) -> bool:
    """Every chain node is up, a synced member of the manager's chain, in its epoch."""
    status = cluster.status()
    manager = manager_status(cluster, status)
    chain = manager.get("chain") or []
    names = [name for name in cluster.names if name not in _managers(cluster)]
    if sorted(chain) != sorted(names):
        return False
    return all(
        status[name].state == "up"
        and status[name].fields.get("synced")
        and status[name].fields.get("epoch") == manager.get("epoch")
        for name in names
    )


class _Clients:
    """Threads, each a `ChainClient`, running a seeded mix until stopped."""

    def __init__(
        self,
        cluster: Any,
        history: History | None,
        *,
        clients: int,
        keys: Sequence[str],
        write_fraction: float,
        seed: int,
        attempt_timeout_s: float = 1.0,
        deadline_s: float = 3.0,
        protocol: str | None = None,
        make_client: Callable[[int], Any] | None = None,
    ) -> None:
        self.stop = threading.Event()
        self.done = {"reads": 0, "writes": 0}
        self._lock = threading.Lock()
        self._threads = []
        for i in range(clients):
            if make_client is not None:
                client = make_client(i)
            else:
                client = ChainClient(
                    cluster,
                    protocol=protocol or cluster.chosen.get("protocol", "craq"),
                    history=history,
                    client_id=f"c{i}",
                    seed=seed,
                    attempt_timeout_s=attempt_timeout_s,
                    deadline_s=deadline_s,
                )
            rng = random.Random(derive_seed(seed, "chain-workload", i))
            args = (client, rng, f"c{i}", list(keys), write_fraction)
            self._threads.append(threading.Thread(target=self._loop, args=args, daemon=True))

    def _loop(self, client: Any, rng: random.Random, name: str, keys: list[str], wf: float):
        count = 0
        while not self.stop.is_set():
            count += 1
            key = rng.choice(keys)
            writing = rng.random() < wf
            try:
                if writing:
                    client.put(key, f"{name}-{count}")
                else:
                    client.get(key)
            except Exception:  # recorded in the history as fail or info by the client
                continue
            with self._lock:
                self.done["writes" if writing else "reads"] += 1

    def __enter__(self) -> _Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def crash_every_position(
    cluster: Any,
    *,
    clients: int = 3,
    keys: Sequence[str] = ("x", "y"),
    write_fraction: float = 0.5,
    seed: int = 0,
    between_s: float = 0.5,
    timeout_s: float = 30.0,
) -> ClusterRun:
    """Kill the head, then the middle, then the tail (each restarted and taken back into
    the chain before the next), with clients busy throughout; then judge the history."""
    trial = _Trial.formed(cluster, seed, timeout_s)
    observer, crashed = trial.observer, trial.crashed
    with trial.busy(clients=clients, keys=keys, write_fraction=write_fraction):
        for place in ("head", "middle", "tail"):
            _let_clients_work(between_s)
            chain = observer.refresh()
            victim = {"head": chain[0], "middle": chain[len(chain) // 2], "tail": chain[-1]}[place]
            crashed.append(f"{place} ({victim})")
            cluster.crash(victim)
            removed = cluster.wait_for(lambda v=victim: v not in observer.refresh(), timeout_s)
            cluster.restart(victim)
            back = cluster.wait_for(lambda: chain_converged(cluster), timeout_s=timeout_s)
            if not (removed and back):
                break
        _let_clients_work(between_s)
    return trial.judge(keys, timeout_s)


def kill_the_manager_leader(
    cluster: Any,
    *,
    clients: int = 3,
    keys: Sequence[str] = ("x", "y"),
    write_fraction: float = 0.5,
    seed: int = 0,
    between_s: float = 0.4,
    timeout_s: float = 30.0,
) -> ClusterRun:
    """With replicated managers (``managers=3``): SIGKILL the managers' Raft leader with
    clients busy, then the chain's tail; the new manager leader must take the tail out
    and back in (both restarted) before the history is judged."""
    if len(_managers(cluster)) < 3:
        raise ValueError("kill_the_manager_leader needs replicated managers (managers=3)")
    trial = _Trial.formed(cluster, seed, timeout_s)
    observer, crashed = trial.observer, trial.crashed
    with trial.busy(clients=clients, keys=keys, write_fraction=write_fraction):
        _let_clients_work(between_s)
        leader = manager_status(cluster).get("leader")
        crashed.append(f"manager leader ({leader})")
        cluster.crash(leader)
        taken_over = cluster.wait_for(
            lambda: (
                manager_status(cluster).get("deciding")
                and manager_status(cluster).get("leader") != leader
            ),
            timeout_s,
        )
        _let_clients_work(between_s)
        victim = observer.refresh()[-1]
        crashed.append(f"tail ({victim})")
        cluster.crash(victim)
        removed = taken_over and cluster.wait_for(
            lambda: victim not in observer.refresh(), timeout_s
        )
        cluster.restart(victim)
        cluster.restart(leader)
        if removed:
            cluster.wait_for(lambda: chain_converged(cluster), timeout_s=timeout_s)
        _let_clients_work(between_s)
    return trial.judge(keys, timeout_s)


@dataclass
class _Trial:
    """One crash experiment on a formed chain: the clients' shared history, an observer
    client that asks the manager for the chain, and what was crashed (in order)."""

    cluster: Any
    seed: int
    protocol: str
    history: History
    observer: ChainClient
    crashed: list[str]

    @classmethod
    def formed(cls, cluster: Any, seed: int, timeout_s: float) -> _Trial:
        """Wait until the chain has formed (TimeoutError if it does not)."""
        protocol = cluster.chosen.get("protocol", "craq")
        if not cluster.wait_for(lambda: chain_converged(cluster), timeout_s=timeout_s):
            raise TimeoutError("the chain did not form")
        observer = ChainClient(cluster, protocol=protocol, client_id="observer", seed=seed)
        return cls(cluster, seed, protocol, History(), observer, [])

    def busy(self, *, clients: int, keys: Sequence[str], write_fraction: float) -> _Clients:
        """Clients writing and reading into ``history`` while the ``with`` block runs."""
        return _Clients(
            self.cluster,
            self.history,
            clients=clients,
            keys=keys,
            write_fraction=write_fraction,
            seed=self.seed,
        )

    def judge(self, keys: Sequence[str], timeout_s: float) -> ClusterRun:
        """The checker's verdict on the history, and whether nothing acknowledged was lost."""
        cluster, history = self.cluster, self.history
        converged = cluster.wait_for(lambda: chain_converged(cluster), timeout_s=timeout_s)
        status = cluster.status()
        tail = self.observer.refresh()[-1]
        final = {key: _read_committed(cluster, tail, key) for key in keys}
        acknowledged = [o for o in history.operations() if o.kind == "put" and o.status == "ok"]
        return ClusterRun(
            protocol=self.protocol,
            verdict=check_linearizable(history, timeout_s=20).verdict,
            operations=len(history),
            acknowledged_writes=len(acknowledged),
            acknowledged_writes_lost=len(lost_acknowledged_writes(history, final)),
            converged=converged,
            crashed=tuple(self.crashed),
            epoch=int(manager_status(cluster, status).get("epoch", 0)),
            reads_served={
                name: int(s.fields.get("reads_served", 0))
                for name, s in status.items()
                if name not in _managers(cluster)
            },
            history=history,
        )


def _let_clients_work(seconds: float) -> None:
    # Not synchronisation: the clients simply get ``seconds`` of work between faults.
    threading.Event().wait(seconds)


def _read_committed(cluster: Any, tail: str, key: str) -> str:
    rpc = cluster.client(tail, client_name="controller")
    answer = rpc.call("Chain.read", key, 2.0, timeout=5.0)
    if not answer.get("ok"):
        raise RuntimeError(f"the tail {tail} did not answer a final read: {answer}")
    return str(answer["value"])


# -- throughput --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """One cell of the scaling table."""

    system: str  # "cr" | "craq" | "raft-kv"
    nodes: int  # chain length (or Raft group size)
    write_fraction: float
    reads_per_s: float
    writes_per_s: float
    reads_served: dict[str, int]  # per node (empty for Raft KV)


def measure_throughput(
    cluster: Any,
    *,
    system: str,
    nodes: int,
    write_fraction: float,
    duration_s: float = 2.0,
    clients: int = 8,
    seed: int = 0,
    make_client: Callable[[int], Any] | None = None,
) -> Throughput:
    """Closed-loop clients for ``duration_s``: completed reads and writes per second."""
    before = _reads_served(cluster)
    runner = _Clients(
        cluster,
        None,
        clients=clients,
        keys=[f"k{i}" for i in range(16)],
        write_fraction=write_fraction,
        seed=seed,
        protocol=system if system in ("cr", "craq") else None,
        make_client=make_client,
    )
    started = time.monotonic()
    with runner:
        threading.Event().wait(duration_s)  # the measuring window
    elapsed = time.monotonic() - started
    after = _reads_served(cluster)
    return Throughput(
        system=system,
        nodes=nodes,
        write_fraction=write_fraction,
        reads_per_s=runner.done["reads"] / elapsed,
        writes_per_s=runner.done["writes"] / elapsed,
        reads_served={name: after[name] - before.get(name, 0) for name in after},
    )


def _reads_served(cluster: Any) -> dict[str, int]:
    return {
        name: int(s.fields["reads_served"])
        for name, s in cluster.status().items()
        if "reads_served" in s.fields
    }


def run_throughput_grid(
    *,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    write_fractions: Sequence[float] = (0.0, 0.1, 0.5),
    duration_s: float = 2.0,
    clients: int = 8,
    seed: int = 0,
) -> list[Throughput]:
    """CR and CRAQ at each chain length, and distlab's Raft KV (3 nodes), on the same
    workload in the same run."""
    from distlab.cluster import Cluster

    rows = []
    for protocol in ("cr", "craq"):
        for length in lengths:
            with Cluster.start(length + 1, service="chain", protocol=protocol, seed=seed) as c:
                if not c.wait_for(partial(chain_converged, c), timeout_s=30):
                    raise TimeoutError(f"the {protocol} chain of {length} did not form")
                for fraction in write_fractions:
                    rows.append(
                        measure_throughput(
                            c,
                            system=protocol,
                            nodes=length,
                            write_fraction=fraction,
                            duration_s=duration_s,
                            clients=clients,
                            seed=seed,
                        )
                    )
    with Cluster.start(3, service="kv", consistency="strong", seed=seed) as kv:
        for fraction in write_fractions:
            rows.append(
                measure_throughput(
                    kv,
                    system="raft-kv",
                    nodes=3,
                    write_fraction=fraction,
                    duration_s=duration_s,
                    clients=clients,
                    seed=seed,
                    make_client=partial(_kv_clerk, kv),
                )
            )
    return rows


def _kv_clerk(kv: Any, index: int) -> Any:
    return kv.client(client_id=f"c{index}")
