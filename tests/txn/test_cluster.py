"""Distributed transactions in real processes: SIGKILLed coordinator and shards under bank
transfers; the coordinator killed after prepare (participants blocked, holding locks); a
participant killed after voting yes; bad requests."""

from __future__ import annotations

import pytest

from distlab.cluster import Cluster
from distlab.rpc import RemoteError
from distlab.txn.bank import account, shard_for
from distlab.txn.node import RealBackend, run_bank_real

pytestmark = pytest.mark.cluster


def _two_shard_accounts(shards: tuple[str, ...]) -> tuple[str, str]:
    first = account(0)
    other = next(
        account(i)
        for i in range(1, 50)
        if shard_for(account(i), shards) != shard_for(first, shards)
    )
    return first, other


def _fields(cluster: Cluster, name: str) -> dict:
    return cluster.status()[name].fields


def test_bank_under_kills_of_coordinator_and_shards() -> None:
    with Cluster.start(3, service="txn", seed=11) as cluster:
        run = run_bank_real(
            cluster, seed=11, clients=3, transfers_per_client=8, kill=("n0", "n1", "n2")
        )
        assert run.crashed == ["n0", "n1", "n2"]
        assert run.total_after == run.total_before, "money is constant"
        assert run.check.verdict == "serializable", run.check.explain()
        assert run.committed >= 5, "the run must not be vacuous"


def _prepare_then(
    cluster: Cluster, backend: RealBackend, slow: list[str], delay_ms: float
) -> tuple[int, str, str]:
    """Run a transfer's reads and writes, slow ``slow``'s messages, ask to commit, and
    return once both shards are prepared."""
    src, dst = _two_shard_accounts(backend.shards)
    txid = backend.begin()
    assert txid is not None
    for key, value in ((src, [90, txid]), (dst, [110, txid])):
        shard = shard_for(key, backend.shards)
        assert backend.read(shard, txid, key, True)[0] == "ok"
        assert backend.write(shard, txid, key, value, False)[0] == "ok"
    for name in slow:
        cluster.slow(name, delay_ms)
    backend.commit(txid, list(backend.shards))
    assert cluster.wait_for(
        lambda: all(_fields(cluster, s)["prepared"] == [txid] for s in backend.shards), timeout_s=20
    )
    return txid, src, dst


def test_coordinator_killed_after_prepare_blocks_participants_until_it_recovers() -> None:
    with Cluster.start(3, service="txn", seed=12) as cluster:
        backend = RealBackend(cluster)
        older = backend.begin()  # begun first: under wait-die it waits for the younger one
        assert older is not None
        txid, src, _dst = _prepare_then(cluster, backend, slow=list(backend.shards), delay_ms=3000)
        cluster.crash("n0")  # the votes are still on their way: nothing decided, nothing logged
        cluster.heal()
        src_shard = shard_for(src, backend.shards)
        # Blocked: every attempt to read the locked account waits, while the coordinator is down.
        for _ in range(5):
            assert backend.read(src_shard, older, src, True) == ("wait", None)
            assert _fields(cluster, src_shard)["locks"][src] == f"X by {txid}"
        # A participant restarted meanwhile is still prepared, with its lock, from its disk.
        cluster.crash(src_shard)
        cluster.restart(src_shard)
        assert _fields(cluster, src_shard)["prepared"] == [txid]
        assert backend.read(src_shard, older, src, True) == ("wait", None)
        cluster.restart("n0")  # presumed abort: it never logged a decision
        assert cluster.wait_for(
            lambda: all(not _fields(cluster, s)["prepared"] for s in backend.shards), timeout_s=20
        )
        assert backend.outcome(txid) == "aborted"
        assert backend.read(src_shard, older, src, True) == ("ok", None)  # unlocked, unchanged
        assert backend.data() == {}


def test_participant_killed_after_voting_yes_recovers_and_applies_the_commit() -> None:
    with Cluster.start(3, service="txn", seed=13) as cluster:
        backend = RealBackend(cluster)
        txid, src, dst = _prepare_then(
            cluster, backend, slow=["n0"], delay_ms=1500
        )  # decisions travel slowly
        victim = shard_for(src, backend.shards)
        cluster.crash(victim)
        cluster.restart(victim)
        cluster.heal()
        assert cluster.wait_for(lambda: backend.outcome(txid) == "committed", timeout_s=20)
        assert cluster.wait_for(
            lambda: all(not _fields(cluster, s)["prepared"] for s in backend.shards), timeout_s=20
        )
        assert backend.data() == {src: [90, txid], dst: [110, txid]}


def test_bad_requests_get_clear_errors_and_nodes_keep_serving() -> None:
    with Cluster.start(2, service="txn", seed=14) as cluster:
        coordinator = cluster.client("n0", client_name="mallory")
        shard = cluster.client("n1", client_name="mallory-shard")
        bad = [
            (coordinator, ("Txn.commit", 999, ["n1"]), "unknown transaction id 999"),
            (coordinator, ("Txn.outcome", -3), "positive integer"),
            (coordinator, ("Txn.commit", 1, "n1"), "list of shard names"),
            (shard, ("Shard.read", 1, ""), "non-empty string"),
        ]
        for client, call, message in bad:
            with pytest.raises(RemoteError, match=message):
                client.call(*call, timeout=5.0)
        txid = coordinator.call("Txn.begin", timeout=5.0)
        with pytest.raises(RemoteError, match="no such shards"):
            coordinator.call("Txn.commit", txid, ["n7"], timeout=5.0)
        assert shard.call("Shard.write", txid, "k", 1, True, timeout=5.0) == ["ok", None]
        coordinator.call("Txn.commit", txid, ["n1"], timeout=5.0)
        assert cluster.wait_for(
            lambda: coordinator.call("Txn.outcome", txid, timeout=5.0) == "committed", timeout_s=10
        )
        assert cluster.wait_for(lambda: not _fields(cluster, "n1")["prepared"], timeout_s=10)
        with pytest.raises(RemoteError, match="already committed"):
            shard.call("Shard.write", txid, "k", 2, False, timeout=5.0)
        with pytest.raises(RemoteError, match="already committed"):
            coordinator.call("Txn.commit", txid, ["n1"], timeout=5.0)
        assert shard.call("Shard.data", timeout=5.0) == {"k": 1}
