"""The engine workload: outcomes recorded right, lost writes found, one table for all rows."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from distlab.check import History, check_linearizable, op
from distlab.engines.base import EngineError
from distlab.engines.etcd import EtcdClient
from distlab.engines.processes import free_ports
from distlab.engines.workload import (
    ClientSpec,
    EngineSummary,
    lost_acknowledged_writes,
    run_clients,
    summary_rows,
    summary_table,
)


class MemoryStore:
    """A correct (atomic) in-memory KV store shared by fake clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, str] = {}


class FakeClient:
    def __init__(self, store: MemoryStore, fail_every: int = 0, definite: bool = True) -> None:
        self.store, self.fail_every, self.definite, self.calls = store, fail_every, definite, 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise EngineError("injected", definite=self.definite)

    def put(self, key, value):
        self._maybe_fail()
        with self.store.lock:
            self.store.data[key] = value

    def get(self, key):
        self._maybe_fail()
        with self.store.lock:
            return self.store.data.get(key, "")

    def append(self, key, suffix):
        self._maybe_fail()
        with self.store.lock:
            self.store.data[key] = self.store.data.get(key, "") + suffix

    def close(self):
        pass


def test_run_clients_records_ok_fail_and_info_and_a_correct_store_checks_linearizable():
    store = MemoryStore()
    history = History()
    specs = [
        ClientSpec("a", lambda: FakeClient(store, fail_every=5, definite=True)),
        ClientSpec("b", lambda: FakeClient(store, fail_every=7, definite=False)),
        ClientSpec("c", lambda: FakeClient(store), get_fraction=0.4, put_fraction=0.3),
    ]
    # A count, not a duration: a loaded machine must not leave a client short of operations.
    run_clients(
        specs,
        history,
        duration_s=60,
        ops_per_client=40,
        keys=["x", "y"],
        seed=1,
        think_s=(0.0, 0.002),
    )
    ops = history.operations()
    assert {o.status for o in ops if o.client == "a"} == {"ok", "fail"}
    assert {o.status for o in ops if o.client == "b"} == {"ok", "info"}
    assert {o.status for o in ops if o.client == "c"} == {"ok"}
    written = [o.value for o in ops if o.kind != "get"]
    assert len(written) == len(set(written)), "written values must be unique"
    assert {o.kind for o in ops if o.client == "c"} == {"get", "put", "append"}
    assert {o.kind for o in ops if o.client == "a"} == {"get", "append"}
    assert check_linearizable(history).verdict == "ok"
    assert not lost_acknowledged_writes(history, dict(store.data))


def test_lost_writes_are_acked_writes_missing_from_the_final_state():
    history = History.from_operations(
        [
            op(1, "append", "x", "a;", start=0, end=10),
            op(2, "append", "x", "b;", start=20, end=30),
            op(1, "append", "x", "c;", start=40, end=50, status="info"),  # not acked
            op(2, "append", "x", "d;", start=60, end=70, status="fail"),
            op(3, "put", "y", "p1", start=0, end=10),
            op(4, "put", "y", "p2", start=5, end=15),  # concurrent put may overwrite p1
        ]
    )
    lost = lost_acknowledged_writes(history, {"x": "a;", "y": "p2"})
    assert [(w.key, w.value) for w in lost] == [("x", "b;")]
    assert not lost_acknowledged_writes(history, {"x": "a;b;c;", "y": "p1"})


def test_a_refused_connection_is_a_definite_failure():
    (port,) = free_ports(1)  # nothing listens there
    client = EtcdClient(("127.0.0.1", port), timeout_s=1.0)
    try:
        client.put("x", "1")
    except EngineError as err:
        assert err.definite and "refused" in str(err)
    else:
        raise AssertionError("a put to a closed port must fail")


@dataclass(frozen=True)
class OtherSummary:
    """Shaped like distlab.kv.workload.WorkloadSummary (no ``system`` field)."""

    consistency: str
    operations: int
    ok: int
    indefinite: int
    linearizable: bool | None
    stale_reads: int
    acknowledged_writes_lost: int
    latency_p50_ms: float


def test_one_table_takes_summaries_from_any_source():
    etcd = EngineSummary(
        "etcd", "linearizable reads", 10, 9, 0, 1, "ok", True, 0, 0, 0.0, 2.345, 9.0, 100.0, 2
    )
    own = OtherSummary("weak", 20, 20, 0, False, 3, 1, 0.51)
    rows = summary_rows([etcd, own, ("distlab strong", etcd)])
    assert [r["system"] for r in rows] == ["etcd", "distlab", "distlab strong"]
    assert rows[0]["linearizable"] == "yes" and rows[1]["linearizable"] == "NO"
    assert rows[1]["stale reads"] == 3 and rows[1]["acked writes lost"] == 1
    assert rows[0]["p50 ms"] == 2.3 and rows[1]["faults"] == 0
    table = summary_table([etcd, own]).splitlines()
    assert len(table) == 4 and table[0].split()[:2] == ["system", "mode"]
    assert "weak" in table[3] and "NO" in table[3]
    assert summary_table([]) == "(no experiments)"


def test_one_summary_class_serves_both_workloads_and_hides_what_was_not_measured():
    from distlab.check.outcome import RunSummary
    from distlab.kv.workload import WorkloadSummary

    assert EngineSummary is WorkloadSummary is RunSummary
    numbers = (10, 9, 0, 1, "ok", True, 0, 0, 0.0, 2.0, 9.0, 100.0, 2)
    engine = RunSummary("etcd", "linearizable reads", *numbers)
    assert "converged" not in repr(engine) and repr(engine).endswith("faults=2)")
    weak = RunSummary("distlab", "weak", *numbers, converged=True, convergence_s=0.5)
    assert repr(weak).endswith("faults=2, converged=True, convergence_s=0.5)")
