"""The simulator's "disk": exactly what a driver persisted from `Ready`, nothing more.

What it is: `SimDisk` keeps a node's hard state, snapshot and log entries in
memory, updated only by `save(ready)`. A crash throws the node object away; a
restart builds a new node from `load()`. So anything the core had not handed to
the driver yet is lost, like unsynced state in a real crash.
What it must never do: look inside the RaftNode; it sees only `Ready` batches.
Where it fits: one per node in `distlab.sim.simulation.Simulation`; the real
driver uses `distlab.storage` instead.
"""

from __future__ import annotations

from distlab.raft.messages import LogEntry, command_size
from distlab.raft.ready import HardState, PersistedState, Ready, Snapshot


class SimDisk:
    """One node's durable state in the simulator."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot: Snapshot | None = None
        self.entries: list[LogEntry] = []
        self.writes = 0

    def save(self, ready: Ready) -> None:
        """Persist a Ready's hard state, snapshot and log change (see `Ready`)."""
        if ready.hard_state is not None:
            self.hard_state = ready.hard_state
            self.writes += 1
        if ready.snapshot is not None:
            self.snapshot = ready.snapshot
            cut = ready.snapshot.last_included_index
            self.entries = [e for e in self.entries if e.index > cut]
            self.writes += 1
        if ready.log_from is not None:
            first = self.entries[0].index if self.entries else ready.log_from
            keep = max(0, ready.log_from - first)
            # In place: the cost is what changed, not the length of the log.
            del self.entries[keep:]
            self.entries.extend(ready.entries)
            self.writes += 1

    def load(self) -> PersistedState:
        """What a restarting node finds."""
        return PersistedState(self.hard_state, self.snapshot, tuple(self.entries))

    def raft_state_bytes(self) -> int:
        """A byte estimate of hard state plus log, without the snapshot (6.824's "raft state")."""
        return 16 + sum(16 + command_size(e.command) for e in self.entries)
