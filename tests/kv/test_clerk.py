"""The Clerk against in-process rpc servers: leader redirects, retries, at-most-once, outcomes.

A fake "replicated" backend: three rpc Servers n0..n2 share one KVService (as if a log
replicated it perfectly); only the current leader accepts commands. No processes, no Raft —
these tests pin down the Clerk's own logic fast. Real clusters are in test_kv_cluster.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from distlab.check import History, check_linearizable
from distlab.kv import Clerk, Command, KVService, KVTimeout, KVUnavailable
from distlab.kv.state_machine import CODEC
from distlab.replicated import REPLY_CODEC, Applied, NotLeader, TimedOut
from distlab.rpc import FaultPolicy, Server


class FakeReplicated:
    """``Replicated.submit`` as the Raft peer's contract says, over one shared KVService."""

    def __init__(self, backend: Backend, name: str) -> None:
        self._backend = backend
        self._name = name

    def submit(self, command: dict, timeout: float = 2.0) -> dict:
        backend = self._backend
        with backend.lock:
            backend.submits.append((self._name, CODEC.decode(command)))
            if backend.leader != self._name:
                return REPLY_CODEC.encode(NotLeader(backend.leader))
            result = backend.service.apply(command)
            if backend.time_out_after_apply:
                # Applied, but the client hears "timeout" (like a reply that came too late).
                return REPLY_CODEC.encode(TimedOut(backend.leader))
        if backend.delay_s:
            time.sleep(backend.delay_s)
        return REPLY_CODEC.encode(Applied(result, len(backend.submits), 1))

    def read(self, key: str, timeout: float = 2.0) -> dict:
        """``Replicated.read`` (ReadIndex): the leader answers from its table, nothing logged."""
        backend = self._backend
        with backend.lock:
            backend.submits.append((self._name, Command("reader", 1, "get", key)))
            if backend.leader != self._name:
                return REPLY_CODEC.encode(NotLeader(backend.leader))
            return REPLY_CODEC.encode(Applied(backend.service.query(key), len(backend.submits), 1))


class FakeWeakKV:
    """``WeakKV.execute``: each server its own KVService (no replication at all)."""

    def __init__(self) -> None:
        self.service = KVService()
        self.calls = 0

    def execute(self, command: dict) -> dict:
        self.calls += 1
        return self.service.apply(command)


class Backend:
    def __init__(self, leader: str | None = "n0", drop_reply: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.service = KVService()
        self.leader = leader
        self.time_out_after_apply = False
        self.delay_s = 0.0
        self.submits: list[tuple[str, Command]] = []
        self.servers = {}
        for index, name in enumerate(["n0", "n1", "n2"]):
            # Replies are lost only from the leader-to-be n0: enough to force retries.
            policy = FaultPolicy(seed=index, drop_reply=drop_reply if name == "n0" else 0.0)
            server = Server(name=name, policy=policy).start()
            server.register(FakeReplicated(self, name), name="Replicated")
            self.servers[name] = server

    def addresses(self) -> dict[str, tuple[str, int]]:
        return {name: server.address for name, server in self.servers.items()}

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


@pytest.fixture
def backend():
    made: list[Backend] = []

    def make(**kwargs) -> Backend:
        made.append(Backend(**kwargs))
        return made[-1]

    yield make
    for b in made:
        b.close()


def test_clerk_follows_not_leader_hints_to_the_leader(backend) -> None:
    b = backend(leader="n2")
    with Clerk(b.addresses(), preferred="n0", client_id="c1") as clerk:
        clerk.put("x", "1")
        clerk.append("x", "2")
        assert clerk.get("x") == "12"
        stats = clerk.statistics()
    assert stats.ok == 3 and stats.redirects >= 1
    assert stats.server == "n2", "after a redirect the clerk keeps talking to the leader"
    # Only the first attempt went to a non-leader; the rest went straight to n2.
    assert [name for name, _ in b.submits] == ["n0", "n2", "n2", "n2"]


def test_retries_keep_the_sequence_number_so_appends_apply_once_despite_lost_replies(
    backend,
) -> None:
    b = backend(leader="n0", drop_reply=0.5)  # half of the leader's replies are lost
    with Clerk(
        b.addresses(), preferred="n0", client_id="c1", attempt_timeout_s=0.1, deadline_s=20
    ) as clerk:
        tokens = [f"a{i};" for i in range(8)]
        for token in tokens:
            clerk.append("x", token)
        retries = clerk.statistics().retries
    assert retries > 0, "no reply was lost: the test did not test anything"
    assert b.service.machine.data["x"] == "".join(tokens), "an append was applied twice (or lost)"
    applied_seqs = [cmd.seq for name, cmd in b.submits if name == "n0"]
    assert len(applied_seqs) > len(set(applied_seqs)), "no command reached the leader twice"


def test_no_leader_is_a_definite_failure_recorded_as_fail(backend) -> None:
    b = backend(leader=None)
    history = History()
    clerk = Clerk(b.addresses(), deadline_s=0.5, history=history, history_client="c")
    with clerk, pytest.raises(KVUnavailable) as raised:
        clerk.put("x", "1")
    assert raised.value.definite
    assert [op.status for op in history.operations()] == ["fail"]
    assert b.service.machine.data == {}


def test_an_attempt_that_may_have_applied_makes_the_outcome_indefinite(backend) -> None:
    b = backend(leader="n1")
    b.time_out_after_apply = True
    history = History()
    clerk = Clerk(b.addresses(), deadline_s=0.5, history=history, history_client="c")
    with clerk, pytest.raises(KVTimeout) as raised:
        clerk.put("x", "1")
    assert not raised.value.definite
    assert [op.status for op in history.operations()] == ["info"]
    assert b.service.machine.data == {"x": "1"}, "it did happen: exactly why 'info' is right"


def test_history_of_a_sequential_clerk_is_linearizable_with_outputs(backend) -> None:
    b = backend(leader="n1")
    history = History()
    with Clerk(b.addresses(), history=history, history_client=7) as clerk:
        clerk.put("k", "a")
        clerk.append("k", "b")
        assert clerk.get("k") == "ab"
        assert clerk.get("missing") == ""
    ops = history.operations()
    assert [(op.kind, op.status, op.output) for op in ops] == [
        ("put", "ok", None),
        ("append", "ok", None),
        ("get", "ok", "ab"),
        ("get", "ok", ""),
    ]
    assert {op.client for op in ops} == {7}
    assert check_linearizable(history).verdict == "ok"


def test_a_clerk_refuses_two_operations_at_once(backend) -> None:
    b = backend(leader="n0")
    b.delay_s = 0.5
    with Clerk(b.addresses(), preferred="n0") as clerk:
        first = threading.Thread(target=clerk.put, args=("x", "1"))
        first.start()
        time.sleep(0.1)
        with pytest.raises(RuntimeError, match="one operation at a time"):
            clerk.get("x")
        first.join()
    assert b.service.machine.data == {"x": "1"}


def test_weak_clerk_sticks_to_one_replica_and_fails_over_when_it_dies() -> None:
    servers, fakes = {}, {}
    for name in ["n0", "n1", "n2"]:
        fakes[name] = FakeWeakKV()
        servers[name] = Server(name=name).start()
        servers[name].register(fakes[name], name="WeakKV")
    addresses = {name: server.address for name, server in servers.items()}
    try:
        with Clerk(addresses, consistency="weak", preferred="n1", deadline_s=5) as clerk:
            for i in range(5):
                clerk.put("x", str(i))
            assert [fakes[n].calls for n in ["n0", "n1", "n2"]] == [0, 5, 0]
            servers["n1"].close()
            clerk.put("y", "after")  # n1 is gone: the clerk moves to n2 and stays there
            clerk.get("y")
            assert fakes["n2"].calls == 2 and clerk.statistics().failovers == 1
            assert fakes["n2"].service.machine.data == {"y": "after"}
    finally:
        for server in servers.values():
            server.close()


def test_clerk_rejects_bad_arguments(backend) -> None:
    b = backend()
    with pytest.raises(ValueError, match="consistency"):
        Clerk(b.addresses(), consistency="eventual")
    with pytest.raises(ValueError, match="preferred"):
        Clerk(b.addresses(), preferred="n9")
    with Clerk(b.addresses()) as clerk, pytest.raises(TypeError, match="strings"):
        clerk.put("x", 1)  # type: ignore[arg-type]
