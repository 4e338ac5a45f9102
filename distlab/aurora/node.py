"""Aurora in real processes: one node program, two roles -- the writer and storage nodes.

What it is: `AuroraProcess`, a `distlab.cluster.CoreNode` that runs the same pure cores as
the simulator with real time and real sockets. Its role comes from its name: ``n0`` is the
writer (`distlab.aurora.core.Writer`), ``n1 .. n6`` storage nodes in zones ``a`` (n1, n2),
``b`` (n3, n4), ``c`` (n5, n6).

- A storage node appends each log record it receives to ``redo.log`` (a
  `distlab.storage.DurableLog`: checksummed records, one fsync per batch) before it says
  the record is durable; with page shipping it also writes each 8 KiB page image to
  ``pages.dat`` and fsyncs it. A restart replays ``redo.log``; a damaged file is a clear
  error (`CorruptLogError`, or `ValueError` for a well-checksummed but malformed entry).
- The writer keeps only its epoch and the recovery points (``writer.snap``, fsync'ed and
  checksummed): it boots one epoch later and recovers from a read quorum.

``Aurora.set_slow(ms)`` on a storage node gives it a slow disk (answers held that long).
Client RPCs on ``n0``: ``Aurora.commit(writes, timeout_s)`` answers once a write quorum holds
the transaction (``{"ok": True, "lsn": ..}``), or ``{"refused": reason}`` (definite), or
``{"timeout": True}`` (indefinite: it may still commit); ``Aurora.read(page, timeout_s)``.
`AuroraClient` (what ``cluster.client()`` returns) calls them and records each request in
a `distlab.check.History` if given one.
Options: ``write_quorum`` (4), ``read_quorum`` (3), ``shipping`` ("log" | "pages"),
``quorum_reads`` (False), ``gossip`` (True). Ticks are 10 ms.
What it must never do: print, or answer a commit before the core says it committed.
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

import msgpack

from distlab.aurora.core import (
    PAGE_BYTES,
    Committed,
    ReadDone,
    ReadFailed,
    Refused,
    StorageNode,
    StorageReady,
    Timing,
    Writer,
    WriterReady,
    check_page,
    check_quorums,
    check_writes,
)
from distlab.aurora.messages import CODEC, LogRecord
from distlab.cluster.core_node import Answers, CoreNode
from distlab.cluster.program import NodeContext
from distlab.core import Core, Ready, RequestRefused, RequestTimeout, derive_seed

__all__ = [
    "AuroraClient",
    "AuroraProcess",
    "AuroraRefused",
    "AuroraTimeout",
    "load_redo_log",
    "set_slow",
]

WRITER = "n0"
Truncations = tuple[tuple[int, int], ...]
STORAGE = ("n1", "n2", "n3", "n4", "n5", "n6")
MAX_WAIT_S = 30.0
#: Ticks of 10 ms: a node unheard for 0.5 s counts as down; reads retry after 0.3 s.
REAL_TIMING = Timing(
    heartbeat_ticks=5,
    resend_ticks=10,
    gossip_ticks=10,
    alive_ticks=50,
    read_timeout_ticks=30,
    recovery_timeout_ticks=100,
)


def load_redo_log(path: Any) -> tuple[dict[int, LogRecord], int, Truncations]:
    """Read a (stopped) storage node's ``redo.log``: its records, epoch and truncations."""
    from distlab.storage import DurableLog

    log = DurableLog(path)  # a torn tail is dropped; damage in the middle raises
    try:
        return replay(log)
    finally:
        log.close()


def replay(log: Any) -> tuple[dict[int, LogRecord], int, Truncations]:
    """Replay an open redo log; a well-checksummed but malformed entry is a clear error."""
    records: dict[int, LogRecord] = {}
    epoch, truncations = 0, cast(Truncations, ())
    for index, raw in enumerate(log.records()):
        try:
            entry = msgpack.unpackb(raw)
            if entry[0] == "r":
                lsn, rec_epoch, txn, page, value, last = entry[1:]
                record = LogRecord(
                    int(lsn), int(rec_epoch), str(txn), str(page), str(value), bool(last)
                )
                records[record.lsn] = record
            elif entry[0] == "t":
                epoch = int(entry[1])
                truncations = tuple((int(e), int(p)) for e, p in entry[2])
            else:
                raise ValueError(f"unknown entry kind {entry[0]!r}")
        except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException) as error:
            raise ValueError(
                f"{log.path}: entry {index} is not a redo log record: {error}"
            ) from None
    return records, epoch, truncations


class AuroraProcess(CoreNode):
    """An Aurora cluster's node program (see the module docstring)."""

    codec = CODEC
    tick_ms = 10.0
    system_name = "aurora"

    def __init__(self, ctx: NodeContext) -> None:
        self.options = {
            "write_quorum": int(ctx.options.get("write_quorum", 4)),
            "read_quorum": int(ctx.options.get("read_quorum", 3)),
            "shipping": ctx.options.get("shipping", "log"),
            "quorum_reads": bool(ctx.options.get("quorum_reads", False)),
        }
        check_quorums(len(STORAGE), self.options["write_quorum"], self.options["read_quorum"])
        self.gossip = bool(ctx.options.get("gossip", True))
        self.answers = Answers(ctx.name)
        self._log: Any = None
        self.fsyncs = 0
        super().__init__(ctx)

    # -- CoreNode -------------------------------------------------------------------------------

    def boot(self) -> Core:
        from distlab.storage import DurableLog, read_snapshot, write_snapshot

        if self.ctx.name == WRITER:
            epoch, truncations = 0, cast(Truncations, ())
            raw = read_snapshot(self.ctx.data_dir / "writer.snap")
            if raw is not None:
                epoch, truncations = _decode_writer(raw)
            epoch += 1
            write_snapshot(
                self.ctx.data_dir / "writer.snap", json.dumps([epoch, truncations]).encode()
            )
            self.fsyncs += 1
            rng = __import__("random").Random(derive_seed(self.ctx.seed, "aurora-writer"))
            return Writer(
                WRITER,
                STORAGE,
                epoch,
                truncations=truncations,
                timing=REAL_TIMING,
                rng=rng,
                **self.options,
            )
        if self.ctx.name not in STORAGE:
            raise ValueError(f"an Aurora cluster has nodes n0 .. n6, not {self.ctx.name!r}")
        path = self.ctx.data_dir / "redo.log"
        self._log = DurableLog(path)  # a corrupt file raises CorruptLogError: a clear error
        records, epoch, truncations = replay(self._log)
        return StorageNode(
            self.ctx.name,
            WRITER,
            STORAGE,
            records=records,
            epoch=epoch,
            truncations=truncations,
            timing=REAL_TIMING,
            gossip=self.gossip,
        )

    def persist(self, ready: Ready) -> None:
        from distlab.storage import write_snapshot

        if isinstance(ready, WriterReady) and ready.truncations is not None:
            core = self.core
            assert isinstance(core, Writer)
            payload = json.dumps([core.epoch, ready.truncations]).encode()
            write_snapshot(self.ctx.data_dir / "writer.snap", payload)
            self.fsyncs += 1
        elif isinstance(ready, StorageReady):
            if ready.adopted is not None:
                epoch, truncations = ready.adopted
                self._log.append(msgpack.packb(["t", epoch, [list(t) for t in truncations]]))
            for r in ready.records:
                self._log.append(
                    msgpack.packb(["r", r.lsn, r.epoch, r.txn, r.page, r.value, r.last])
                )
            if ready.records or ready.adopted:
                self._log.sync()
                self.fsyncs += 1
            if ready.page_images:
                self._write_pages(ready.page_images)

    def _write_pages(self, count: int) -> None:
        """Page shipping: each image is a real 8 KiB write, fsync'ed."""
        with open(self.ctx.data_dir / "pages.dat", "ab") as pages:
            pages.write(b"\0" * (PAGE_BYTES * count))
            pages.flush()
            os.fsync(pages.fileno())
        self.fsyncs += 1

    def output(self, item: Any) -> None:
        if isinstance(item, (Committed, ReadDone, ReadFailed)):
            self.answers.deliver(item.op, item)
        else:
            self.ctx.log.info("%s", item)

    def services(self) -> dict[str, object]:
        return {"Aurora": _AuroraRPC(self), **super().services()}

    def status(self) -> dict[str, Any]:
        with self.lock:
            fields = dict(self.core.statistics())  # type: ignore[attr-defined]
        fields["fsyncs"] = self.fsyncs
        fields.update(self.outbox_statistics())
        fields["zone"] = {"n1": "a", "n2": "a", "n3": "b", "n4": "b", "n5": "c", "n6": "c"}.get(
            self.ctx.name, "writer"
        )
        return fields

    def close(self) -> None:
        super().close()
        if self._log is not None:
            self._log.close()

    # -- serving clients ---------------------------------------------------------------------

    def serve(self, request: Any, timeout_s: float) -> dict[str, Any]:
        if not isinstance(self.core, Writer):
            raise ValueError(f"{self.ctx.name} is a storage node; send requests to the writer n0")
        if (
            not isinstance(timeout_s, (int, float))
            or isinstance(timeout_s, bool)
            or not 0 < timeout_s <= MAX_WAIT_S
        ):
            raise ValueError(f"timeout_s must be in (0, {MAX_WAIT_S}], got {timeout_s!r}")
        op = self.answers.new_op()
        refused = self.run(lambda core: request(core, op))
        if isinstance(refused, Refused):
            return {"refused": refused.reason}
        answer = self.answers.wait(op, timeout_s)
        if answer is None:
            return {"timeout": True}
        if isinstance(answer, Committed):
            return {"ok": True, "lsn": answer.lsn}
        if isinstance(answer, ReadFailed):
            return {"refused": answer.reason}
        return {"ok": True, "value": answer.value, "lsn": answer.lsn, "node": answer.node}

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> AuroraClient:
        return AuroraClient(cluster, **options)


def _decode_writer(raw: bytes) -> tuple[int, tuple[tuple[int, int], ...]]:
    try:
        epoch, truncations = json.loads(raw)
        parsed = tuple((int(e), int(p)) for e, p in truncations)
    except (ValueError, TypeError) as error:
        raise ValueError(f"writer.snap does not hold an epoch and truncations: {error}") from None
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"writer.snap holds a bad epoch {epoch!r}")
    return epoch, parsed


class _AuroraRPC:
    """``Aurora.commit``, ``Aurora.read``: what clients call (on the writer)."""

    def __init__(self, node: AuroraProcess) -> None:
        self._node = node

    def commit(self, writes: Any, timeout_s: float = 2.0) -> dict[str, Any]:
        """Commit a transaction: ``writes`` is ``[[page, value], ...]`` (1 to 16 pairs)."""
        checked = check_writes(writes)
        return self._node.serve(lambda core, op: core.commit(op, checked), timeout_s)

    def read(self, page: str, timeout_s: float = 2.0) -> dict[str, Any]:
        """Read ``page`` as of the writer's VDL."""
        checked = check_page(page)
        return self._node.serve(lambda core, op: core.read(op, checked), timeout_s)

    def set_slow(self, ms: float) -> dict[str, Any]:
        """On a storage node: a slow disk -- hold every answer about ``ms`` milliseconds."""
        if not isinstance(self._node.core, StorageNode):
            raise ValueError(f"{self._node.ctx.name} is the writer; slow a storage node n1..n6")
        if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not 0 <= ms <= 10_000:
            raise ValueError(f"ms must be a number in [0, 10000], got {ms!r}")
        ticks = round(ms / AuroraProcess.tick_ms)
        self._node.run(lambda core: core.set_slow(ticks))
        return {"slow_ticks": ticks}


def set_slow(cluster: Any, node: str, ms: float) -> None:
    """Give a storage node of a real cluster a slow disk (0: normal again)."""
    cluster.client(node, client_name="controller").call("Aurora.set_slow", ms, timeout=5.0)


# -- the client --------------------------------------------------------------------------------


class AuroraTimeout(RequestTimeout):
    """No answer in time. ``definite`` is False for a commit: it may still happen."""


class AuroraRefused(RequestRefused):
    """The writer refused (no write quorum, recovering): definitely did not happen."""


class AuroraClient:
    """Commits and reads at the writer ``n0``; records each request in ``history``: a
    transaction's writes as one put per page, all with the transaction's interval."""

    def __init__(
        self,
        cluster: Any,
        *,
        history: Any = None,
        client_id: str = "aurora-client",
        timeout_s: float = 2.0,
    ) -> None:
        self.cluster = cluster
        self.history = history
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._rpc: tuple[Any, Any] | None = None

    def commit(self, writes: Any) -> int:
        """Commit ``writes`` (``[(page, value), ...]``); returns the transaction's last LSN."""
        checked = check_writes(writes)
        calls = []
        if self.history is not None:
            calls = [self.history.invoke(f"{self.client_id}/{p}", "put", p, v) for p, v in checked]
        try:
            answer = self._call("Aurora.commit", [list(w) for w in checked])
        except Exception as error:
            definite = getattr(error, "definite", False)
            for call in calls:
                (self.history.fail if definite else self.history.info)(call)
            raise
        for call in calls:
            self.history.ok(call)
        return int(answer["lsn"])

    def read(self, page: str) -> str:
        def read() -> str:
            return str(self._call("Aurora.read", page)["value"])

        if self.history is None:
            return read()
        return self.history.record_read(f"{self.client_id}/r", page, read)

    def _call(self, method: str, argument: Any) -> dict[str, Any]:
        try:
            answer = self._client().call(
                method, argument, self.timeout_s, timeout=self.timeout_s + 2.0
            )
        except Exception as error:
            if getattr(error, "definite", False):
                raise AuroraRefused(f"{method}: {error}") from None
            raise AuroraTimeout(f"{method}: {error!r:.160}", definite=False) from None
        if answer.get("refused"):
            raise AuroraRefused(answer["refused"])
        if answer.get("timeout"):
            raise AuroraTimeout(
                f"{method}: no answer in {self.timeout_s} s", definite=method.endswith("read")
            )
        return answer

    def _client(self) -> Any:
        address = self.cluster.address(WRITER)
        if self._rpc is None or self._rpc[0] != address:  # a restarted writer listens elsewhere
            self._rpc = (address, self.cluster.client(WRITER, client_name=self.client_id))
        return self._rpc[1]
