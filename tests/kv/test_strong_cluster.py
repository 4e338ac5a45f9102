"""The strong store (KV on Raft) in real processes, Jepsen-style: linearizable, nothing lost.

Concurrent clients + a seeded nemesis (crash, restart, partition, heal); then the history
goes through the linearizability checker and every acknowledged write is looked for in the
final state, read through the log. A failing seed replays with ``pytest --seed N`` (the
nemesis plan and the clients' choices come from it; real timing still varies).
"""

from __future__ import annotations

import time

import pytest

from distlab.check.nemesis import Nemesis
from distlab.cluster import Cluster
from distlab.kv import Clerk
from distlab.kv.workload import run_workload
from distlab.replicated import Applied, NotLeader, TimedOut, decode_reply
from distlab.rpc import Client, RemoteError
from distlab.rpc.faults import set_remote

pytestmark = pytest.mark.cluster


def jepsen_run(seed: int, duration_s: float, faults=("partition", "crash"), reads="read_index"):
    with Cluster.start(3, service="kv", consistency="strong", seed=seed) as cluster:
        nemesis = Nemesis(seed, faults=faults, gap_s=(0.3, 1.0), hold_s=(0.8, 1.5))
        result = run_workload(
            cluster, clients=4, duration_s=duration_s, nemesis=nemesis, seed=seed, reads=reads
        )
    return result, nemesis


def assert_strong(result, nemesis, seed: int) -> None:
    s = result.summary
    context = f"seed {seed}: {s}; faults {[str(e) for e in result.faults]}"
    assert nemesis.statistics().performed >= 2, f"the nemesis did nothing: {context}"
    assert not [e for e in result.faults if e.error], context
    assert s.ok > 50, f"the store made little progress: {context}"
    assert s.verdict == "ok", f"{result.check.explanation}\n{context}"
    assert s.acknowledged_writes_lost == 0, f"lost {result.lost_writes}: {context}"
    assert s.stale_reads == 0, context


@pytest.mark.parametrize(
    ("seed", "reads"), [(1, "read_index"), (2, "read_index"), (3, "log"), (4, "follower")]
)
def test_histories_under_a_nemesis_are_linearizable_and_lose_no_acknowledged_write(
    seed: int, reads: str, seed_override
) -> None:
    """Gets by ReadIndex (the default), through the log, and by ReadIndex at any node
    (follower reads): all linearizable."""
    seed = seed if seed_override is None else seed_override
    result, nemesis = jepsen_run(seed, duration_s=4.0, reads=reads)
    assert_strong(result, nemesis, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 14))
def test_longer_sweep_with_pauses(seed: int) -> None:
    result, nemesis = jepsen_run(seed, duration_s=10.0, faults=("partition", "crash", "pause"))
    assert_strong(result, nemesis, seed)


def test_appends_apply_once_though_replies_are_lost_and_retried_across_nodes() -> None:
    with Cluster.start(3, service="kv", consistency="strong", seed=7) as cluster:
        kv = cluster.client(client_id="once", attempt_timeout_s=0.3, deadline_s=30)
        kv.put("log", "")
        # From now on every node loses half of its replies to clients (but not to its peers:
        # Raft itself is not the subject here).
        lossy = {"drop_reply": 0.5, "seed": 7, "exempt": ["controller", *cluster.names]}
        for name in cluster.names:
            set_remote(cluster.address(name), lossy, control_secret=cluster.control_secret)
        tokens = [f"{i};" for i in range(8)]
        for token in tokens:
            kv.append("log", token)
        retries = kv.statistics().retries
        for name in cluster.names:
            set_remote(
                cluster.address(name),
                {"drop_reply": 0.0, "exempt": ["controller"]},
                control_secret=cluster.control_secret,
            )
        assert retries > 0, "no reply was lost: the test tested nothing"
        assert kv.get("log") == "".join(tokens), "an append was applied twice, or lost"


def test_cluster_client_is_a_strong_clerk_that_survives_a_leader_crash() -> None:
    with Cluster.start(3, service="kv", consistency="strong", seed=8) as cluster:
        kv = cluster.client()
        assert isinstance(kv, Clerk) and kv.consistency == "strong"
        kv.put("x", "1")
        leader = next(n for n, s in cluster.status().items() if s.fields.get("role") == "leader")
        cluster.crash(leader)
        kv.append("x", "2")  # a new leader is elected; the clerk finds it
        assert kv.get("x") == "12"
        cluster.restart(leader)
        # The restarted node catches up through the log: its local table agrees.
        with Client(cluster.address(leader), name="observer") as observer:
            deadline = time.monotonic() + 30
            while observer.call("Replicated.query", None, timeout=5.0).get("x") != "12":
                assert time.monotonic() < deadline, f"{leader} never caught up"
                time.sleep(0.05)


def test_a_leader_cut_off_by_a_partition_answers_no_read_index_read() -> None:
    """ReadIndex on real processes: the old leader, cut off, cannot confirm a round with a
    majority, so it never answers from its stale table; healed, it points to the new leader."""
    with Cluster.start(3, service="kv", consistency="strong", seed=11) as cluster:
        kv = cluster.client(client_id="writer")
        kv.put("x", "before")
        old = next(n for n, s in cluster.status().items() if s.fields.get("role") == "leader")
        cluster.isolate(old)
        kv.put("x", "after")  # the majority side elects a new leader and commits
        with Client(cluster.address(old), name="reader", secret=cluster.secret) as reader:
            stale = decode_reply(reader.call("Replicated.read", "x", 1.0, timeout=5.0))
            assert isinstance(stale, TimedOut), f"the cut-off leader answered {stale}"
            cluster.heal()

            def refers_to_the_new_leader() -> bool:
                reply = decode_reply(reader.call("Replicated.read", "x", 1.0, timeout=5.0))
                assert not (isinstance(reply, Applied) and reply.result == "before"), reply
                if isinstance(reply, Applied):  # it was elected again: then it knows "after"
                    return reply.result == "after"
                return isinstance(reply, NotLeader) and reply.leader_hint not in (None, old)

            assert cluster.wait_for(refers_to_the_new_leader, timeout_s=30)
        assert kv.get("x") == "after"


def test_a_follower_answers_a_follower_read_with_every_completed_write() -> None:
    """Follower reads on real processes: each read begins after a put completed at the
    leader, and the follower's own table must already hold it when it answers."""
    with Cluster.start(3, service="kv", consistency="strong", seed=13) as cluster:
        kv = cluster.client(client_id="writer")
        kv.put("x", "0")
        leader = next(n for n, s in cluster.status().items() if s.fields.get("role") == "leader")
        follower = next(n for n in cluster.names if n != leader)
        with Client(cluster.address(follower), name="reader", secret=cluster.secret) as reader:
            plain = decode_reply(reader.call("Replicated.read", "x", 1.0, timeout=5.0))
            assert isinstance(plain, NotLeader), plain  # the option is off by default
            for value in "123456":
                kv.put("x", value)
                raw = reader.call("Replicated.read", "x", 2.0, True, timeout=5.0)
                reply = decode_reply(raw)
                assert isinstance(reply, Applied) and reply.result == value, reply
            with pytest.raises(RemoteError, match="follower_ok"):
                reader.call("Replicated.read", "x", 1.0, "yes", timeout=5.0)


def test_lease_reads_in_real_processes_answer_and_stay_linearizable_without_faults() -> None:
    """``lease_reads=True`` reaches every peer's Raft core; with no pauses the clock
    assumption holds and the checker agrees (the simulator shows the pause that breaks it)."""
    with Cluster.start(3, service="kv", consistency="strong", seed=12, lease_reads=True) as c:
        result = run_workload(c, clients=3, ops=40, seed=12)
    assert result.summary.verdict == "ok", result.check.explanation
    assert result.summary.ok >= 100 and result.summary.acknowledged_writes_lost == 0
