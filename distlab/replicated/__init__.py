"""distlab.replicated: Raft in real processes -- a replicated state machine you can crash.

    from distlab.cluster import Cluster
    from distlab.replicated import RaftPeer, RaftClient
    with Cluster.start(3, program=RaftPeer) as cluster:
        RaftClient(cluster).submit(["x", 1])

Modules, in reading order: ``service`` (the replicated state machine interface, 复制状态机),
``persistence`` (term, vote, log and snapshot on disk, 持久化), ``replies`` (what a
client hears: typed, each definite or not), ``transport`` (batched,
asynchronous, droppable messages between peers), ``raft_peer`` (the driver: real time,
persist -> send -> apply), ``client`` (find the leader, retry), ``observe`` (who leads,
what each node applied, waiting for both), ``experiments`` (what a leader crash costs).

This package drives the pure core in :mod:`distlab.raft`; it never changes Raft's rules.
It starts no processes itself (:mod:`distlab.cluster` does).
"""

from __future__ import annotations

import importlib
from typing import Any

# Names load lazily (PEP 562): a node process may load raft_peer.py by file path (how
# distlab.cluster ships a program class), and an eager import here would then import that
# module a second time, half-initialised.
_WHERE = {
    "Applied": "replies",
    "ApplyFailed": "replies",
    "Failover": "experiments",
    "CommandList": "service",
    "LostLeadership": "replies",
    "NotLeader": "replies",
    "REPLY_CODEC": "replies",
    "Reply": "replies",
    "TimedOut": "replies",
    "decode_reply": "replies",
    "PeerSender": "transport",
    "PeerStatistics": "raft_peer",
    "RaftClient": "client",
    "RaftPeer": "raft_peer",
    "RaftStorage": "persistence",
    "ReplicatedService": "service",
    "SenderStatistics": "transport",
    "StorageStatistics": "persistence",
    "applied": "observe",
    "measure_failover": "experiments",
    "one_leader": "observe",
    "status_lines": "observe",
    "wait_for_one_leader": "observe",
    "wait_until_applied": "observe",
    "decode_batch": "transport",
    "load_service": "service",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'distlab.replicated' has no attribute {name!r}")
    return getattr(importlib.import_module(f"distlab.replicated.{module}"), name)


def __dir__() -> list[str]:
    return __all__
