"""RaftPeer and the leader's no-op: the core appends it, the driver keeps it from the service.

One RaftPeer in this process, with no peers (a cluster of one): no sockets, no node
processes. The tests drive its core's clock by hand under the peer's own lock, so
nothing waits on real time except bounded waits for an answer that is already due.
"""

from __future__ import annotations

import logging
from pathlib import Path

from distlab.cluster.program import NodeContext
from distlab.raft import NOOP, CommandApplied, NotLeader, Role
from distlab.replicated import Applied, LostLeadership, raft_peer
from distlab.replicated.raft_peer import RaftPeer


def lone_peer(data_dir: Path, **options: object) -> RaftPeer:
    ctx = NodeContext(
        name="n0",
        address=("127.0.0.1", 0),
        peers={},
        data_dir=data_dir,
        log=logging.getLogger("test-raft-peer-noop"),
        options=dict(options),
    )
    return RaftPeer(ctx)


def test_the_old_name_of_the_noop_still_imports():
    assert raft_peer.NOOP is NOOP


def test_first_command_of_a_fresh_peer_lands_after_its_noop_which_the_service_never_sees(
    tmp_path: Path,
) -> None:
    peer = lone_peer(tmp_path)
    try:
        with peer._lock:  # white-box: time passes for the core only as fast as we say
            while peer.node.role is not Role.LEADER:
                peer.node.tick()
        waiter = peer.propose_nowait(["put", "x", 1])
        assert not isinstance(waiter, NotLeader), waiter
        answer = peer.wait_for_result(waiter, timeout=10.0)
        # Index 1 is the no-op; the service (a CommandList) saw one command only.
        assert answer == Applied(result=1, index=2, term=answer.term)
        assert peer.service.query() == [["put", "x", 1]]
    finally:
        peer.close()


def test_a_client_whose_index_a_new_leaders_noop_took_learns_it_lost(tmp_path: Path) -> None:
    # An election timeout of a minute: this peer stays a follower while we look.
    peer = lone_peer(tmp_path, election_timeout_ms=(60_000, 60_000))
    try:
        # White-box: as if we had proposed at index 1 in term 1, and a later leader's
        # no-op (term 2) was committed there instead.
        waiter = raft_peer._Pending(index=1, term=1)
        with peer._lock:
            peer._waiters[1] = waiter
        peer._apply([CommandApplied(1, 2, NOOP)])
        assert waiter.resolved
        assert isinstance(waiter.result, LostLeadership), waiter.result
        assert peer.service.query() == []
    finally:
        peer.close()
