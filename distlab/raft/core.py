"""RaftNode: the rules of Raft (extended paper, Figure 2, plus §7 snapshots) as a pure class.

What it is: one server's protocol state machine. Inputs are method calls:
`tick()` (one unit of logical time), `receive(sender, message)`,
`propose(command)`, `read_index(request)` and `snapshot(index, data)`. Outputs
collect as data until a driver calls `take_ready()` (see `distlab.raft.ready` for the
driver contract: persist, then send, then apply).
What it must never do: touch sockets, threads, the clock, files or the global
`random` module. All randomness comes from the injected `random.Random`, so a
seeded driver replays a run exactly.
Where it fits: `distlab.sim` drives it with a virtual clock; the real-process
driver (distlab.cluster) drives it with sockets and a disk.

Read it like a chapter: timers and elections (§5.2), votes and the up-to-date
check (§5.4.1), log replication with the consistency check and fast backtracking
(§5.3), commitment by counting only current-term entries (§5.4.2, Figure 8), and
snapshots with InstallSnapshot (§7), and linearizable reads that skip the log
(ReadIndex, the Raft thesis §6.4).

ReadIndex: a read needs no log entry, only two facts before it is answered. First, that
the state it reads is at least as new as every write that completed before it: the leader
notes its commit index (at least its own term's first entry, which every earlier commit
precedes) and answers once it has applied that far. Second, that this node is still the
leader, so no newer leader can have completed a write it has not seen: it sends a round of
AppendEntries after the read arrived, and waits for a majority to answer in its term. Reads
that arrive together share one round. The answer travels on the apply channel as a
`ReadReady` placed after the entries it must see, so a driver answers from its service at
exactly that point; a leader that steps down first answers `ReadRefused`.

Follower reads (the last paragraph of §6.4, ``read_index(request, follower_ok=True)``): a
follower can answer too, which takes read work off the leader. It asks the leader for a read
index (`ReadIndexRequest`; reads that arrive together share one); the leader joins them to its
next round, exactly as its own reads, and once a majority confirmed it replies with the index
(`ReadIndexReply`), writing nothing. The follower answers with a `ReadReady` on its own apply
channel once it has applied that far. A refusal from the leader, or a new term before the
reply, turns the reads into `ReadRefused`; a grant keeps its meaning once sent, so a
granted read waits for its index even across terms. A lost ask or answer is asked again
after a heartbeat interval (the leader may then confirm a read twice: harmless).

Leader leases (§6.4.1, ``RaftConfig(lease_reads=True)``, off by default) skip even that
round, and so trust clocks: every heartbeat starts a round, and once a majority answered a
round begun at tick t, no other leader can be elected before t + the smallest election
timeout, because a follower that heard from its leader that recently refuses to vote
(§4.2.3). Until t + that timeout - ``lease_margin_ticks``, reads are answered with no round.
The assumption: every node's ticks run at the same rate, to within the margin. A leader
whose process stops for a while (a pause, a swapped-out VM) wakes up believing its lease
still holds -- the simulator's pause shows the stale read this allows.

A new leader appends a blank entry, `NOOP`, of its own term (§8, as etcd's
becomeLeader does; ``RaftConfig(noop_on_election=False)`` turns it off). Once it
commits, so does everything before it (Figure 8 forbids committing those by
counting), without waiting for a client's command. It takes a log index (the first
command of a fresh cluster lands at index 2) and is delivered on the apply channel
like any entry, so the channel has no gaps; each driver keeps it from its service
(`is_noop`). Both drivers, simulated and real, get it from here: one Raft everywhere.

Extending it (the assignments and the tests' mutants do): a subclass may override
exactly these *hooks*; the core calls each one at the step of Figure 2 it names, and
nothing else of the class is meant to be replaced (names with a leading underscore
may change at any time).

- ``start_election()``: the election timer fired. Must call `become_candidate`, then
  `become_leader` if its own vote is a majority, else `send` each peer a `RequestVote`.
- ``handle_request_vote(sender, request)``: must `send` exactly one `RequestVoteReply`;
  grant at most one vote per term, and only to an up-to-date log; a granted vote is
  recorded in ``voted_for`` with `persist_hard_state` before the reply leaves.
- ``handle_request_vote_reply(sender, reply)``: count ``votes`` of the current term
  while a candidate; on a ``majority``, `become_leader`.
- ``candidate_log_is_up_to_date(last_log_index, last_log_term)``: §5.4.1's comparison.
- ``handle_append_entries(sender, request)``: the follower's side of §5.3. Must `send`
  exactly one `AppendEntriesReply`, call `log_changed` for any change to the log,
  and raise ``commit_index`` only over entries the request proved to match.
- ``handle_append_entries_reply(sender, reply)``: the leader's side: move
  ``match_index``/``next_index`` and call `advance_commit_index`, or back off and
  `send_append_entries` again.
- ``advance_commit_index()``: raise ``commit_index`` to what a majority stores, only
  by counting entries of the current term (Figure 8).

Helpers a hook may call: `send`, `send_append_entries`, `log_changed`,
`persist_hard_state`, `reset_election_timer`, `become_follower`, `become_candidate`,
`become_leader`, and the properties ``votes`` and ``majority``. With
``RaftConfig(pipeline=False)`` the leader never moves ``next_index`` ahead of the
replies, so a hand-written ``handle_append_entries_reply`` need not know about
pipelining or probing.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any

from distlab.raft.log import RaftLog
from distlab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Envelope,
    InstallSnapshot,
    InstallSnapshotReply,
    LogEntry,
    Message,
    NodeId,
    ReadIndexReply,
    ReadIndexRequest,
    RequestVote,
    RequestVoteReply,
)
from distlab.raft.ready import (
    ApplyMsg,
    CommandApplied,
    HardState,
    NotLeader,
    PersistedState,
    Proposed,
    ReadReady,
    ReadRefused,
    Ready,
    Snapshot,
    SnapshotApplied,
)


class Role(str, Enum):
    """The three roles of §5.1."""

    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


# Python 3.11's Enum metaclass routes every attribute lookup on the class through a
# slow hook, so ``Role.LEADER`` costs several times a plain global. The methods below
# run for every tick and message, so they use these aliases of the very same members.
_FOLLOWER, _CANDIDATE, _LEADER = Role.FOLLOWER, Role.CANDIDATE, Role.LEADER


NOOP: dict[str, str] = {"__raft__": "noop"}
"""The command of the blank entry a new leader appends (reserved: never a service's command).

Plain data, so it travels through the codec and the disk like any command."""


def is_noop(command: Any) -> bool:
    """True for the command of a leader's blank entry (drivers keep it from their service)."""
    # The type test first: a command of another type may define an odd __eq__.
    return type(command) is dict and command == NOOP


@dataclass(frozen=True)
class RaftConfig:
    """Timing and batching knobs, all in ticks or counts (a driver decides what a tick is)."""

    election_timeout_ticks: tuple[int, int] = (10, 20)
    heartbeat_interval_ticks: int = 3
    max_entries_per_append: int = 64
    noop_on_election: bool = True
    """Append a blank `NOOP` entry of the new term on winning an election (§8). False is
    Raft as Figure 2 states it: 6.824-style scenarios that count log indices, or the
    paper's Figure 8, which needs a leader that has appended nothing of its own term."""
    lease_reads: bool = False
    """Leader leases (§6.4.1): answer linearizable reads without a round while a majority's
    recent answers hold the lease; followers then refuse votes for a minimum election timeout
    after hearing from their leader. Trusts clock rates (see the module docstring)."""
    lease_margin_ticks: int = 2
    """How much sooner than the smallest election timeout a lease ends: the clock drift
    (and scheduling delay) the lease tolerates."""
    pipeline: bool = True
    """Pipelining (True): a follower known to be in step gets each new entry once, as it is
    proposed, without waiting for replies; one of unknown position (just elected, or after
    a rejection) is probed with one AppendEntries per heartbeat or reply. False: Figure 2
    as written -- every send carries everything from ``next_index``, which moves on replies
    only, so a subclass's own ``handle_append_entries_reply`` stays simple."""

    def __post_init__(self) -> None:
        low, high = self.election_timeout_ticks
        if not 0 < low <= high:
            raise ValueError(f"election_timeout_ticks must be 0 < low <= high, got {low, high}")
        if not 0 < self.heartbeat_interval_ticks < low:
            raise ValueError(
                "heartbeat_interval_ticks must be positive and shorter than the smallest "
                f"election timeout ({self.heartbeat_interval_ticks} vs {low}), or followers "
                "would time out while the leader is healthy"
            )
        if self.max_entries_per_append < 1:
            raise ValueError("max_entries_per_append must be at least 1")
        if not 0 <= self.lease_margin_ticks < low:
            raise ValueError(
                f"lease_margin_ticks must be 0 <= margin < the smallest election timeout "
                f"({low}), got {self.lease_margin_ticks}"
            )


@dataclass(frozen=True)
class RaftStatistics:
    """What a widget or a test may watch; a snapshot of the node's state."""

    node_id: NodeId
    role: str
    current_term: int
    voted_for: NodeId | None
    leader_id: NodeId | None
    last_log_index: int
    log_length: int
    commit_index: int
    last_applied: int
    snapshot_index: int
    elections_started: int
    messages_sent: int
    # Snapshots this incarnation took from a leader (§7 InstallSnapshot): how a follower
    # that fell behind the leader's compacted log caught up.
    snapshots_installed: int = 0


class RaftNode:
    """Raft's rules (paper, Figure 2). No I/O, no sleeping, no clock.

    ``peers`` are the other members of the cluster. ``persisted`` is what the
    driver saved from earlier `Ready` batches; constructing from it is a restart
    (volatile state starts over, as after a crash).
    """

    def __init__(
        self,
        node_id: NodeId,
        peers: list[NodeId] | tuple[NodeId, ...],
        *,
        rng: random.Random,
        config: RaftConfig | None = None,
        persisted: PersistedState | None = None,
    ) -> None:
        if node_id in peers:
            raise ValueError(f"peers must not contain the node itself ({node_id!r})")
        if len(set(peers)) != len(peers):
            raise ValueError(f"peers contain duplicates: {list(peers)}")
        self.node_id = node_id
        self.peers: tuple[NodeId, ...] = tuple(peers)
        self.config = config or RaftConfig()
        self._rng = rng
        self._majority = (len(self.peers) + 1) // 2 + 1
        self._pipelining = self.config.pipeline  # read for every send: a plain attribute

        # Persistent state on all servers (Figure 2), restored from disk on restart.
        persisted = persisted or PersistedState()
        self.current_term: int = persisted.hard_state.current_term
        self.voted_for: NodeId | None = persisted.hard_state.voted_for
        self._snapshot: Snapshot | None = persisted.snapshot
        if persisted.snapshot is None:
            self.log = RaftLog(entries=persisted.entries)
        else:
            snap = persisted.snapshot
            self.log = RaftLog(
                snap.last_included_index,
                snap.last_included_term,
                [e for e in persisted.entries if e.index > snap.last_included_index],
            )

        # Volatile state on all servers. §7: what the snapshot covers is committed and,
        # once the snapshot is handed back to the service, applied.
        self.role = _FOLLOWER
        self.leader_id: NodeId | None = None
        self.commit_index = self.log.snapshot_index
        self.last_applied = self.log.snapshot_index

        # Volatile state on leaders (reinitialised after each election).
        self.next_index: dict[NodeId, int] = {}
        self.match_index: dict[NodeId, int] = {}
        # Peers whose log position is unknown (after an election or a rejection): they get
        # one AppendEntries per heartbeat or reply until one succeeds, so a dead or far
        # behind follower does not receive the same backlog again with every proposal.
        self._probing: set[NodeId] = set()

        # ReadIndex (§6.4): reads waiting for a round of AppendEntries to start, reads in a
        # round (round -> [(request, read index)]), the latest round each follower echoed in
        # this term, reads confirmed but waiting for the apply channel to reach their index
        # (in index order), and refusals to hand out.
        self._read_round = 0
        self._term_start_index = 0
        self._reads_waiting: list[tuple[int, int]] = []
        self._reads_in_round: dict[int, list[tuple[int, int]]] = {}
        self._round_acks: dict[NodeId, int] = {}
        self._reads_confirmed: deque[tuple[int, int]] = deque()
        self._reads_refused: list[ReadRefused] = []
        self._echo_round = 0  # the round of the AppendEntries being handled, for its reply
        # Follower reads: on the leader, followers' asks (follower, its requests, read index)
        # waiting for a round and in each round; on a follower, reads to ask the leader
        # about, reads asked in this term, and reads granted as (index, request), a heap.
        self._asks_waiting: list[tuple[NodeId, tuple[int, ...], int]] = []
        self._asks_in_round: dict[int, list[tuple[NodeId, tuple[int, ...], int]]] = {}
        self._asks_held: set[tuple[NodeId, int]] = set()  # so an ask asked again is not kept twice
        self._reads_to_ask: list[int] = []
        self._reads_asked: set[int] = set()
        self._reads_granted: list[tuple[int, int]] = []
        self._asked_at = 0  # this node's tick count when it last asked
        # Leases: this node's own tick count (its clock), when each round began, the tick
        # the lease runs to, and ticks since a leader of our term was heard from.
        self._ticks = 0
        self._round_began: dict[int, int] = {}
        self._lease_until = 0
        # A node that just (re)started may have answered a leader's round before it went
        # down and forgot it: it waits out one smallest election timeout before voting.
        self._since_leader_heard = 0

        self._votes: set[NodeId] = set()
        self._election_elapsed = 0
        self._election_timeout = self._random_election_timeout()
        self._heartbeat_elapsed = 0

        # Outputs waiting for take_ready().
        self._messages: list[Envelope] = []
        self._hard_state_changed = False
        self._log_changed_from: int | None = None
        self._snapshot_to_persist: Snapshot | None = None
        self._snapshot_to_apply: Snapshot | None = persisted.snapshot
        self._replicate_pending = False

        self._elections_started = 0
        self._messages_sent = 0
        self._snapshots_installed = 0

    # ==========================================================================================
    # Inputs
    # ==========================================================================================

    def tick(self) -> None:
        """One unit of logical time: heartbeats for a leader, the election timer for others."""
        self._ticks += 1
        self._since_leader_heard += 1
        if self.role is _LEADER:
            self._heartbeat_elapsed += 1
            if self._heartbeat_elapsed >= self.config.heartbeat_interval_ticks:
                # §5.2: leaders send periodic heartbeats to maintain their authority.
                self._heartbeat_elapsed = 0
                if self.config.lease_reads:
                    self._begin_round()  # each heartbeat renews the lease
                for peer in self.peers:
                    self.send_append_entries(peer)
        else:
            if (
                self._reads_asked
                and self._ticks - self._asked_at >= self.config.heartbeat_interval_ticks
            ):
                # The ask or its answer may be lost; asking again is harmless (a grant
                # always comes from a round that began after some ask, so after the read).
                self._ask_leader(sorted(self._reads_asked))
            self._election_elapsed += 1
            if self._election_elapsed >= self._election_timeout:
                self.start_election()

    def receive(self, sender: NodeId, message: Message) -> None:
        """Handle one message from ``sender``."""
        if (
            self.config.lease_reads
            and type(message) is RequestVote
            and self._since_leader_heard < self.config.election_timeout_ticks[0]
        ):
            # §4.2.3, which leases rely on: our leader was heard from too recently for an
            # election to be needed; neither adopt the candidate's term nor vote.
            return
        # §5.1: a message from a later term means ours is over; adopt it and follow.
        if message.term > self.current_term:
            self.become_follower(message.term)
        match message:
            case RequestVote():
                self.handle_request_vote(sender, message)
            case RequestVoteReply():
                self.handle_request_vote_reply(sender, message)
            case AppendEntries():
                # Echoed only to the leader of our term: the reply then proves we followed
                # it after that round began (a stale leader's round proves nothing).
                if message.term == self.current_term:
                    self._echo_round = message.read_round
                    self._since_leader_heard = 0
                self.handle_append_entries(sender, message)
                self._echo_round = 0
            case AppendEntriesReply():
                if message.read_round and message.term == self.current_term:
                    self._note_read_ack(sender, message.read_round)
                self.handle_append_entries_reply(sender, message)
            case InstallSnapshot():
                if message.term == self.current_term:
                    self._since_leader_heard = 0
                self._handle_install_snapshot(sender, message)
            case InstallSnapshotReply():
                self._handle_install_snapshot_reply(sender, message)
            case ReadIndexRequest():
                self._handle_read_index_request(sender, message)
            case ReadIndexReply():
                self._handle_read_index_reply(message)
            case _:
                raise TypeError(f"receive() got {type(message).__name__}, not a Raft message")

    def propose(self, command: Any) -> Proposed | NotLeader:
        """Append ``command`` to the log if this node is the leader (§5.3).

        Entries proposed between two `take_ready` calls go out in one AppendEntries
        per follower (batching).
        """
        if self.role is not _LEADER:
            return NotLeader(leader_hint=self.leader_id)
        entry = LogEntry(term=self.current_term, index=self.log.last_index + 1, command=command)
        self.log.append([entry])
        self.log_changed(entry.index)
        self._replicate_pending = True
        self.advance_commit_index()  # a one-node cluster commits at once
        return Proposed(index=entry.index, term=entry.term)

    def read_index(self, request: int, *, follower_ok: bool = False) -> NotLeader | None:
        """Start the linearizable read ``request`` (a driver's own number) without a log entry.

        On a leader, None: a `ReadReady(request, index)` comes later on the apply channel
        (or `ReadRefused` if this node stops leading first). Elsewhere, `NotLeader` at once
        -- unless ``follower_ok`` and this node follows a known leader: then it asks that
        leader for a read index (follower reads, see the module docstring), and the
        `ReadReady` or `ReadRefused` comes later on this node's apply channel.
        Leadership is confirmed by a round of AppendEntries that carries no new entry of its
        own (see the module docstring); a new leader's reads wait for its first entry to
        commit (the blank `NOOP`, which needs ``noop_on_election``, or a client's write).
        """
        if self.role is not _LEADER:
            if follower_ok and self.role is _FOLLOWER and self.leader_id is not None:
                self._reads_to_ask.append(request)
                return None
            return NotLeader(leader_hint=self.leader_id)
        read = (request, max(self.commit_index, self._term_start_index))
        if self._majority == 1 or self._ticks < self._lease_until:
            # Nobody else could have been elected (alone, or within our lease).
            self._reads_confirmed.append(read)
        else:
            self._reads_waiting.append(read)
        return None

    def snapshot(self, index: int, data: bytes) -> None:
        """The service's state after applying entries up to ``index``: compact the log (§7).

        ``index`` must already have been delivered on the apply channel. A snapshot
        no newer than the current one is ignored.
        """
        if index > self.last_applied:
            raise ValueError(
                f"snapshot(index={index}) beyond the last applied entry ({self.last_applied}); "
                "the service may only snapshot state it has applied"
            )
        if index <= self.log.snapshot_index:
            return
        term = self.log.term_at(index)
        assert term is not None, "snapshot index must be held in the log"
        self.log.compact(index, term)
        self._snapshot = Snapshot(index, term, bytes(data))
        self._snapshot_to_persist = self._snapshot

    # ==========================================================================================
    # Outputs
    # ==========================================================================================

    def has_ready(self) -> bool:
        """True if `take_ready` would return anything (cheap; drivers poll it)."""
        return bool(
            self._messages
            or self._hard_state_changed
            or self._log_changed_from is not None
            or self._snapshot_to_persist is not None
            or self._snapshot_to_apply is not None
            or self._replicate_pending
            or self.commit_index > self.last_applied
            or self._reads_waiting
            or self._reads_refused
            or (self._reads_confirmed and self._reads_confirmed[0][1] <= self.commit_index)
            or self._asks_waiting
            or self._reads_to_ask
            or (self._reads_granted and self._reads_granted[0][0] <= self.commit_index)
        )

    def take_ready(self) -> Ready:
        """Everything to persist, send and apply since the last call (then forget it)."""
        if self._reads_waiting or self._asks_waiting:
            # The reads that arrived since the last call share one round, which also
            # carries whatever new entries the followers lack (no separate replication).
            self._start_read_round()
            self._replicate_pending = False
        if self._reads_to_ask:
            asks, self._reads_to_ask = self._reads_to_ask, []
            self._ask_leader(asks)
        if self._replicate_pending:
            self._replicate_pending = False
            # Only a node that is still the leader may send them (it may have stepped
            # down since the proposal, on hearing of a later term).
            for peer in self.peers if self.role is _LEADER else ():
                if peer not in self._probing and self.next_index[peer] <= self.log.last_index:
                    self.send_append_entries(peer)

        hard_state = None
        if self._hard_state_changed:
            hard_state = HardState(self.current_term, self.voted_for)
            self._hard_state_changed = False

        log_from = None
        entries: list[LogEntry] = []
        if self._log_changed_from is not None:
            log_from = max(self._log_changed_from, self.log.snapshot_index + 1)
            entries = self.log.entries_from(log_from)
            self._log_changed_from = None

        snapshot, self._snapshot_to_persist = self._snapshot_to_persist, None

        # The apply channel: an installed or restored snapshot first, then each
        # committed entry exactly once, in index order.
        committed: list[ApplyMsg] = []
        if self._snapshot_to_apply is not None:
            snap, self._snapshot_to_apply = self._snapshot_to_apply, None
            committed.append(
                SnapshotApplied(snap.last_included_index, snap.last_included_term, snap.data)
            )
        if self.commit_index > self.last_applied:
            for entry in self.log.entries_from(
                self.last_applied + 1, self.commit_index - self.last_applied
            ):
                committed.append(CommandApplied(entry.index, entry.term, entry.command))
            self.last_applied = self.commit_index
        confirmed = self._reads_confirmed
        while confirmed and confirmed[0][1] <= self.last_applied:
            request, index = confirmed.popleft()
            committed.append(ReadReady(request, index))
        granted = self._reads_granted
        while granted and granted[0][0] <= self.last_applied:
            index, request = heapq.heappop(granted)
            committed.append(ReadReady(request, index))
        if self._reads_refused:
            committed.extend(self._reads_refused)
            self._reads_refused = []

        messages, self._messages = self._messages, []
        return Ready.of(hard_state, log_from, entries, snapshot, messages, committed)

    def statistics(self) -> RaftStatistics:
        """A frozen view of the node's state for widgets and tests."""
        return RaftStatistics(
            node_id=self.node_id,
            role=self.role.value,
            current_term=self.current_term,
            voted_for=self.voted_for,
            leader_id=self.leader_id,
            last_log_index=self.log.last_index,
            log_length=len(self.log),
            commit_index=self.commit_index,
            last_applied=self.last_applied,
            snapshot_index=self.log.snapshot_index,
            elections_started=self._elections_started,
            messages_sent=self._messages_sent,
            snapshots_installed=self._snapshots_installed,
        )

    def status(self) -> dict[str, Any]:
        """`statistics()` as a plain dict (what a node program reports to `Cluster.status()`)."""
        return asdict(self.statistics())

    # ==========================================================================================
    # Roles and elections (§5.2)
    # ==========================================================================================

    def become_follower(self, term: int) -> None:
        """Follow in ``term``; a new term clears the vote (Figure 2, "Rules for Servers")."""
        if term > self.current_term:
            self._refuse_asks()
            self.current_term = term
            self.voted_for = None
            self.leader_id = None
            self._hard_state_changed = True
        if self.role is _LEADER:
            self._refuse_reads()
        if self.role is not _FOLLOWER:
            self.role = _FOLLOWER
            self._election_elapsed = 0

    def become_candidate(self) -> None:
        """Start a new term and vote for ourselves (§5.2)."""
        self._refuse_asks()
        self.current_term += 1
        self.voted_for = self.node_id
        self._hard_state_changed = True
        self.role = _CANDIDATE
        self.leader_id = None
        self._votes = {self.node_id}
        self.reset_election_timer()
        self._elections_started += 1

    def become_leader(self) -> None:
        """Won the election: take charge of replication and assert authority at once (§5.2)."""
        assert self.role is _CANDIDATE, "only a candidate can become leader"
        self.role = _LEADER
        self.leader_id = self.node_id
        # §5.3: next_index starts just past our last entry; match_index at 0.
        self.next_index = {peer: self.log.last_index + 1 for peer in self.peers}
        self.match_index = {peer: 0 for peer in self.peers}
        # Without pipelining nobody is probed: every send carries all from next_index.
        self._probing = set(self.peers) if self._pipelining else set()
        self._heartbeat_elapsed = 0
        # Every entry committed before this term precedes our first entry (Leader
        # Completeness), so a read that waits until that index applies sees them all.
        self._term_start_index = self.log.last_index + (1 if self.config.noop_on_election else 0)
        self._round_acks = {}
        self._lease_until = 0  # a new leader holds no lease until a majority answers it
        if self.config.lease_reads:
            self._begin_round()
        if self.config.noop_on_election:
            # §8: an entry of our own term, so that what earlier leaders left uncommitted
            # commits with it (Figure 8) and we learn what is committed without waiting
            # for a client. Appended after next_index was set, so the first AppendEntries
            # below carries it (not an empty probe beyond the followers' logs).
            noop = LogEntry(self.current_term, self.log.last_index + 1, dict(NOOP))
            self.log.append([noop])
            self.log_changed(noop.index)
        for peer in self.peers:
            self.send_append_entries(peer)
        if self.config.noop_on_election:
            self.advance_commit_index()  # a one-node cluster commits it at once

    def start_election(self) -> None:
        """Hook: the election timer fired; stand for election (§5.2)."""
        self.become_candidate()
        if len(self._votes) >= self._majority:  # a cluster of one
            self.become_leader()
            return
        request = RequestVote(
            term=self.current_term,
            candidate_id=self.node_id,
            last_log_index=self.log.last_index,
            last_log_term=self.log.last_term,
        )
        for peer in self.peers:
            self.send(peer, request)

    def _random_election_timeout(self) -> int:
        # §5.2: randomized timeouts make split votes rare and short-lived.
        low, high = self.config.election_timeout_ticks
        return self._rng.randint(low, high)

    def reset_election_timer(self) -> None:
        """Helper: start a fresh, randomized election timeout (heard from a leader, or voted)."""
        self._election_elapsed = 0
        self._election_timeout = self._random_election_timeout()

    # ==========================================================================================
    # Voting (§5.2, §5.4.1)
    # ==========================================================================================

    def candidate_log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        """Hook: §5.4.1: the later last term wins; with equal last terms, the longer log wins."""
        if last_log_term != self.log.last_term:
            return last_log_term > self.log.last_term
        return last_log_index >= self.log.last_index

    def handle_request_vote(self, sender: NodeId, request: RequestVote) -> None:
        """Hook: answer a candidate's RequestVote (§5.2, §5.4.1)."""
        granted = (
            request.term == self.current_term
            and self.voted_for in (None, request.candidate_id)
            and self.candidate_log_is_up_to_date(request.last_log_index, request.last_log_term)
        )
        if granted:
            # At most one vote per term, and it is durable before the reply leaves
            # (the driver persists Ready.hard_state before sending): Election Safety.
            if self.voted_for is None:
                self.voted_for = request.candidate_id
                self.persist_hard_state()
            self.reset_election_timer()
        self.send(sender, RequestVoteReply(term=self.current_term, vote_granted=granted))

    def handle_request_vote_reply(self, sender: NodeId, reply: RequestVoteReply) -> None:
        """Hook: count a vote; a majority makes this candidate the leader (§5.2)."""
        if self.role is not _CANDIDATE or reply.term != self.current_term:
            return  # a late reply to an election we no longer run
        if reply.vote_granted:
            self._votes.add(sender)
            if len(self._votes) >= self._majority:
                self.become_leader()

    # ==========================================================================================
    # Log replication (§5.3)
    # ==========================================================================================

    def send_append_entries(self, peer: NodeId) -> None:
        """Helper: send the peer what it is missing: entries from next_index, or our snapshot (§7).

        With pipelining, a peer in step then counts as having them (next_index moves on).
        """
        next_index = self.next_index[peer]
        if not 0 < next_index <= self.log.last_index + 1:
            # Only a subclass's own reply handler can get here; say what it broke.
            raise ValueError(
                f"next_index[{peer!r}] is {next_index}, outside 1..{self.log.last_index + 1}: "
                "keep it at least 1 and at most one past the last entry"
            )
        if next_index <= self.log.snapshot_index:
            assert self._snapshot is not None, "a compacted log implies a snapshot"
            snap = self._snapshot
            self.send(
                peer,
                InstallSnapshot(
                    term=self.current_term,
                    leader_id=self.node_id,
                    last_included_index=snap.last_included_index,
                    last_included_term=snap.last_included_term,
                    data=snap.data,
                ),
            )
            # Optimistic: assume it arrives; a later rejection resends it.
            self.next_index[peer] = snap.last_included_index + 1
            return
        prev_log_index = next_index - 1
        prev_log_term = self.log.term_at(prev_log_index)
        assert prev_log_term is not None, "a checked next_index lies within the log"
        entries = tuple(self.log.entries_from(next_index, self.config.max_entries_per_append))
        self.send(
            peer,
            AppendEntries(
                term=self.current_term,
                leader_id=self.node_id,
                prev_log_index=prev_log_index,
                prev_log_term=prev_log_term,
                entries=entries,
                leader_commit=self.commit_index,
                read_round=self._read_round,
            ),
        )
        if self._pipelining and peer not in self._probing:
            # Pipelining: assume the entries arrive, so the next send carries only newer
            # ones. A loss shows up as a rejection (the follower's log is too short).
            self.next_index[peer] = next_index + len(entries)

    def handle_append_entries(self, sender: NodeId, request: AppendEntries) -> None:
        """Hook: the follower's side of §5.3: check, store and acknowledge the leader's entries."""
        if request.term < self.current_term:
            # A stale leader: our term in the reply makes it step down.
            self.send(sender, AppendEntriesReply(term=self.current_term, success=False))
            return
        # request.term == current_term: this is the one legitimate leader of our term.
        assert self.role is not _LEADER, "Election Safety: two leaders in one term"
        if self.role is _CANDIDATE:
            self.become_follower(request.term)
        self.leader_id = request.leader_id
        self._election_elapsed = 0  # §5.2: heard from the current leader

        prev_log_index = request.prev_log_index
        entries = request.entries
        if prev_log_index < self.log.snapshot_index:
            # §7: the prefix our snapshot covers is committed, so it matches the leader's
            # log (Leader Completeness); skip what the snapshot already holds.
            skip = self.log.snapshot_index - prev_log_index
            if skip >= len(entries):
                self.send(
                    sender,
                    AppendEntriesReply(
                        term=self.current_term,
                        success=True,
                        match_index=prev_log_index + len(entries),
                    ),
                )
                return
            entries = entries[skip:]
            prev_log_index = self.log.snapshot_index
        elif prev_log_index > self.log.last_index:
            # Consistency check fails: our log is too short. Ask for entries after our end.
            self.send(
                sender,
                AppendEntriesReply(
                    term=self.current_term,
                    success=False,
                    conflict_index=self.log.last_index + 1,
                    conflict_term=None,
                ),
            )
            return
        elif self.log.term_at(prev_log_index) != request.prev_log_term:
            # Consistency check fails on a term mismatch. Fast backtracking: name the
            # conflicting term and where it starts, so the leader skips it in one round.
            conflict_term = self.log.term_at(prev_log_index)
            assert conflict_term is not None
            self.send(
                sender,
                AppendEntriesReply(
                    term=self.current_term,
                    success=False,
                    conflict_index=self.log.first_index_of_term(conflict_term, prev_log_index),
                    conflict_term=conflict_term,
                ),
            )
            return

        # The logs match up to prev_log_index (Log Matching). Figure 2, steps 3-4:
        # delete a conflicting suffix, then append what is new. Entries we already hold
        # are left alone, so a delayed, shorter AppendEntries never truncates the log.
        for position, entry in enumerate(entries):
            if entry.index <= self.log.last_index:
                if self.log.term_at(entry.index) == entry.term:
                    continue
                assert entry.index > self.commit_index, (
                    "State Machine Safety: a leader asked to overwrite a committed entry"
                )
                self.log.truncate_from(entry.index)
            self.log.append(list(entries[position:]))
            self.log_changed(entry.index)
            break

        last_new_index = prev_log_index + len(entries)
        # Figure 2, step 5: commit up to what the leader committed, but only as far as
        # the entries this request proved to match.
        if request.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(request.leader_commit, last_new_index))
        self.send(
            sender,
            AppendEntriesReply(term=self.current_term, success=True, match_index=last_new_index),
        )

    def handle_append_entries_reply(self, sender: NodeId, reply: AppendEntriesReply) -> None:
        """Hook: the leader's side of §5.3: learn what the follower stores, or back off."""
        if self.role is not _LEADER or reply.term != self.current_term:
            return
        if reply.success:
            self._probing.discard(sender)
            if reply.match_index > self.match_index[sender]:
                self.match_index[sender] = reply.match_index
                self.advance_commit_index()
            self.next_index[sender] = max(self.next_index[sender], self.match_index[sender] + 1)
            if self.next_index[sender] <= self.log.last_index:
                self.send_append_entries(sender)
            return
        if reply.conflict_term is None and reply.conflict_index <= self.match_index[sender]:
            return  # "log too short" from before it caught up: stale
        # Fast backtracking (the 6.824 guide's version of §5.3's optimisation):
        # if we hold entries of the conflicting term, resume after our last one;
        # otherwise skip the follower's whole conflicting term.
        if reply.conflict_term is None:
            next_index = reply.conflict_index
        else:
            last_of_term = self.log.last_index_of_term(reply.conflict_term)
            next_index = reply.conflict_index if last_of_term is None else last_of_term + 1
        next_index = max(min(next_index, self.log.last_index + 1), self.match_index[sender] + 1)
        if self._pipelining:
            if sender in self._probing and next_index >= self.next_index[sender]:
                # A late rejection of a position we already backed away from (pipelined
                # requests overtaking each other); the probe in flight will answer.
                return
            self._probing.add(sender)
        self.next_index[sender] = next_index
        self.send_append_entries(sender)

    def advance_commit_index(self) -> None:
        """Hook: §5.3/§5.4.2: commit the highest index stored on a majority, if of our term.

        Figure 8: an entry from an earlier term may sit on a majority and still be
        overwritten, so it is never committed by counting, only indirectly, when an
        entry of the current term after it commits.
        """
        matched = sorted([self.log.last_index, *self.match_index.values()], reverse=True)
        majority_index = matched[self._majority - 1]
        if (
            majority_index > self.commit_index
            and self.log.term_at(majority_index) == self.current_term
        ):
            self.commit_index = majority_index

    # ==========================================================================================
    # Snapshots (§7)
    # ==========================================================================================

    def _handle_install_snapshot(self, sender: NodeId, request: InstallSnapshot) -> None:
        index = request.last_included_index
        if request.term < self.current_term:
            self.send(sender, InstallSnapshotReply(term=self.current_term, last_included_index=0))
            return
        assert self.role is not _LEADER, "Election Safety: two leaders in one term"
        if self.role is _CANDIDATE:
            self.become_follower(request.term)
        self.leader_id = request.leader_id
        self._election_elapsed = 0

        if index > self.commit_index:
            # A snapshot older than what we committed would move the service backwards;
            # only a newer one is installed.
            if self.log.term_at(index) == request.last_included_term:
                # §7: our log holds the snapshot's last entry: keep what follows it.
                self.log.compact(index, request.last_included_term)
            else:
                # §7: otherwise the whole log is superseded by the snapshot.
                self.log.reset(index, request.last_included_term)
                self.log_changed(index + 1)
            snap = Snapshot(index, request.last_included_term, bytes(request.data))
            self._snapshot = snap
            self._snapshot_to_persist = snap
            self._snapshot_to_apply = snap
            self.commit_index = index
            self.last_applied = index  # the service catches up by applying the snapshot
            self._snapshots_installed += 1
        self.send(sender, InstallSnapshotReply(term=self.current_term, last_included_index=index))

    def _handle_install_snapshot_reply(self, sender: NodeId, reply: InstallSnapshotReply) -> None:
        if self.role is not _LEADER or reply.term != self.current_term:
            return
        self._probing.discard(sender)  # its log now ends at (or after) the snapshot
        if reply.last_included_index > self.match_index[sender]:
            self.match_index[sender] = reply.last_included_index
            self.advance_commit_index()
        self.next_index[sender] = max(self.next_index[sender], self.match_index[sender] + 1)
        if self.next_index[sender] <= self.log.last_index:
            self.send_append_entries(sender)

    # ==========================================================================================
    # Linearizable reads without the log (ReadIndex, the Raft thesis §6.4)
    # ==========================================================================================

    def _start_read_round(self) -> None:
        """Send every follower an AppendEntries of a new round for the reads waiting."""
        if self.role is not _LEADER:
            return  # they were refused when this node stepped down
        self._begin_round()
        self._reads_in_round[self._read_round] = self._reads_waiting
        self._reads_waiting = []
        if self._asks_waiting:
            self._asks_in_round[self._read_round] = self._asks_waiting
            self._asks_waiting = []
        for peer in self.peers:
            self.send_append_entries(peer)

    def _begin_round(self) -> None:
        """Number a new round; every AppendEntries from now on carries it."""
        self._read_round += 1
        if self.config.lease_reads:
            self._round_began[self._read_round] = self._ticks

    def _note_read_ack(self, sender: NodeId, read_round: int) -> None:
        """A follower of our term answered round ``read_round``: confirm what a majority has."""
        if self.role is not _LEADER or read_round <= self._round_acks.get(sender, 0):
            return
        self._round_acks[sender] = read_round
        needed = self._majority - 1  # besides our own
        acks = sorted(self._round_acks.values(), reverse=True)
        if len(acks) < needed:
            return
        confirmed_round = acks[needed - 1]
        for started in [r for r in self._reads_in_round if r <= confirmed_round]:
            self._reads_confirmed.extend(self._reads_in_round.pop(started))
            for follower, requests, index in self._asks_in_round.pop(started, ()):
                self.send(follower, ReadIndexReply(self.current_term, True, requests, index))
                self._asks_held.difference_update((follower, r) for r in requests)
        if self.config.lease_reads:
            began = self._round_began.get(confirmed_round)
            if began is not None:
                low = self.config.election_timeout_ticks[0]
                self._lease_until = max(
                    self._lease_until, began + low - self.config.lease_margin_ticks
                )
            for done in [r for r in self._round_began if r <= confirmed_round]:
                del self._round_began[done]

    def _refuse_reads(self) -> None:
        """This node stops leading: no read it holds can be confirmed any more."""
        held = [*self._reads_waiting, *self._reads_confirmed]
        for reads in self._reads_in_round.values():
            held.extend(reads)
        self._reads_refused.extend(ReadRefused(request, self.leader_id) for request, _ in held)
        self._reads_waiting, self._reads_in_round = [], {}
        asks = [*self._asks_waiting]
        for in_round in self._asks_in_round.values():
            asks.extend(in_round)
        for follower, requests, _ in asks:
            self.send(follower, ReadIndexReply(self.current_term, False, requests))
        self._asks_waiting, self._asks_in_round = [], {}
        self._asks_held.clear()
        self._reads_confirmed.clear()
        self._round_began.clear()
        self._lease_until = 0

    def _handle_read_index_request(self, sender: NodeId, request: ReadIndexRequest) -> None:
        """A follower asks for a read index: join its reads to our next round (no log write)."""
        if self.role is not _LEADER or request.term != self.current_term:
            self.send(sender, ReadIndexReply(self.current_term, False, request.requests))
            return
        index = max(self.commit_index, self._term_start_index)
        if self._ticks < self._lease_until:
            # Within our lease nobody else can lead yet: the index stands without a round.
            self.send(sender, ReadIndexReply(self.current_term, True, request.requests, index))
            return
        # A follower asks again while it waits; what we hold already gets its answer.
        held = self._asks_held
        fresh = tuple(r for r in request.requests if (sender, r) not in held)
        if fresh:
            held.update((sender, r) for r in fresh)
            self._asks_waiting.append((sender, fresh, index))

    def _ask_leader(self, requests: list[int]) -> None:
        """Send our leader one request for these reads (all asked since the last Ready, or
        all still unanswered a heartbeat interval after the last ask)."""
        assert self.leader_id is not None, "reads to ask are refused when the leader is lost"
        self._reads_asked.update(requests)
        self._asked_at = self._ticks
        self.send(self.leader_id, ReadIndexRequest(self.current_term, tuple(requests)))

    def _handle_read_index_reply(self, reply: ReadIndexReply) -> None:
        """Our leader answered: wait to apply up to the index, or refuse (duplicates are no-ops)."""
        if reply.term != self.current_term:
            return  # asks of an earlier term were refused when the term changed
        for request in reply.requests:
            if request not in self._reads_asked:
                continue
            self._reads_asked.discard(request)
            if reply.success:
                heapq.heappush(self._reads_granted, (reply.index, request))
            else:
                self._reads_refused.append(ReadRefused(request, self.leader_id))

    def _refuse_asks(self) -> None:
        """The term changes: reads not yet granted can no longer be (granted ones still wait)."""
        for request in [*self._reads_to_ask, *sorted(self._reads_asked)]:
            self._reads_refused.append(ReadRefused(request, None))
        self._reads_to_ask = []
        self._reads_asked = set()

    # ==========================================================================================
    # Helpers for hooks, and plumbing
    # ==========================================================================================

    def send(self, peer: NodeId, message: Message) -> None:
        """Helper: queue ``message`` for ``peer`` (the driver sends it after persisting)."""
        if self._echo_round and type(message) is AppendEntriesReply:
            message = replace(message, read_round=self._echo_round)
        self._messages.append(Envelope(self.node_id, peer, message))
        self._messages_sent += 1

    def log_changed(self, from_index: int) -> None:
        """Helper: the log changed from ``from_index`` on; the driver persists it before sending."""
        if self._log_changed_from is None or from_index < self._log_changed_from:
            self._log_changed_from = from_index

    def persist_hard_state(self) -> None:
        """Helper: ``current_term``/``voted_for`` changed; the driver writes them to disk
        before any message queued now leaves (Figure 2: persist before replying)."""
        self._hard_state_changed = True

    @property
    def votes(self) -> set[NodeId]:
        """Who voted for us in the current election (`become_candidate` adds our own vote)."""
        return self._votes

    @property
    def majority(self) -> int:
        """How many servers, this one included, make a majority of the cluster."""
        return self._majority

    def __repr__(self) -> str:
        return (
            f"RaftNode({self.node_id!r}, {self.role.value}, term={self.current_term}, "
            f"last={self.log.last_index}, commit={self.commit_index})"
        )
