"""The configuration manager replicated on Raft (``managers=3``): its state is a service applied
from the log; SIGKILL of the manager leader mid-workload, then of the tail, and the new
leader still reconfigures the chain with nothing acknowledged lost; a leader cut off from
the other managers stops granting leases, and a new one waits them out (two mutants that
break those rules are caught); RaftPeer's ``raft_members`` restricts the Raft group and
changes nothing for anyone else."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from distlab.chain.experiments import chain_converged, kill_the_manager_leader, manager_status
from distlab.chain.manager import _Heard
from distlab.chain.node import REAL_TIMING, ChainClient
from distlab.chain.replicated_manager import ChainClusterNode, ConfigState, ManagerPeer
from distlab.cluster import Cluster, ClusterError
from distlab.cluster.program import NodeContext
from distlab.replicated.raft_peer import raft_peers
from distlab.replicated.replies import Applied, decode_reply
from distlab.rpc import RemoteError

MEMBERS = [["n3", 7, 1], ["n4", 8, 1]]


def test_the_configuration_state_installs_only_the_next_epoch() -> None:
    state = ConfigState()
    assert state.apply(["install", 1, MEMBERS, [], ["n3", "n4"], 0]) is True
    assert state.apply(["install", 1, MEMBERS[:1], ["n4"], [], 9]) is False, "a stale decision"
    assert state.apply(["install", 3, MEMBERS[:1], ["n4"], [], 9]) is False, "a gap"
    assert state.query() == {"epoch": 1, "members": MEMBERS}
    assert state.apply(["install", 2, MEMBERS[1:], ["n3"], [], 60]) is True
    copy = ConfigState()
    copy.restore(state.snapshot())
    assert copy.query() == {"epoch": 2, "members": [["n4", 8, 1]]}
    assert [c["removed"] for c in copy.query("history")] == [[], ["n3"]]
    assert [c["decided_at_tick"] for c in copy.query("history")] == [0, 60]
    with pytest.raises(ValueError, match="install commands"):
        state.apply(["remove", "n4"])


def test_raft_members_restricts_the_group_and_defaults_to_every_node(tmp_path: Path) -> None:
    peers = {f"n{i}": ("127.0.0.1", 9000 + i) for i in range(1, 6)}
    ctx = NodeContext(
        name="n0",
        address=("127.0.0.1", 9000),
        peers=peers,
        data_dir=tmp_path,
        log=logging.getLogger("test"),
    )
    assert raft_peers(ctx) == ["n1", "n2", "n3", "n4", "n5"]
    assert raft_peers(ctx, ["n0", "n1", "n2"]) == ["n1", "n2"]
    with pytest.raises(ValueError, match="must include this node"):
        raft_peers(ctx, ["n1", "n2"])
    with pytest.raises(ValueError, match="does not have"):
        raft_peers(ctx, ["n0", "n9"])


@pytest.mark.cluster
def test_killing_the_manager_leader_then_the_tail_loses_no_acknowledged_write() -> None:
    # Chain replication here; notebook 12 runs the same with CRAQ (the manager does not
    # depend on the read protocol).
    with Cluster.start(6, service="chain", protocol="cr", managers=3, seed=21) as cluster:
        assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
        status = cluster.status()
        assert "term" not in status["n3"].fields, "chain nodes take no part in Raft"
        leader = manager_status(cluster, status)["leader"]
        follower = next(name for name in ("n0", "n1", "n2") if name != leader)
        hint = cluster.client(follower, client_name="t").call("Chain.config", timeout=5.0)
        assert hint == {"not_leader": leader}
        with pytest.raises(RemoteError, match="not a peer"):  # the Raft group is n0..n2
            cluster.client(leader, client_name="t").call("Raft.step", "n3", [], timeout=5.0)

        run = kill_the_manager_leader(cluster, seed=21, between_s=0.5)
        assert run.crashed == (f"manager leader ({leader})", "tail (n5)")
        assert run.converged, "the new manager leader took the tail back"
        assert run.linearizable, run.verdict
        assert run.acknowledged_writes_lost == 0
        assert run.acknowledged_writes > 10, "the run must not be vacuous"
        assert run.epoch >= 3, "founding, the tail removed, the tail added again"
        assert ChainClient(cluster).refresh() == ["n3", "n4", "n5"]
        now_leading = manager_status(cluster)["leader"]
        reply = decode_reply(
            cluster.client(now_leading, client_name="t").call(
                "Replicated.read", "history", 5.0, timeout=10.0
            )
        )
        assert isinstance(reply, Applied), reply
        changes = [(c["epoch"], c["removed"], c["added"]) for c in reply.result]
        assert changes == [
            (1, [], ["n3", "n4", "n5"]),
            (2, ["n5"], []),
            (3, [], ["n5"]),
        ], "the takeover itself removed nobody; the new leader removed and re-added the tail"


@pytest.mark.cluster
def test_bad_manager_options_get_clear_errors() -> None:
    with pytest.raises(ClusterError, match="managers must be a positive number"):
        Cluster.start(4, service="chain", managers=0)
    with pytest.raises(ClusterError, match="manager=False has none"):
        Cluster.start(4, service="chain", managers=3, manager=False)


class LeasesWithoutConfirmation(ManagerPeer):
    """Mutant: the manager leader grants read leases without a recent confirmation that a
    majority of managers still follows it."""

    def _may_grant_leases(self) -> bool:
        return True


class ChainWithUnconfirmedLeases(ChainClusterNode):
    manager_program = LeasesWithoutConfirmation


class NoWaitAfterTakeover(ManagerPeer):
    """Mutant: a new manager leader counts the members as silent since long ago, so it
    removes one it has not heard from at once, while an old leader's lease may still run."""

    def _take_over(self, term: int) -> None:
        super()._take_over(term)
        if self._core is not None:
            for node, incarnation, _ in self._core.members:
                self._core._heard[node] = _Heard(
                    -REAL_TIMING.failure_timeout_ticks, incarnation, True
                )


class ChainWithNoWaitAfterTakeover(ChainClusterNode):
    manager_program = NoWaitAfterTakeover


def _cut_off_the_tail_with_the_manager_leader(cluster: Cluster) -> tuple[dict, dict]:
    """Cut the manager leader off from the other managers, and the tail off from those
    others (chain nodes still reach each other and the old leader): the others elect a
    leader that removes the tail; a write then commits without it. Returns the tail's
    answer to a read of that key (a stale value there is a lease that outlived a leader)
    and the new leader's log entry that removed the tail."""
    assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
    client = ChainClient(cluster, protocol="cr", client_id="t")
    client.put("x", "old")
    leader = manager_status(cluster)["leader"]
    others = [name for name in ("n0", "n1", "n2") if name != leader]
    cluster.partition([leader, "n5"], others)
    # (In any order: a mutant may drop and re-add the head too.)
    assert cluster.wait_for(lambda: sorted(client.refresh()) == ["n3", "n4"], timeout_s=20)
    client.put("x", "new")
    tail = cluster.client("n5", client_name="t-tail")
    answer = tail.call("Chain.read", "x", 1.0, timeout=5.0)
    reply = decode_reply(
        cluster.client(manager_status(cluster)["leader"], client_name="t").call(
            "Replicated.read", "history", 5.0, timeout=10.0
        )
    )
    assert isinstance(reply, Applied), reply
    removal = next(change for change in reply.result if "n5" in change["removed"])
    return answer, removal


@pytest.mark.cluster
def test_a_manager_leader_cut_off_from_the_others_stops_granting_leases() -> None:
    with Cluster.start(6, service="chain", protocol="cr", managers=3, seed=22) as cluster:
        answer, removal = _cut_off_the_tail_with_the_manager_leader(cluster)
        assert "lease" in answer.get("refused", ""), answer
        waited = REAL_TIMING.failure_timeout_ticks
        assert removal["decided_at_tick"] > waited, "a new leader waits out the old leases"


MUTANT_OPTIONS = {"protocol": "cr", "manager": True, "managers": 3}


@pytest.mark.cluster
def test_the_mutant_that_grants_leases_unconfirmed_serves_a_stale_read() -> None:
    with Cluster.start(6, program=ChainWithUnconfirmedLeases, seed=22, **MUTANT_OPTIONS) as c:
        answer, _ = _cut_off_the_tail_with_the_manager_leader(c)
        assert answer.get("value") == "old", f"the check must catch the mutant: {answer}"


@pytest.mark.cluster
def test_the_mutant_that_removes_at_once_after_a_takeover_is_caught() -> None:
    with Cluster.start(6, program=ChainWithNoWaitAfterTakeover, seed=22, **MUTANT_OPTIONS) as c:
        _, removal = _cut_off_the_tail_with_the_manager_leader(c)
        waited = REAL_TIMING.failure_timeout_ticks
        assert removal["decided_at_tick"] <= waited, f"the check must catch it: {removal}"
