"""Aurora's pure cores: the writer (the database front end) and the storage node.

What it is (Verbitski et al., "Amazon Aurora", SIGMOD 2017; lecture 10):

- `StorageNode` (存储节点 storage node): holds redo log records (重做日志 redo log) for the
  whole volume, makes them durable before it says so (`Durable`), applies them to its pages
  in the background (`tick`), and fills holes from its peers (gossip: `GossipAsk` /
  `GossipGive`), so a node that missed records catches up without the writer's help.
  Optionally slow (``slow_ticks``): it holds every answer that long, like a slow disk.
- `Writer`: the single writer. Only log records cross the network (日志即数据库, the log is
  the database): each transaction's records go to all N storage nodes and it commits when
  W of them (仲裁 quorum, default 4 of 6) have made every record up to its end durable.
  The writer tracks each node's segment complete LSN (scl) and computes the volume complete
  LSN (VCL, the W-th highest scl) and the volume durable LSN (VDL, the last transaction end
  at or below VCL). Reads go to one storage node the writer knows holds the VDL (no quorum
  read in normal operation, as in the paper); while a recovered writer waits for a write
  quorum to hold its recovery point, a read goes to every node and the first one that holds
  the log up to that point answers.
- Recovery: a writer that boots counts its epoch up and reads a read quorum (R = 3 of 6) of
  `RecoveryInfo`: the node whose log is the most up to date (its last record's epoch, then
  its scl) decides the recovery point P, the last transaction end it holds. Everything
  above P is cut off (uncommitted transactions vanish); the records up to P are fetched and
  sent to all again under the new epoch; the writer opens once a write quorum holds P.
  A transaction committed before the crash was durable on W nodes; any R nodes include one
  of them, since R + W > N.
- ``shipping="pages"``: the baseline the paper measures against, a mirrored database that
  ships each written page whole (``PAGE_BYTES``) beside its log record, and waits for all
  replicas. Same code, so the two are measured side by side.

Teaching switches (never defaults): ``write_quorum`` and ``read_quorum`` (W = 6 to feel the
slow node; W + R <= N to lose reads), ``quorum_reads`` (read R nodes and take the newest
version they hold, instead of asking one node known to be up to date).

What it must never do: read a clock, a file or a socket, or acknowledge a commit before W
nodes made its records durable. Where it fits: above `distlab.aurora.messages`, driven by
`distlab.aurora.simulated` (virtual time) and `distlab.aurora.node` (real processes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from distlab.aurora.messages import (
    Append,
    Durable,
    Fetch,
    Fetched,
    GossipAsk,
    GossipGive,
    LogRecord,
    PageValue,
    ReadPage,
    RecoveryInfo,
    RecoveryQuery,
)
from distlab.core import Envelope, Ready

__all__ = [
    "PAGE_BYTES",
    "SHIPPING",
    "Committed",
    "ReadDone",
    "ReadFailed",
    "Recovered",
    "Refused",
    "StorageNode",
    "StorageReady",
    "Timing",
    "Writer",
    "WriterReady",
    "check_quorums",
    "invalid",
]

PAGE_BYTES = 8192
SHIPPING = ("log", "pages")
MAX_BATCH = 64
MAX_PAGE_NAME = 64
MAX_VALUE = 4096
MAX_WRITES_PER_TXN = 16


@dataclass(frozen=True)
class Timing:
    """Ticks between the writer's heartbeats, resends, gossip rounds; how long a node
    stays "alive" without an answer; how long a read or a recovery step may take."""

    heartbeat_ticks: int = 2
    resend_ticks: int = 5
    gossip_ticks: int = 3
    alive_ticks: int = 20
    read_timeout_ticks: int = 20
    recovery_timeout_ticks: int = 30


def check_quorums(nodes: int, write_quorum: int, read_quorum: int) -> None:
    """Clear errors for quorum sizes out of range (R + W <= N is allowed: a teaching switch)."""
    for name, value in (("write_quorum", write_quorum), ("read_quorum", read_quorum)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= nodes:
            raise ValueError(f"{name} must be an integer in [1, {nodes}], got {value!r}")


# -- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Committed:
    """Transaction ``op`` is durable on a write quorum; its last record is ``lsn``."""

    op: str
    lsn: int


@dataclass(frozen=True)
class ReadDone:
    """Read ``op`` found ``value`` (written at ``lsn``; 0 and "" if never written) at ``node``."""

    op: str
    page: str
    value: str
    lsn: int
    node: str


@dataclass(frozen=True)
class ReadFailed:
    """Read ``op`` got no answer in time (definite: a read changes nothing)."""

    op: str
    reason: str


@dataclass(frozen=True)
class Refused:
    """A request the writer will not take now (definite), with the reason."""

    reason: str


@dataclass(frozen=True)
class Recovered:
    """The writer of ``epoch`` is open: the log was cut at ``point``."""

    epoch: int
    point: int


# -- the storage node ------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageReady(Ready):
    """What a storage node must make durable before its messages leave: new ``records``,
    the writer's ``truncations`` when they changed (``adopted``; the records they make
    invalid are gone), and ``page_images`` written (page shipping)."""

    records: tuple[LogRecord, ...] = ()
    adopted: tuple[int, tuple[tuple[int, int], ...]] | None = None
    page_images: int = 0

    @property
    def must_persist(self) -> bool:
        return bool(self.records or self.adopted or self.page_images)


def invalid(record: LogRecord, truncations: tuple[tuple[int, int], ...]) -> bool:
    """Did a recovery cut this record off (written before that epoch, above its point)?"""
    return any(record.epoch < epoch and record.lsn > point for epoch, point in truncations)


class StorageNode:
    """One storage node; see the module docstring."""

    def __init__(
        self,
        name: str,
        writer: str,
        peers: tuple[str, ...],
        *,
        records: dict[int, LogRecord] | None = None,
        epoch: int = 0,
        truncations: tuple[tuple[int, int], ...] = (),
        timing: Timing = Timing(),
        gossip: bool = True,
        slow_ticks: int = 0,
    ) -> None:
        self.name = self.node_id = name
        self.writer = writer
        self.peers = tuple(p for p in peers if p != name)
        self.timing = timing
        self.gossip = gossip
        self.slow_ticks = slow_ticks
        self.epoch = epoch
        self.truncations = tuple(truncations)
        self.records: dict[int, LogRecord] = {
            lsn: r for lsn, r in (records or {}).items() if not invalid(r, self.truncations)
        }
        self.scl = 0
        self._advance_scl()
        # Pages: every version a page had, applied from the log in the background.
        self.versions: dict[str, list[tuple[int, str]]] = {}
        self.applied = 0
        self.page_images = 0
        self.gossip_filled = 0
        self.now = 0
        self._gossip_turn = 0
        self._held: list[tuple[int, Envelope]] = []
        self._messages: list[Envelope] = []
        self._new: list[LogRecord] = []
        self._adopted: tuple[int, tuple[tuple[int, int], ...]] | None = None
        self._images = 0

    # -- the contract ----------------------------------------------------------------------

    def tick(self) -> None:
        self.now += 1
        self._apply(limit=MAX_BATCH)
        if self.gossip and self.peers and self.epoch and self.now % self.timing.gossip_ticks == 0:
            peer = self.peers[self._gossip_turn % len(self.peers)]
            self._gossip_turn += 1
            self._messages.append(Envelope(self.name, peer, GossipAsk(self.epoch, self.scl)))

    def receive(self, sender: str, message: Any) -> None:
        if isinstance(message, Append):
            self._on_append(sender, message)
        elif isinstance(message, GossipAsk):
            if message.epoch == self.epoch and 0 <= message.scl < self.scl:
                hi = min(self.scl, message.scl + MAX_BATCH)
                batch = tuple(self.records[lsn] for lsn in range(message.scl + 1, hi + 1))
                self._messages.append(Envelope(self.name, sender, GossipGive(self.epoch, batch)))
        elif isinstance(message, GossipGive):
            if message.epoch == self.epoch:  # one epoch: the same truncations, the same log
                before = self.scl
                self._add(message.records)
                self.gossip_filled += self.scl - before
                if self.scl > before:
                    self._answer(Durable(self.epoch, self.scl))
        elif isinstance(message, ReadPage):
            self._on_read(sender, message)
        elif isinstance(message, RecoveryQuery):
            self._learn(self.epoch, message.truncations)
            self._answer(RecoveryInfo(message.epoch, self.scl, self.cpl()), to=sender)
        elif isinstance(message, Fetch) and 0 <= message.lo < message.hi <= self.scl:
            batch = tuple(self.records[lsn] for lsn in range(message.lo + 1, message.hi + 1))
            self._answer(Fetched(message.epoch, message.lo, message.hi, batch), to=sender)

    def has_ready(self) -> bool:
        due = any(release <= self.now for release, _ in self._held)
        return bool(self._messages or self._new or self._adopted or self._images or due)

    def take_ready(self) -> StorageReady:
        due = [env for release, env in self._held if release <= self.now]
        self._held = [(release, env) for release, env in self._held if release > self.now]
        ready = StorageReady(
            messages=due + self._messages,
            records=tuple(self._new),
            adopted=self._adopted,
            page_images=self._images,
        )
        self._messages, self._new, self._adopted, self._images = [], [], None, 0
        return ready

    # -- inputs ----------------------------------------------------------------------------

    def set_slow(self, ticks: int) -> None:
        """Hold every answer ``ticks`` ticks (a slow disk); 0 is normal speed."""
        if not isinstance(ticks, int) or isinstance(ticks, bool) or not 0 <= ticks <= 10_000:
            raise ValueError(f"slow ticks must be an integer in [0, 10000], got {ticks!r}")
        self.slow_ticks = ticks

    def read_page(self, page: str, as_of: int) -> tuple[str, int]:
        """``page``'s value as of LSN ``as_of`` (applying the log first if need be)."""
        self._apply(limit=None, upto=as_of)
        value, lsn = "", 0
        for version_lsn, version_value in self.versions.get(page, ()):
            if version_lsn <= as_of:
                value, lsn = version_value, version_lsn
        return value, lsn

    def cpl(self) -> int:
        """The last transaction end at or below scl (0: none)."""
        lsn = self.scl
        while lsn > 0 and not self.records[lsn].last:
            lsn -= 1
        return lsn

    # -- the rules -------------------------------------------------------------------------

    def _on_append(self, sender: str, message: Append) -> None:
        if message.epoch < self.epoch:
            return  # a writer from before a recovery: fenced off
        self._learn(message.epoch, message.truncations)
        self._add(message.records)
        if message.pages:
            self._images += len(message.pages)
            self.page_images += len(message.pages)
        self._answer(Durable(self.epoch, self.scl), to=sender)

    def _learn(self, epoch: int, truncations: tuple[tuple[int, int], ...]) -> None:
        """Adopt a newer epoch and its truncations: drop the records they make invalid."""
        if epoch <= self.epoch and len(truncations) <= len(self.truncations):
            return
        self.epoch = max(self.epoch, epoch)
        self.truncations = tuple(tuple(t) for t in truncations)  # type: ignore[misc]
        gone = [lsn for lsn, r in self.records.items() if invalid(r, self.truncations)]
        for lsn in gone:
            del self.records[lsn]
        if gone:
            first = min(gone)
            for page, versions in self.versions.items():
                self.versions[page] = [v for v in versions if v[0] < first]
            self.applied = min(self.applied, first - 1)
            self.scl = min(self.scl, first - 1)
            self._new = [r for r in self._new if r.lsn < first]
        self._adopted = (self.epoch, self.truncations)

    def _add(self, records: tuple[LogRecord, ...]) -> None:
        for record in records:
            if record.lsn <= 0 or record.lsn in self.records or invalid(record, self.truncations):
                continue  # valid records at one LSN are one record: keep what is held
            self.records[record.lsn] = record
            self._new.append(record)
        self._advance_scl()

    def _advance_scl(self) -> None:
        while self.scl + 1 in self.records:
            self.scl += 1

    def _apply(self, limit: int | None, upto: int | None = None) -> None:
        """Apply log records to pages, in LSN order, never past scl."""
        stop = self.scl if upto is None else min(self.scl, upto)
        if limit is not None:
            stop = min(stop, self.applied + limit)
        while self.applied < stop:
            self.applied += 1
            record = self.records[self.applied]
            self.versions.setdefault(record.page, []).append((record.lsn, record.value))

    def _on_read(self, sender: str, message: ReadPage) -> None:
        as_of = self.scl if message.as_of < 0 else message.as_of
        ok = message.epoch == self.epoch and as_of <= self.scl
        value, lsn = self.read_page(message.page, as_of) if ok else ("", 0)
        answer = PageValue(message.epoch, message.read, message.page, value, lsn, self.scl, ok)
        self._answer(answer, to=sender)

    def _answer(self, message: Any, to: str | None = None) -> None:
        envelope = Envelope(self.name, to or self.writer, message)
        if self.slow_ticks:
            self._held.append((self.now + self.slow_ticks, envelope))
        else:
            self._messages.append(envelope)

    def statistics(self) -> dict[str, Any]:
        return {
            "role": "storage",
            "epoch": self.epoch,
            "scl": self.scl,
            "applied": self.applied,
            "records": len(self.records),
            "gossip_filled": self.gossip_filled,
            "slow_ticks": self.slow_ticks,
        }


# -- the writer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriterReady(Ready):
    """The writer's durable part: its ``truncations`` when a recovery added one."""

    truncations: tuple[tuple[int, int], ...] | None = None

    @property
    def must_persist(self) -> bool:
        return self.truncations is not None


@dataclass
class _Txn:
    op: str
    end: int


@dataclass
class _Read:
    op: str
    page: str
    deadline: int
    tried: list[str] = field(default_factory=list)
    answers: list[PageValue] = field(default_factory=list)
    sent_to: str = ""
    all_nodes: bool = False


class Writer:
    """The single writer; see the module docstring. ``epoch`` is this boot's (persisted
    by the driver before the writer starts): recovery runs at once."""

    def __init__(
        self,
        name: str,
        storage: tuple[str, ...],
        epoch: int,
        *,
        write_quorum: int = 4,
        read_quorum: int = 3,
        shipping: str = "log",
        quorum_reads: bool = False,
        truncations: tuple[tuple[int, int], ...] = (),
        timing: Timing = Timing(),
        rng: random.Random | None = None,
    ) -> None:
        check_quorums(len(storage), write_quorum, read_quorum)
        if shipping not in SHIPPING:
            raise ValueError(f"shipping must be one of {SHIPPING}, got {shipping!r}")
        if epoch < 1:
            raise ValueError(f"epoch must be at least 1, got {epoch!r}")
        self.name = self.node_id = name
        self.storage = tuple(storage)
        self.epoch = epoch
        self.write_quorum = write_quorum
        self.read_quorum = read_quorum
        self.shipping = shipping
        self.quorum_reads = quorum_reads
        self.timing = timing
        self.rng = rng or random.Random(0)
        self.phase = "recovering"
        self.truncations = tuple(truncations)
        self.base = 0
        self.vdl = 0
        self.next_lsn = 1
        self.durable: dict[str, int] = {}
        self.heard: dict[str, int] = {}
        self.records: dict[int, LogRecord] = {}  # sent, not yet on a write quorum
        self.pending: list[_Txn] = []
        self.reads: dict[int, _Read] = {}
        self.commits = 0
        self.now = 0
        self._read_ids = 0
        self._infos: dict[str, RecoveryInfo] = {}
        self._recovery_started = 0
        self._fetch: tuple[str, int, int] | None = None
        self._messages: list[Envelope] = []
        self._outputs: list[Any] = []
        self._persist_truncations = False
        self._lo = 0
        self._query_all()

    # -- the contract ----------------------------------------------------------------------

    def tick(self) -> None:
        self.now += 1
        if self.phase in ("recovering", "fetching"):
            if self.now - self._recovery_started > self.timing.recovery_timeout_ticks:
                self._query_all()  # a node we counted on went away: ask again
            elif self.now % self.timing.resend_ticks == 0:
                if self.phase == "recovering":
                    for node in self.storage:
                        if node not in self._infos:
                            self._send(node, RecoveryQuery(self.epoch, self.truncations))
                elif self._fetch is not None:
                    node, lo, hi = self._fetch
                    self._send(node, Fetch(self.epoch, lo, hi))
        else:
            if self.now % self.timing.heartbeat_ticks == 0:
                for node in self.storage:
                    self._send(node, Append(self.epoch, self.truncations, self.vdl, ()))
            if self.now % self.timing.resend_ticks == 0:
                self._resend()
        for read_id, read in list(self.reads.items()):
            if self.now >= read.deadline:
                self._retry_read(read_id, read)

    def receive(self, sender: str, message: Any) -> None:
        if getattr(message, "epoch", None) != self.epoch or sender not in self.storage:
            return
        self.heard[sender] = self.now
        if isinstance(message, Durable):
            if message.scl > self.durable.get(sender, -1):
                self.durable[sender] = message.scl
                self._advance()
        elif isinstance(message, RecoveryInfo) and self.phase == "recovering":
            self._infos[sender] = message
            if len(self._infos) >= self.read_quorum:
                self._choose_recovery_point()
        elif isinstance(message, Fetched) and self.phase == "fetching":
            if self._fetch is not None and (message.lo, message.hi) == self._fetch[1:]:
                self._open_catch_up(message.records)
        elif isinstance(message, PageValue):
            self._on_page(sender, message)

    def has_ready(self) -> bool:
        return bool(self._messages or self._outputs)

    def take_ready(self) -> WriterReady:
        ready = WriterReady(
            messages=self._messages,
            outputs=self._outputs,
            truncations=self.truncations if self._persist_truncations else None,
        )
        self._messages, self._outputs = [], []
        self._persist_truncations = False
        return ready

    # -- client inputs ---------------------------------------------------------------------

    def alive(self) -> list[str]:
        """Storage nodes heard from lately (the writer's view)."""
        horizon = self.now - self.timing.alive_ticks
        return [node for node in self.storage if self.heard.get(node, -(10**9)) >= horizon]

    def commit(self, op: str, writes: tuple[tuple[str, str], ...]) -> Refused | None:
        """Start transaction ``op``: set each page to its value. Answers `Committed` (an
        output) once a write quorum holds it, or `Refused` now."""
        writes = check_writes(writes)
        alive = len(self.alive())
        if alive < self.write_quorum:
            return Refused(
                f"write quorum unavailable: {alive} of {len(self.storage)} storage nodes "
                f"answer, a write needs {self.write_quorum}"
            )
        if self.phase != "open":
            return Refused(f"the writer is recovering (epoch {self.epoch}); try again")
        batch = []
        for index, (page, value) in enumerate(writes):
            last = index == len(writes) - 1
            batch.append(LogRecord(self.next_lsn, self.epoch, op, page, value, last))
            self.next_lsn += 1
        for record in batch:
            self.records[record.lsn] = record
        self.pending.append(_Txn(op, batch[-1].lsn))
        pages = tuple((page, PAGE_BYTES) for page, _ in writes) if self.shipping == "pages" else ()
        for node in self.storage:
            self._send(node, Append(self.epoch, self.truncations, self.vdl, tuple(batch), pages))
        return None

    def read(self, op: str, page: str) -> Refused | None:
        """Read ``page`` as of the VDL; answers `ReadDone` or `ReadFailed` (outputs)."""
        page = check_page(page)
        if self.phase in ("recovering", "fetching"):
            return Refused(f"the writer is recovering (epoch {self.epoch}); try again")
        self._read_ids += 1
        read = _Read(op, page, self.now + self.timing.read_timeout_ticks)
        self.reads[self._read_ids] = read
        if self.quorum_reads or self.phase != "open":
            read.all_nodes = True
            as_of = -1 if self.quorum_reads else self.vdl
            for node in self.storage:
                self._send(node, ReadPage(self.epoch, self._read_ids, page, as_of))
        else:
            self._send_read(self._read_ids, read)
        return None

    def volume_complete_lsn(self) -> int:
        """VCL: the W-th highest scl (every record up to it is on W nodes)."""
        scls = sorted((self.durable.get(node, 0) for node in self.storage), reverse=True)
        return scls[self.write_quorum - 1]

    # -- the rules -------------------------------------------------------------------------

    def _advance(self) -> None:
        vcl = self.volume_complete_lsn()
        while self.pending and self.pending[0].end <= vcl:
            txn = self.pending.pop(0)
            self.vdl = txn.end
            self.commits += 1
            self._outputs.append(Committed(txn.op, txn.end))
        for lsn in [lsn for lsn in self.records if lsn <= vcl]:
            del self.records[lsn]
        if self.phase == "catching up" and vcl >= self.base:
            self.phase = "open"
            self._outputs.append(Recovered(self.epoch, self.base))

    def _resend(self) -> None:
        if not self.records:
            return
        for node in self.storage:
            have = self.durable.get(node, 0)
            missing = [r for lsn, r in sorted(self.records.items()) if lsn > have][:MAX_BATCH]
            if missing:
                self._send(node, Append(self.epoch, self.truncations, self.vdl, tuple(missing)))

    def _query_all(self) -> None:
        self.phase = "recovering"
        self._infos = {}
        self._fetch = None
        self._lo = 0
        self._recovery_started = self.now
        for node in self.storage:
            self._send(node, RecoveryQuery(self.epoch, self.truncations))

    def recovery_point(self, infos: dict[str, RecoveryInfo]) -> tuple[str, int]:
        """From a read quorum's answers: the node with the longest log (highest scl), and
        the last transaction end in it (its cpl), where the log will be cut."""
        best_node, best = max(infos.items(), key=lambda kv: (kv[1].scl, kv[0]))
        return best_node, best.cpl

    def _choose_recovery_point(self) -> None:
        """The longest log in the read quorum decides: its last transaction end is the
        recovery point P; everything above P is cut off (a truncation, persisted before
        any storage node hears of it)."""
        best_node, point = self.recovery_point(dict(self._infos))
        best = self._infos.get(best_node)
        if best is None or not 0 <= point <= best.scl:
            raise ValueError(f"recovery point {point} at {best_node!r} is not in its log")
        self._lo = min(min(info.scl for info in self._infos.values()), point)
        self.base = point
        self.vdl = point
        self.next_lsn = point + 1
        self.truncations = (*self.truncations, (self.epoch, point))
        self._persist_truncations = True
        if point > self._lo:
            self.phase = "fetching"
            self._fetch = (best_node, self._lo, point)
            self._send(best_node, Fetch(self.epoch, self._lo, point))
        else:
            self._open_catch_up(())

    def _open_catch_up(self, fetched: tuple[LogRecord, ...]) -> None:
        """Send the records up to the recovery point again, under this epoch."""
        self.phase = "catching up"
        self._fetch = None
        self.durable = {}
        self.records = {r.lsn: r for r in fetched}
        batch = tuple(sorted(self.records.values(), key=lambda r: r.lsn))[:MAX_BATCH]
        for node in self.storage:
            self._send(node, Append(self.epoch, self.truncations, self.vdl, batch))

    def _send_read(self, read_id: int, read: _Read) -> None:
        fresh = [
            node
            for node in self.alive()
            if self.durable.get(node, 0) >= self.vdl and node not in read.tried
        ]
        if not fresh:
            fresh = [node for node in self.storage if node not in read.tried]
        if not fresh:
            del self.reads[read_id]
            self._outputs.append(ReadFailed(read.op, "no storage node answered"))
            return
        node = self.rng.choice(fresh)
        read.tried.append(node)
        read.sent_to = node
        self._send(node, ReadPage(self.epoch, read_id, read.page, self.vdl))

    def _retry_read(self, read_id: int, read: _Read) -> None:
        if read.all_nodes:
            del self.reads[read_id]
            self._outputs.append(ReadFailed(read.op, "no read quorum answered in time"))
            return
        read.deadline = self.now + self.timing.read_timeout_ticks
        self._send_read(read_id, read)

    def _on_page(self, sender: str, answer: PageValue) -> None:
        read = self.reads.get(answer.read)
        if read is None or not answer.ok:
            return
        if not read.all_nodes:
            if sender != read.sent_to:
                return
        elif self.quorum_reads:
            read.answers.append(answer)
            if len(read.answers) < self.read_quorum:
                return
            answer = max(read.answers, key=lambda a: (a.lsn, a.scl))  # the newest version
        del self.reads[answer.read]
        self._outputs.append(ReadDone(read.op, read.page, answer.value, answer.lsn, sender))

    def _send(self, node: str, message: Any) -> None:
        self._messages.append(Envelope(self.name, node, message))

    def statistics(self) -> dict[str, Any]:
        return {
            "role": "writer",
            "epoch": self.epoch,
            "phase": self.phase,
            "vdl": self.vdl,
            "vcl": self.volume_complete_lsn(),
            "next_lsn": self.next_lsn,
            "pending": len(self.pending),
            "commits": self.commits,
            "write_quorum": self.write_quorum,
            "read_quorum": self.read_quorum,
            "alive": len(self.alive()),  # storage nodes heard from lately
            "shipping": self.shipping,
        }


def check_page(page: Any) -> str:
    if not isinstance(page, str) or not page or len(page) > MAX_PAGE_NAME:
        raise ValueError(
            f"a page name must be a non-empty string of at most {MAX_PAGE_NAME} "
            f"characters, got {page!r:.80}"
        )
    return page


def check_writes(writes: Any) -> tuple[tuple[str, str], ...]:
    """Clear errors for a malformed transaction: 1..16 (page, value) pairs of strings."""
    if not isinstance(writes, (list, tuple)) or not 1 <= len(writes) <= MAX_WRITES_PER_TXN:
        raise ValueError(
            f"a transaction is 1 to {MAX_WRITES_PER_TXN} (page, value) pairs, got {writes!r:.80}"
        )
    checked = []
    for pair in writes:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"each write is a (page, value) pair, got {pair!r:.80}")
        page, value = pair
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise ValueError(f"a value must be a string of at most {MAX_VALUE} characters")
        checked.append((check_page(page), value))
    return tuple(checked)
