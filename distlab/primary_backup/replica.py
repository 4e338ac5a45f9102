"""One replica of VMware FT's primary-backup scheme: a pure core (messages and ticks in, Ready out).

What it is: `Replica`, the rules of lecture 4 for both roles (主/备 primary/backup):

- **Replicated state machine** (``replication="log"``): the primary runs the `Machine` and
  records every non-deterministic event with its position (`LogEntry`); it ships the log
  over the logging channel (日志通道) every tick and whenever something is logged. The
  backup acknowledges what it *holds* and replays it behind the primary
  (``replay_per_tick`` entries a tick): it idles to each entry's instruction count, then
  injects the event; clock and random readings come from the log.
- **State transfer** (``replication="state"``), the contrast: after each operation the
  primary ships the memory cells it changed (`Machine.take_dirty`) instead.
- **Output rule** (输出规则): the primary holds each reply until the backup has
  acknowledged every log entry up to the one that produced it.
- **Failover**: the backup hears the primary on every tick (an empty `LogEntries` is a
  heartbeat); after ``failover_timeout_ticks`` of silence it replays everything it holds
  and goes live, re-sending the last reply of each client (which the primary may have sent
  already: clients drop duplicates by sequence number). A primary whose backup went silent
  also wants to go on alone.
- **Test-and-set** (测试并设置) against split brain (脑裂): before going live a replica
  asks the arbiter (the shared disk) for the pairing's flag; the first asker wins, the
  loser stops. A stopped or restarted replica asks the live one to clone it (`Join`,
  `Snapshot`); once the new backup holds everything, the live one asks the arbiter to clear
  the flag for a new pairing (``epoch`` + 1).

The rules live in four documented hooks a subclass may replace (chapter 07's assignment
asks a learner to write them): `emit_reply` and `release_acknowledged` (the output rule),
`partner_silent` and `arbiter_answered` (going live with test-and-set). Their helpers are
`send_reply`, `hold` (and the list ``held``), `ask_arbiter`, `go_live` and `stop`.

`Rules` switches each rule off, for experiments only: ``output_rule=False``,
``log_nondeterminism=False`` (the backup then uses its own clock, random numbers and timer),
``test_and_set=False``. Each is a teaching switch; every default is on.

What it must never do: read the wall clock, use the global random module, or do I/O; its
clock is its own tick counter (different on each replica, which is the point).
Where it fits: driven by `distlab.sim.World` (`distlab.primary_backup.simulated`) and by
`distlab.cluster.CoreNode` in real processes (`distlab.primary_backup.node`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from distlab.core import Envelope, NodeId, Ready
from distlab.primary_backup.machine import (
    HANDLER_READS,
    LogEntry,
    Machine,
    MachineError,
    ReplayEnvironment,
    compile_request,
)
from distlab.primary_backup.messages import (
    Executed,
    Join,
    LogAck,
    LogEntries,
    Replayed,
    Reply,
    Reset,
    ResetReply,
    Snapshot,
    Stopped,
    TestAndSet,
    TestAndSetReply,
    WentLive,
)

__all__ = [
    "BACKUP",
    "LIVE",
    "PRIMARY",
    "STOPPED",
    "Replica",
    "ReplicaConfig",
    "ReplicaReady",
    "ReplicaStatistics",
    "Rules",
    "Submitted",
]

PRIMARY = "primary"  # paired with a backup: replies wait for the backup's acknowledgement
BACKUP = "backup"  # replays the primary's log, behind it
LIVE = "live"  # alone (won the test-and-set): replies go out at once
STOPPED = "stopped"  # lost the test-and-set, or restarted: waits to be cloned

Submitted = Literal["accepted", "not_primary", "bad_request"]


@dataclass(frozen=True)
class Rules:
    """VMware FT's three rules. Switching one off is a teaching experiment, never a default:
    each test of a switch shows the failure the rule prevents."""

    output_rule: bool = True
    log_nondeterminism: bool = True
    test_and_set: bool = True


@dataclass(frozen=True)
class ReplicaConfig:
    """How a replica replicates, and its timing in ticks."""

    rules: Rules = field(default_factory=Rules)
    replication: Literal["log", "state"] = "log"
    failover_timeout_ticks: int = 20
    replay_per_tick: int = 8
    idle_instructions_per_tick: int = 40
    timer_every_ticks: int = 7
    retry_ticks: int = 5
    max_entries_per_message: int = 64
    #: Output the machine's digest after every entry (`Executed`, `Replayed`), for the
    #: simulator's "Backup Replays Identically"; real nodes leave it off (it hashes the
    #: whole state each time).
    fingerprints: bool = True

    def __post_init__(self) -> None:
        if self.replication not in ("log", "state"):
            raise ValueError(f"replication must be 'log' or 'state', got {self.replication!r}")
        for name in (
            "failover_timeout_ticks",
            "replay_per_tick",
            "timer_every_ticks",
            "retry_ticks",
            "max_entries_per_message",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.idle_instructions_per_tick < 0:
            raise ValueError("idle_instructions_per_tick must not be negative")


@dataclass(frozen=True)
class ReplicaReady(Ready):
    """A replica's `Ready`: ``started`` is persisted once, so that a restarted replica
    knows it is not starting fresh (and must be cloned rather than lead)."""

    started: bool = False

    @property
    def must_persist(self) -> bool:
        return self.started


@dataclass(frozen=True)
class ReplicaStatistics:
    """What a panel shows of one replica."""

    role: str
    epoch: int
    instructions: int
    last_index: int  # the primary's log length (the backup's: what it holds)
    acked_index: int  # primary: what the backup acknowledged
    replayed_index: int  # backup: what it has replayed
    held_replies: int  # replies waiting for the output rule
    asking_arbiter: bool
    pairing: str  # primary: "confirmed" | "syncing" (new backup catching up) | "resetting"
    digest: str


class _LiveEnvironment:
    """The primary's environment: its own clock and random numbers, each reading logged
    when ``record`` is given (the rule), unlogged otherwise."""

    def __init__(self, replica: Replica, record: bool) -> None:
        self._replica = replica
        self._record = record

    def clock(self) -> int:
        return self._read("clock", self._replica.clock_base + self._replica.now)

    def random(self) -> int:
        return self._read("random", self._replica.rng.randrange(1_000_000))

    def _read(self, kind: str, number: int) -> int:
        if self._record:
            self._replica._append(kind, number=number)
        return number


class Replica:
    """One primary-backup replica (see the module docstring). Pure: no I/O, no clock."""

    def __init__(
        self,
        node_id: NodeId,
        partner: NodeId,
        arbiter: NodeId,
        rng: random.Random,
        config: ReplicaConfig | None = None,
        *,
        first_boot: bool = True,
        starts_as_primary: bool = False,
    ) -> None:
        self.node_id = node_id
        self.partner = partner
        self.arbiter = arbiter
        self.rng = rng
        self.config = config or ReplicaConfig()
        self.rules = self.config.rules
        self.machine = Machine()
        self.now = 0
        self.clock_base = rng.randrange(1_000_000)  # every machine's clock reads differently
        self.epoch = 1
        # A replica that has run before lost its memory: it must be cloned, never lead.
        if not first_boot:
            self.role = STOPPED
        else:
            self.role = PRIMARY if starts_as_primary else BACKUP
        self.log: dict[int, LogEntry] = {}  # index -> entry (primary: all; backup: held)
        self.last_index = 0
        # primary side
        self.acked_index = 0
        self._sent_index = 0
        self._ticks_since_ack = 0
        self.held: list[Reply] = []
        self._backup_attached = self.role == PRIMARY
        self._snapshot_index = 0  # a joiner is in sync once it acknowledges this
        self._ungated_through: int | None = None  # outputs released alone, up to here
        # "confirmed" | "syncing" (a joiner catches up) | "resetting" (asking the arbiter)
        self._pairing = "confirmed"
        self._ticks_resetting = 0
        self._ticks_stalled = 0
        self._last_shipped_tick = -1
        # backup side
        self.replayed_index = 0
        self._ticks_since_heard = 0
        # either
        self.asking_arbiter = False
        self._ticks_asking = 0
        self._ticks_since_join = 0
        self._outbox: list[Envelope] = []
        self._outputs: list[Any] = []
        self._started = first_boot

    # ==========================================================================================
    # Clients
    # ==========================================================================================

    def submit(self, client: str, seq: int, op: str, key: str, value: str = "") -> Submitted:
        """A client's request arrives. The reply comes later as a `Reply` output (once the
        output rule allows); "not_primary" means nothing happened here (definite)."""
        try:
            compile_request(op, key, value)
            if not isinstance(client, str) or not client or "|" in client:
                raise MachineError("client must be a non-empty string without '|'")
            if not isinstance(seq, int) or seq < 1:
                raise MachineError(f"seq must be a positive integer, got {seq!r}")
        except MachineError:
            return "bad_request"
        if self.role not in (PRIMARY, LIVE) or self.asking_arbiter:
            return "not_primary"
        seen = self.machine.session(client)
        if seen is not None and seq <= seen[0]:
            # A retry (or a re-sent request): answer from the client table, run nothing.
            last_seq, index, output = seen
            if seq == last_seq:
                self.emit_reply(Reply(client, seq, op, output, index))
            return "accepted"
        if self.config.replication == "log":
            index = self._append("request", client=client, seq=seq, op=op, key=key, value=value)
            output = self.machine.request(client, seq, op, key, value, index)
        else:  # state transfer: run first, then ship the cells it changed
            index = self.last_index + 1
            output = self.machine.request(client, seq, op, key, value, index)
            self._append("state", client=client, seq=seq, op=op, changes=self.machine.take_dirty())
        if self.config.fingerprints:
            self._outputs.append(Executed(index, self.machine.digest()))
        self.emit_reply(Reply(client, seq, op, output, index))
        self._ship()
        return "accepted"

    # -- hooks: the output rule (the assignment's learner writes these two) -----------------

    def emit_reply(self, reply: Reply) -> None:
        """A reply is ready: send it now (`send_reply`) or hold it (`hold`) until the
        backup acknowledges entry ``reply.index``. The output rule holds it when paired."""
        gated = self.role == PRIMARY and self.rules.output_rule
        if gated and reply.index > self.acked_index:
            self.hold(reply)  # the output rule: wait for the backup
        else:
            self.send_reply(reply)

    def release_acknowledged(self) -> None:
        """``acked_index`` just grew: send every held reply whose entry the backup now holds,
        in order, and keep holding the rest."""
        if not self.held:
            return
        ready = [r for r in self.held if r.index <= self.acked_index]
        if ready:
            self.held = [r for r in self.held if r.index > self.acked_index]
            for reply in ready:
                self.send_reply(reply)

    # -- helpers for the hooks ------------------------------------------------------------

    def send_reply(self, reply: Reply) -> None:
        """Hand the reply to the driver: it goes to the client now."""
        self._outputs.append(reply)

    def hold(self, reply: Reply) -> None:
        """Keep the reply in ``held`` (in order) until `release_acknowledged` sends it."""
        self.held.append(reply)

    # ==========================================================================================
    # Time
    # ==========================================================================================

    def tick(self) -> None:
        self.now += 1
        if self.asking_arbiter:
            self._ticks_asking += 1
            if self._ticks_asking % self.config.retry_ticks == 0:
                self._send(self.arbiter, TestAndSet(self.epoch, self.node_id))
            return
        if self.role in (PRIMARY, LIVE):
            self._run_machine_alone()
            if self.role == LIVE and self._backup_attached:
                self._ticks_since_ack += 1  # the joiner has not acknowledged its snapshot
                if self._ticks_since_ack % (2 * self.config.retry_ticks) == 0:
                    self._send_snapshot()
            self._ship()
            if self._pairing == "resetting":
                self._ticks_resetting += 1
                if self._ticks_resetting % self.config.retry_ticks == 0:
                    self._send(self.arbiter, Reset(self.epoch, self.node_id))
            if self.role == PRIMARY:
                self._ticks_since_ack += 1
                if self._ticks_since_ack > self.config.failover_timeout_ticks:
                    self.partner_silent()
        elif self.role == BACKUP:
            self._ticks_since_heard += 1
            self._replay(self.config.replay_per_tick)
            if not self.rules.log_nondeterminism and self.config.replication == "log":
                self._run_machine_alone()  # its own timer, clock and random numbers
            if self._ticks_since_heard > self.config.failover_timeout_ticks:
                self._replay(None)  # replay everything it holds, then take over
                self.partner_silent()
        elif self.role == STOPPED:
            self._ticks_since_join += 1
            if self._ticks_since_join % self.config.retry_ticks == 1:
                self._send(self.partner, Join(self.epoch))

    def _run_machine_alone(self) -> None:
        """The machine's own time passing: the idle loop, and the timer interrupt."""
        machine = self.machine
        machine.idle(machine.instructions + self.config.idle_instructions_per_tick)
        if self.now % self.config.timer_every_ticks:
            return
        logged = (
            self.role in (PRIMARY, LIVE)
            and self.rules.log_nondeterminism
            and self.config.replication == "log"
        )
        if logged:
            self._append("interrupt")
        machine.interrupt(_LiveEnvironment(self, record=logged))

    def _append(self, kind: str, **fields: Any) -> int:
        self.last_index += 1
        # For a "state" entry this is the counter after the operation: the backup takes it.
        entry = LogEntry(self.last_index, self.machine.instructions, kind, **fields)
        self.log[self.last_index] = entry
        return self.last_index

    # ==========================================================================================
    # The logging channel: primary side
    # ==========================================================================================

    def _ship(self) -> None:
        """Send what the backup lacks (and a heartbeat if nothing): go-back-N on silence."""
        if not self._backup_attached:
            return
        base = max(self.acked_index, self._snapshot_index)
        if self._sent_index > base:
            self._ticks_stalled += 1
            if self._ticks_stalled >= self.config.retry_ticks:  # acks stopped advancing:
                self._sent_index, self._ticks_stalled = base, 0  # go back, send again
        first = self._sent_index + 1
        last = min(self.last_index, self._sent_index + self.config.max_entries_per_message)
        entries = tuple(self.log[i] for i in range(first, last + 1))
        self._sent_index = max(self._sent_index, last)
        if entries or self._last_shipped_tick != self.now:  # else: a heartbeat this tick
            self._send(self.partner, LogEntries(self.epoch, entries))

    def _on_ack(self, message: LogAck) -> None:
        if message.epoch != self.epoch or self.role not in (PRIMARY, LIVE):
            return
        if not self._backup_attached or message.index < self._snapshot_index:
            return
        self._ticks_since_ack = 0
        if message.index > self.acked_index:
            self.acked_index = min(message.index, self.last_index)
            self._ticks_stalled = 0
        if self.role == LIVE:
            # The joiner holds our snapshot: from now on replies wait for it again.
            self.role = PRIMARY
            self._ungated_through = self.last_index
            self._pairing = "syncing"
        if self._pairing == "syncing" and self.acked_index >= (self._ungated_through or 0):
            # Every reply sent while alone is now held by the backup: a new pairing.
            if self.rules.test_and_set:
                self._pairing = "resetting"
                self._ticks_resetting = 0
                self._send(self.arbiter, Reset(self.epoch, self.node_id))
            else:
                self.epoch += 1
                self._pairing = "confirmed"
        self.release_acknowledged()

    def _on_join(self, message: Join) -> None:
        if self.role != LIVE or self.asking_arbiter:
            return  # a paired primary first notices its backup is gone (no acks), then acts
        self._send_snapshot()

    def _send_snapshot(self) -> None:
        """Clone the machine to the joiner (sent again until it acknowledges)."""
        memory = tuple(sorted(self.machine.memory.items()))
        self._send(
            self.partner,
            Snapshot(self.epoch, self.last_index, self.machine.instructions, memory),
        )
        self._backup_attached = True
        self._snapshot_index = self.last_index
        self._sent_index = self.last_index
        self.acked_index = 0
        self._ticks_since_ack = 0

    # ==========================================================================================
    # The logging channel: backup side
    # ==========================================================================================

    def _on_entries(self, message: LogEntries) -> None:
        if self.role != BACKUP or message.epoch < self.epoch:
            return
        self.epoch = message.epoch
        self._ticks_since_heard = 0
        for entry in message.entries:
            if entry.index == self.last_index + 1:
                self.log[entry.index] = entry
                self.last_index = entry.index
        self._send(self.partner, LogAck(self.epoch, self.last_index))

    def _replay(self, limit: int | None) -> None:
        """Replay held entries in order (``limit`` of them; None: all there are)."""
        done = 0
        while self.replayed_index < self.last_index and (limit is None or done < limit):
            entry = self.log[self.replayed_index + 1]
            if entry.kind == "interrupt":
                if self.replayed_index + 1 + len(HANDLER_READS) > self.last_index:
                    break  # its readings have not arrived yet
                self._replay_interrupt(entry)
                done += len(HANDLER_READS)  # its readings count as entries replayed
            elif entry.kind == "request":
                if self.rules.log_nondeterminism:
                    self.machine.idle(entry.at_instruction)
                output = self.machine.request(
                    entry.client, entry.seq, entry.op, entry.key, entry.value, entry.index
                )
                del output  # the backup's outputs are discarded (the primary answered)
                self.replayed_index = entry.index
                if self.config.fingerprints:
                    self._outputs.append(Replayed(entry.index, self.machine.digest()))
            elif entry.kind == "state":
                self.machine.install(entry.changes, entry.at_instruction)
                self.replayed_index = entry.index
                if self.config.fingerprints:
                    self._outputs.append(Replayed(entry.index, self.machine.digest()))
            else:  # a reading outside a handler: the log is malformed
                raise MachineError(f"log entry {entry.index}: a {entry.kind} reading on its own")
            done += 1

    def _replay_interrupt(self, entry: LogEntry) -> None:
        self.machine.idle(entry.at_instruction)
        readings = [self.log[entry.index + 1 + i] for i in range(len(HANDLER_READS))]
        self.machine.interrupt(ReplayEnvironment(iter(readings)))
        self.replayed_index = entry.index + len(HANDLER_READS)

    def _on_snapshot(self, message: Snapshot) -> None:
        newer = self.role == BACKUP and message.index > self.last_index
        if self.role != STOPPED and not newer:
            return  # (a backup takes a newer one: the live replica re-sent it)
        self.machine = Machine()
        self.machine.install(message.memory, message.instructions)
        self.machine.take_dirty()
        self.epoch = message.epoch
        self.log = {}
        self.last_index = self.replayed_index = message.index
        self.role = BACKUP
        self._ticks_since_heard = 0
        self._send(self.partner, LogAck(self.epoch, self.last_index))

    # ==========================================================================================
    # Going live: the arbiter
    # ==========================================================================================

    # -- hooks: going live (the assignment's learner writes these two) ---------------------

    def partner_silent(self) -> None:
        """The partner said nothing for ``failover_timeout_ticks`` (the backup has replayed
        everything it holds): ask the arbiter (`ask_arbiter`) before going live; without the
        rule, go live (`go_live`) at once."""
        if self.rules.test_and_set:
            self.ask_arbiter()
        else:
            self.go_live()

    def arbiter_answered(self, granted: bool, holder: str) -> None:
        """The arbiter answered our test-and-set: the winner goes live, the loser stops."""
        if granted:
            self.go_live()
        else:
            self.stop(f"lost the test-and-set of epoch {self.epoch} to {holder}")

    # -- helpers for the hooks ------------------------------------------------------------

    def ask_arbiter(self) -> None:
        """Send the arbiter a test-and-set for this pairing (retried until it answers); the
        answer arrives in `arbiter_answered`. No client is served meanwhile."""
        self.asking_arbiter = True
        self._ticks_asking = 0
        self._send(self.arbiter, TestAndSet(self.epoch, self.node_id))

    def _on_test_and_set_reply(self, message: TestAndSetReply) -> None:
        if not self.asking_arbiter or message.epoch != self.epoch:
            return  # not asking (a duplicate), or an answer for an older pairing
        if message.candidate != self.node_id:
            return
        if not message.granted and message.arbiter_epoch == self.epoch + 1 and not message.holder:
            # The primary's reset went through, but we had not heard of the new pairing yet
            # (its reply or the next heartbeat was lost). A reset means the backup held
            # every reply sent so far, so either replica may ask again in the new epoch.
            self.epoch, self._pairing = message.arbiter_epoch, "confirmed"
            self._send(self.arbiter, TestAndSet(self.epoch, self.node_id))
            return
        self.asking_arbiter = False
        if message.granted:
            self.epoch = message.arbiter_epoch
        self.arbiter_answered(message.granted, message.holder)

    def go_live(self) -> None:
        """Serve alone from now on. A backup replays all it holds first and re-sends each
        client's last reply; a primary sends the replies it held."""
        was_backup = self.role == BACKUP
        if was_backup:
            self._replay(None)
            self._drop_incomplete_tail()
        self.role = LIVE
        self.asking_arbiter = False
        self._backup_attached = False
        self._snapshot_index = 0
        self._pairing = "confirmed"
        self._outputs.append(WentLive(self.epoch, alone=True))
        if was_backup:
            # It cannot know which replies the old primary sent: send each client's last
            # reply again; the client drops the ones it has (by seq).
            for client, (seq, index, output) in sorted(self.machine.sessions().items()):
                self.send_reply(Reply(client, seq, "", output, index, resent=True))
        else:
            for reply in self.held:  # won: nobody else can go live now
                self.send_reply(reply)
            self.held = []

    def _drop_incomplete_tail(self) -> None:
        """An interrupt whose readings never arrived did not happen, as far as anyone saw."""
        for index in range(self.replayed_index + 1, self.last_index + 1):
            del self.log[index]
        self.last_index = self.replayed_index

    def stop(self, reason: str) -> None:
        """Halt (the loser of a test-and-set): answer nobody, wait to be cloned."""
        self.role = STOPPED
        self.asking_arbiter = False
        self.held = []  # never sent: the winner answers those clients
        self._backup_attached = False
        self._ticks_since_join = 0
        self._outputs.append(Stopped(reason))

    def _on_reset_reply(self, message: ResetReply) -> None:
        if message.done and self.role == PRIMARY and self._pairing == "resetting":
            self.epoch = message.epoch
            self._pairing = "confirmed"

    # ==========================================================================================
    # The core contract
    # ==========================================================================================

    def receive(self, sender: NodeId, message: Any) -> None:
        if sender == self.arbiter:
            match message:
                case TestAndSetReply():
                    self._on_test_and_set_reply(message)
                case ResetReply():
                    self._on_reset_reply(message)
            return
        if sender != self.partner:
            return
        match message:
            case LogEntries():
                self._on_entries(message)
            case LogAck():
                self._on_ack(message)
            case Join():
                self._on_join(message)
            case Snapshot():
                self._on_snapshot(message)

    def _send(self, dst: NodeId, message: Any) -> None:
        if isinstance(message, LogEntries):
            self._last_shipped_tick = self.now
        self._outbox.append(Envelope(self.node_id, dst, message))

    def has_ready(self) -> bool:
        return bool(self._outbox or self._outputs or self._started)

    def take_ready(self) -> ReplicaReady:
        ready = ReplicaReady(messages=self._outbox, outputs=self._outputs, started=self._started)
        self._outbox, self._outputs, self._started = [], [], False
        return ready

    # ==========================================================================================
    # Observing
    # ==========================================================================================

    def statistics(self) -> ReplicaStatistics:
        return ReplicaStatistics(
            role=self.role,
            epoch=self.epoch,
            instructions=self.machine.instructions,
            last_index=self.last_index,
            acked_index=self.acked_index,
            replayed_index=self.replayed_index,
            held_replies=len(self.held),
            asking_arbiter=self.asking_arbiter,
            pairing=self._pairing,
            digest=self.machine.digest(),
        )
