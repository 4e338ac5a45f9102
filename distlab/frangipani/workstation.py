"""A Frangipani workstation: a write-back cache under locks, and a write-ahead log on the disk.

What it is: `Workstation`, a pure core (no sockets, threads or clock) that runs file system
operations one at a time and says which command it needs the shared service to run next.
A driver (the simulator, or a thread calling the Raft group) sends `next_command()` and
hands the answer to `on_answer()`; at most one command is ever in flight.

- **Cache under locks** (缓存一致性 cache coherence): a block is cached only while its lock is
  held. A read lock (shared) lets several workstations cache the same block; a write lock
  (exclusive) lets one change it. Operations on cached blocks with the right lock send
  nothing at all -- that is why Frangipani is fast for private files.
- **Atomic operations** (原子性): ``create``, ``write``, ``rename`` and ``delete`` take every
  lock they need, then make one log entry holding all the blocks they change (new version
  numbers), and change the cache. Acknowledged at once; durable once the entry is in the log
  on the disk (``sync`` forces that).
- **Revoke** (撤销): an answer may list locks another workstation wants. The handler
  `_handle_revoke` first appends the log to the disk (log first, 预写式日志), then writes the
  dirty blocks under those locks back (回写 write-back) and releases them, in one command.
- **Lease** (租约): the workstation uses its cache only while its own clock says its lease
  still runs (``lease_ticks``, shorter than the server's lease, from the moment it sent the
  command the server last answered); otherwise it renews first. A workstation cut off from
  the server therefore stops serving cached data before the recovery service takes its locks.
- The teaching switch ``write_back_on_revoke=False`` releases without writing back: the next
  holder reads the old block from the disk -- a stale read the checker reports.

What it must never do: change a block without its write lock, keep a block cached after
giving its lock back, or let blocks reach the disk before the log entry that describes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab.frangipani.service import ROOT, check_path

__all__ = ["Completion", "Workstation", "locks_for"]


@dataclass
class Completion:
    """One finished operation: ``ok`` with ``value`` (a read's result), or ``error``."""

    op_id: int
    op: tuple[Any, ...]
    ok: bool
    value: Any = None
    error: str | None = None


def locks_for(op: tuple[Any, ...]) -> list[tuple[str, str]]:
    """The (lock, mode) pairs an operation needs, in a fixed order (the directory first)."""
    kind = op[0]
    if kind == "read":
        return [(op[1], "r")]
    if kind == "write":
        return [(op[1], "w")]
    if kind in ("create", "delete"):
        return [(ROOT, "w"), (op[1], "w")]
    if kind == "rename":
        return [(ROOT, "w")] + [(path, "w") for path in sorted({op[1], op[2]})]
    if kind in ("sync", "list"):
        return [(ROOT, "r")] if kind == "list" else []
    raise ValueError(f"unknown operation {kind!r}")


def _check_op(op: tuple[Any, ...]) -> tuple[Any, ...]:
    if not isinstance(op, tuple) or not op:
        raise ValueError(f"an operation is a tuple like ('read', '/a'), not {op!r}")
    kind = op[0]
    arity = {"read": 2, "write": 3, "create": 3, "delete": 2, "rename": 3, "sync": 1, "list": 1}
    if kind not in arity:
        raise ValueError(f"unknown operation {kind!r}; one of {sorted(arity)}")
    if len(op) != arity[kind]:
        raise ValueError(f"{kind} takes {arity[kind] - 1} argument(s), got {op[1:]!r}")
    if kind in ("read", "write", "create", "delete", "rename"):
        check_path(op[1])
    if kind == "rename":
        check_path(op[2])
    if kind in ("write", "create") and not isinstance(op[2], str):
        raise ValueError(f"file contents are a string, not {type(op[2]).__name__}")
    return op


@dataclass
class Workstation:
    """See the module docstring. ``poll_ticks``: how long to wait before asking again for a
    lock someone else holds; ``renew_ticks``: how often an idle workstation renews its lease."""

    name: str
    write_back_on_revoke: bool = True
    poll_ticks: int = 3
    renew_ticks: int = 20
    lease_ticks: int = 50
    epoch: int | None = None
    held: dict[str, str] = field(default_factory=dict)  # lock -> "r" | "w"
    cache: dict[str, list[Any]] = field(default_factory=dict)  # key -> [version, value]
    dirty: set[str] = field(default_factory=set)
    unflushed: list[dict[str, Any]] = field(default_factory=list)  # log entries not on disk
    logged_seq: int = 0  # every entry up to here is in the log on the disk
    queue: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    completed: list[Completion] = field(default_factory=list)
    revokes: list[str] = field(default_factory=list)
    outstanding: dict[str, Any] | None = None
    wait: int = 0
    idle: int = 0
    next_seq: int = 1
    next_op: int = 1
    entry_ops: dict[int, list[int]] = field(default_factory=dict)  # log seq -> op ids
    lock_commands: int = 0
    write_backs: int = 0
    expired: int = 0
    clock: int = 0  # ticks seen (the workstation's own clock, for its lease)
    sent_at: int = 0
    lease_until: int = -1  # use cached blocks only before this tick (租约 lease)

    # ----- inputs ----------------------------------------------------------------------

    def submit(self, op: tuple[Any, ...]) -> int:
        """Queue one operation (checked now: a bad path or op is a ``ValueError``)."""
        _check_op(op)
        op_id = self.next_op
        self.next_op += 1
        self.queue.append((op_id, op))
        return op_id

    def tick(self) -> None:
        self.clock += 1
        if self.wait > 0:
            self.wait -= 1
        self.idle += 1

    def next_command(self) -> dict[str, Any] | None:
        """The command to send now, or None (one in flight, or waiting, or nothing to do).
        Runs every operation that needs no message at all (cache hits) on the way."""
        if self.outstanding is not None:
            return None
        command = self._plan()
        if command is not None:
            command.update(ws=self.name, epoch=self.epoch)
            self.outstanding = command
            self.sent_at = self.clock
            self.idle = 0
        return command

    def on_answer(self, answer: dict[str, Any]) -> None:
        command, self.outstanding = self.outstanding, None
        if command is None:
            return
        if answer.get("error") == "expired" and command["op"] != "hello":
            self.lose_lease()
            return
        # The server heard us no earlier than we sent: our lease runs at least until then +
        # lease_ticks on its clock. lease_ticks is shorter than the server's lease (a margin).
        self.lease_until = self.sent_at + self.lease_ticks
        self.revokes = [name for name in answer.get("revoke", []) if name in self.held]
        op = command["op"]
        if op == "hello":
            self.epoch = int(answer["epoch"])
        elif op == "acquire":
            if answer.get("granted"):
                self.held[command["lock"]] = self._stronger(command["lock"], command["mode"])
                if command["lock"] not in self.dirty:
                    self.cache[command["lock"]] = list(answer["block"])
            else:
                self.wait = self.poll_ticks
        elif op == "log" and "error" not in answer:
            self.logged_seq = max(entry["seq"] for entry in command["entries"])
            self.unflushed = [e for e in self.unflushed if e["seq"] > self.logged_seq]
        elif op == "release" and "error" not in answer:
            for key in command["blocks"]:
                self.dirty.discard(key)
            for name in command["locks"]:
                self.held.pop(name, None)
                self.cache.pop(name, None)
                self.dirty.discard(name)  # only without write-back: the change is lost
            self.revokes = [name for name in self.revokes if name in self.held]

    def lose_lease(self) -> None:
        """The lease ran out (the recovery service took over): forget every lock and cached
        block; entries not yet in the disk's log are lost."""
        self.expired += 1
        self.epoch = None
        self.held.clear()
        self.cache.clear()
        self.dirty.clear()
        self.unflushed.clear()
        self.revokes.clear()

    # ----- what to do next ---------------------------------------------------------------

    def _plan(self) -> dict[str, Any] | None:
        if self.epoch is None:
            return {"op": "hello"}
        if self.revokes:
            return self._handle_revoke(self.revokes)
        while self.queue:
            op_id, op = self.queue[0]
            if op[0] == "sync":
                command = self._write_everything_back()
                if command is not None:
                    return command
                self._finish(op_id, op, True)
                continue
            for name, mode in locks_for(op):
                if not self._holds(name, mode):
                    if self.wait > 0:
                        return None
                    self.lock_commands += 1
                    return {"op": "acquire", "lock": name, "mode": mode}
            if self.clock >= self.lease_until:
                # Our lease may have run out on the server (cut off?): the recovery service
                # may have taken our locks, so a cache hit now could be stale. Renew first.
                return {"op": "renew"}
            self._execute(op_id, op)
        if self.idle >= self.renew_ticks:
            return {"op": "renew"}
        return None

    def _handle_revoke(self, locks: list[str]) -> dict[str, Any]:
        """Give ``locks`` back: log first, then write back their dirty blocks and release."""
        if self.write_back_on_revoke and self.unflushed:
            return {"op": "log", "entries": list(self.unflushed)}
        blocks = {}
        if self.write_back_on_revoke:
            blocks = {key: list(self.cache[key]) for key in locks if key in self.dirty}
            self.write_backs += len(blocks)
        self.lock_commands += 1
        return {"op": "release", "blocks": blocks, "locks": list(locks), "trim": self._trim(blocks)}

    def _write_everything_back(self) -> dict[str, Any] | None:
        if self.unflushed:
            return {"op": "log", "entries": list(self.unflushed)}
        if self.dirty:
            blocks = {key: list(self.cache[key]) for key in sorted(self.dirty)}
            return {"op": "release", "blocks": blocks, "locks": [], "trim": self._trim(blocks)}
        return None

    def _trim(self, blocks: dict[str, Any]) -> int | None:
        """The log can be cut once no dirty block is left after this write-back."""
        return self.logged_seq if not (self.dirty - set(blocks)) and not self.unflushed else None

    def _holds(self, name: str, mode: str) -> bool:
        return self.held.get(name) == "w" or (mode == "r" and name in self.held)

    def _stronger(self, name: str, mode: str) -> str:
        return "w" if mode == "w" or self.held.get(name) == "w" else "r"

    # ----- running an operation on the cache ---------------------------------------------

    def _value(self, key: str) -> Any:
        return self.cache[key][1]

    def _execute(self, op_id: int, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "read":
            value = self._value(op[1])
            if value is None:
                return self._finish(op_id, op, False, error=f"no such file {op[1]}")
            return self._finish(op_id, op, True, value)
        if kind == "list":
            return self._finish(op_id, op, True, list(self._value(ROOT)))
        changes: dict[str, Any] = {}
        names = list(self._value(ROOT)) if ROOT in self.held else []
        if kind == "write":
            if self._value(op[1]) is None:
                return self._finish(op_id, op, False, error=f"no such file {op[1]}")
            changes[op[1]] = op[2]
        elif kind == "create":
            if op[1] in names:
                return self._finish(op_id, op, False, error=f"file exists {op[1]}")
            changes[ROOT] = sorted([*names, op[1]])
            changes[op[1]] = op[2]
        elif kind == "delete":
            if op[1] not in names:
                return self._finish(op_id, op, False, error=f"no such file {op[1]}")
            changes[ROOT] = [name for name in names if name != op[1]]
            changes[op[1]] = None
        elif kind == "rename":
            source, target = op[1], op[2]
            if source not in names:
                return self._finish(op_id, op, False, error=f"no such file {source}")
            if target in names:
                return self._finish(op_id, op, False, error=f"file exists {target}")
            changes[ROOT] = sorted([n for n in names if n != source] + [target])
            changes[target] = self._value(source)
            changes[source] = None
        entry_blocks = {key: [self.cache[key][0] + 1, value] for key, value in changes.items()}
        seq = self.next_seq
        self.next_seq += 1
        self.unflushed.append({"seq": seq, "blocks": entry_blocks})
        self.entry_ops[seq] = [op_id]
        for key, block in entry_blocks.items():
            self.cache[key] = list(block)
            self.dirty.add(key)
        self._finish(op_id, op, True)

    def _finish(
        self, op_id: int, op: tuple[Any, ...], ok: bool, value: Any = None, error: str | None = None
    ) -> None:
        self.queue.pop(0)
        self.completed.append(Completion(op_id, op, ok, value, error))

    def view(self) -> dict[str, Any]:
        """What a panel draws: held locks, cached blocks (clean/dirty), the log."""
        return {
            "epoch": self.epoch,
            "locks": dict(sorted(self.held.items())),
            "cache": {
                key: {"value": block[1], "version": block[0], "dirty": key in self.dirty}
                for key, block in sorted(self.cache.items())
            },
            "unflushed": len(self.unflushed),
            "queued": len(self.queue),
        }
