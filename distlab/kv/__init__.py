"""A replicated key-value store: put, get, append — strong (on Raft) or weak (eventual).

- `state_machine`: the deterministic table plus the duplicate table that makes
  retries safe (at-most-once), driven by a replicated log.
- `weak`: an eventually consistent replica: local reads and writes, eager push,
  anti-entropy, last writer wins by Lamport timestamp.
"""

from distlab.kv.state_machine import Applied, Command, KVStateMachine
from distlab.kv.weak import Stamp, WeakReplica

__all__ = ["Applied", "Command", "KVStateMachine", "Stamp", "WeakReplica"]
