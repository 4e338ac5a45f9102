"""The one threaded workload runner (distlab.check.workload) on an in-memory store: what both
the KV workload and the engine experiments rely on, without processes."""

from __future__ import annotations

import random
import re
import threading
from types import SimpleNamespace

import pytest

from distlab.check.history import History
from distlab.check.nemesis import Fault, Nemesis
from distlab.check.workload import (
    FinalReads,
    OperationMix,
    Workload,
    WorkloadClient,
    drive_clients,
    run_threaded,
    write_value,
)
from distlab.kv.workload import KVWorkload, run_workload


class StoreDown(Exception):
    definite = True


class MemoryStore:
    """A correct (atomic) store; each client's every ``fail_every``-th call is refused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, str] = {}

    def client(self, fail_every: int = 0) -> MemoryClient:
        return MemoryClient(self, fail_every)


class MemoryClient:
    def __init__(self, store: MemoryStore, fail_every: int) -> None:
        self.store, self.fail_every, self.calls = store, fail_every, 0

    def _maybe_refuse(self) -> None:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise StoreDown("refused")

    def get(self, key: str) -> str:
        self._maybe_refuse()
        with self.store.lock:
            return self.store.data.get(key, "")

    def put(self, key: str, value: str) -> None:
        self._maybe_refuse()
        with self.store.lock:
            self.store.data[key] = value

    def append(self, key: str, suffix: str) -> None:
        self._maybe_refuse()
        with self.store.lock:
            self.store.data[key] = self.store.data.get(key, "") + suffix

    def close(self) -> None:
        pass


class RecordingControl:
    """A ClusterControl that records what the nemesis does to it."""

    def __init__(self) -> None:
        self.names = ["n0", "n1", "n2"]
        self.calls: list[tuple] = []

    def crash(self, name):
        self.calls.append(("crash", name))

    def restart(self, name):
        self.calls.append(("restart", name))

    def partition(self, *groups):
        self.calls.append(("partition", *[tuple(g) for g in groups]))

    def isolate(self, name):
        self.calls.append(("isolate", name))

    def heal(self):
        self.calls.append(("heal",))

    def status(self):
        return {n: SimpleNamespace(fields={"role": "follower"}) for n in self.names}

    def wait_for(self, condition, timeout_s):
        return condition()


def test_the_mix_draws_a_key_then_a_kind_and_values_are_unique_tokens() -> None:
    mix = OperationMix(get=0.2, append=0.5, put=0.3)
    draws = [mix.draw(random.Random(3), ["x", "y"]) for _ in range(2)]
    assert draws[0] == draws[1]  # seeded
    kinds = {mix.draw(rng, ["x"])[0] for rng in [random.Random(9)] for _ in range(200)}
    assert kinds == {"get", "append", "put"}
    assert write_value("append", "c1", 7) == "[c1.7]" and write_value("put", "c1", 7) == "<c1.7>"
    assert write_value("append", "c1", 1) not in write_value("append", "c1", 10)
    with pytest.raises(ValueError, match="sum to 1"):
        OperationMix(get=0.5, append=0.5, put=0.5)


def test_a_seed_fixes_every_clients_operations_whatever_the_threads_timing() -> None:
    def operations(seed: int) -> dict:
        history = History()
        store = MemoryStore()
        clients = [WorkloadClient(f"c{i}", store.client) for i in range(3)]
        workload = Workload(("k0", "k1"), duration_s=30, seed=seed, ops_per_client=25)
        drive_clients(clients, history, workload, failures=(StoreDown,))
        return {
            name: [(o.kind, o.key, o.value) for o in history.operations() if o.client == name]
            for name in ("c0", "c1", "c2")
        }

    first = operations(5)
    assert first == operations(5) and first != operations(6)
    assert all(len(ops) == 25 for ops in first.values())


def test_one_run_judges_itself_counts_performed_faults_and_records_failures() -> None:
    store = MemoryStore()
    control = RecordingControl()
    nemesis = Nemesis(
        schedule=[
            Fault(0.0, "crash", nodes=("n1",)),
            Fault(0.05, "pause", nodes=("n2",)),  # RecordingControl cannot pause: a failed step
        ]
    )
    clients = [
        WorkloadClient("c0", lambda: store.client(fail_every=4), OperationMix(0.4, 0.4, 0.2)),
        WorkloadClient("c1", store.client, OperationMix(0.5, 0.5, 0.0)),
    ]
    finished: list[int] = []

    def finish(history: History, heal_time: int) -> FinalReads:
        finished.append(heal_time)
        return FinalReads(dict(store.data))

    report = run_threaded(
        control,
        Workload(("x", "y"), duration_s=0.4, seed=2, think_s=(0.0, 0.002)),
        clients,
        failures=(StoreDown,),
        finish=finish,
        system="memory",
        consistency="atomic",
        nemesis=nemesis,
    )
    s = report.summary
    assert (s.system, s.consistency) == ("memory", "atomic")
    assert s.verdict == "ok" and s.linearizable is True, report.check.explanation
    assert s.acknowledged_writes_lost == 0 and s.stale_reads == 0
    assert s.failed > 0 and s.ok > 0  # c0's refused calls are recorded as definite failures
    assert [e.action for e in report.faults] == ["crash", "pause", "restart"]
    assert s.faults == 2, "a failed step is no fault injected"
    assert control.calls == [("crash", "n1"), ("restart", "n1")]  # stop() undid the crash
    assert finished == [report.heal_time] and report.heal_time >= report.faults[-1].time
    written = [o.value for o in report.history.operations() if o.kind != "get"]
    assert written and len(written) == len(set(written))
    assert all(re.fullmatch(r"\[c\d\.\d+\]|<c\d\.\d+>", value) for value in written)


def test_run_workload_takes_a_description_and_refuses_unknown_options() -> None:
    mix = KVWorkload(clients=2, mix=(0.6, 0.3, 0.1)).operation_mix
    assert (mix.get, mix.append, mix.put) == pytest.approx((0.6, 0.3, 0.1))
    with pytest.raises(ValueError, match="clients >= 1"):
        KVWorkload(clients=0)
    with pytest.raises(TypeError, match="colour"):
        run_workload(SimpleNamespace(), colour="red")  # refused before the cluster is used
