"""A replicated key-value store: put, get, append — strong (on Raft) or weak (eventual).

- `state_machine`: the deterministic table plus the duplicate table that makes
  retries safe (at-most-once), driven by a replicated log.
- `weak`: an eventually consistent replica: local reads and writes, eager push,
  anti-entropy, last writer wins by Lamport timestamp.
- `strong`: the KVStateMachine adapter a Raft peer hosts.
- `read_paths`: the three ways a strong get can be answered (log, ReadIndex, lease), timed
  and tried against a paused leader.
- `weak_node`: WeakReplica in a real node process (rpc gossip, durable writes).
- `quorum_node`: a stamped replica for the quorum mode (N, R, W), coordinated by the Clerk.
- `clerk`: the one client for both modes — retries, leader changes, at-most-once, history.
- `workload`: a Jepsen-style run (clients + nemesis) and its verdicts.

    with Cluster.start(3, service="kv", consistency="strong") as cluster:  # "weak", "quorum"
        kv = cluster.client()
        kv.put("x", "1"); kv.get("x")
"""

from distlab.kv.clerk import Clerk, ClerkStatistics, KVError, KVTimeout, KVUnavailable
from distlab.kv.read_paths import measure_read_paths, read_after_a_pause
from distlab.kv.state_machine import Applied, Command, KVStateMachine
from distlab.kv.strong import KVService
from distlab.kv.weak import Stamp, WeakReplica
from distlab.kv.workload import run_workload, wait_for_convergence

__all__ = [
    "Applied",
    "Clerk",
    "ClerkStatistics",
    "Command",
    "KVError",
    "KVService",
    "KVStateMachine",
    "KVTimeout",
    "KVUnavailable",
    "Stamp",
    "WeakReplica",
    "measure_read_paths",
    "read_after_a_pause",
    "run_workload",
    "wait_for_convergence",
]
