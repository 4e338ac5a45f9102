"""The shared side of Frangipani: Petal's virtual disk and the lock server, as one state machine.

What it is: `FrangipaniService`, a deterministic state machine (a `ReplicatedService`) that
holds

- the **shared virtual disk** (共享虚拟磁盘, Petal's role): blocks ``key -> [version, value]``
  (the directory ``"/"`` is one block listing file names; each file ``"/name"`` is one block;
  a deleted file's value is None), and one **write-ahead log** (预写式日志) per workstation;
- the **lock server** (锁服务器): per block a read (shared) or write (exclusive) lock, a FIFO
  queue of waiters (the lock server's queue), and the set of holders asked to give a lock
  back (撤销 revoke);
- **leases** (租约): each workstation has an *epoch* (its incarnation); every command carries
  it, and a command from an old epoch is refused. `recover` ends an epoch.

Every command is plain data (``{"op": ..., "ws": ..., "epoch": ...}``) and every answer is a
map that also carries the workstation's pending revokes, so a workstation learns about a
revoke from whatever it asks next -- no call ever goes from the server to a workstation.

Crash recovery (崩溃恢复) is `recover`: the recovery service takes the dead workstation's locks,
replays its log from the disk -- an entry's block is written only if the entry's version is
newer than the disk's (an old log never overwrites newer data) -- and only then releases
the locks. The three steps are separate methods so that a mutant (and the assignment) can
get their order or the version check wrong, and the simulator's invariants catch it.

In the simulator one node hosts this state machine; in real processes a Raft group
(`distlab.replicated.RaftPeer`, chapter 08) replicates it: one Raft group holds both the
disk and the locks -- a simplification of Frangipani, where Petal and the lock service are
separate replicated services.

What it must never do: read a clock, a random number or the network (every replica must
reach the same state from the same commands).
"""

from __future__ import annotations

import re
from typing import Any

import msgpack

__all__ = ["ROOT", "FrangipaniService", "check_path"]

ROOT = "/"
"""The directory's block (and lock): the sorted list of file names."""

_PATH = re.compile(r"^/[a-z0-9_.-]{1,32}$")


def check_path(path: Any) -> str:
    """``path`` if it names a file (``/name``, lower-case letters, digits, ``_.-``), else a
    clear ``ValueError``."""
    if not isinstance(path, str) or not _PATH.match(path):
        raise ValueError(
            f"bad path {path!r}: a file is '/name' with 1-32 of a-z 0-9 _ . - (one directory)"
        )
    return path


def _lock_name(lock: Any) -> str:
    if lock == ROOT:
        return ROOT
    return check_path(lock)


class FrangipaniService:
    """Disk blocks, per-workstation logs, locks and epochs (see the module docstring)."""

    def __init__(self) -> None:
        self.blocks: dict[str, list[Any]] = {ROOT: [0, []]}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        # lock -> {"mode": "r"|"w"|None, "holders": [ws...], "queue": [[ws, mode]...]}
        self.locks: dict[str, dict[str, Any]] = {}
        self.revoking: dict[str, list[str]] = {}  # ws -> locks it is asked to give back
        self.epochs: dict[str, int] = {}
        self.renews: dict[str, int] = {}  # ws -> how many commands heard (the lease keeper's pulse)
        self.recoveries = 0
        self.lock_messages = 0  # acquire + release commands applied (for the benchmark)

    # ----- the state machine interface -------------------------------------------------

    def apply(self, command: Any) -> dict[str, Any]:
        """Apply one command; a bad one answers ``{"error": ...}`` and changes nothing."""
        if not isinstance(command, dict):
            return {"error": f"a command is a map, not {type(command).__name__}"}
        op = command.get("op")
        handler = getattr(self, f"_cmd_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return {"error": f"unknown command {op!r}"}
        ws = command.get("ws")
        if not isinstance(ws, str) or not ws:
            return {"error": "a command names its workstation ('ws')"}
        if op not in ("hello", "recover"):
            if command.get("epoch") != self.epochs.get(ws):
                return {"error": "expired", "epoch": self.epochs.get(ws)}
            self.renews[ws] = self.renews.get(ws, 0) + 1
        try:
            answer: dict[str, Any] = handler(ws, command)
        except (ValueError, TypeError, KeyError) as error:
            return {"error": f"{type(error).__name__}: {error}"}
        answer["revoke"] = list(self.revoking.get(ws, []))
        return answer

    def snapshot(self) -> bytes:
        state = [self.blocks, self.logs, self.locks, self.revoking, self.epochs, self.renews]
        state += [self.recoveries, self.lock_messages]
        return msgpack.packb(state, use_bin_type=True)

    def restore(self, data: bytes) -> None:
        state = msgpack.unpackb(data, raw=False, strict_map_key=False)
        (self.blocks, self.logs, self.locks, self.revoking, self.epochs, self.renews) = state[:6]
        self.recoveries, self.lock_messages = state[6], state[7]

    def query(self, request: Any = None) -> Any:
        """A local read for panels and the lease keeper: ``"leases"`` or the whole state."""
        if request == "leases":
            return {"renews": dict(self.renews), "epochs": dict(self.epochs)}
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "blocks": {key: list(block) for key, block in self.blocks.items()},
            "logs": {ws: len(entries) for ws, entries in self.logs.items()},
            "locks": {
                name: {
                    "mode": lock["mode"],
                    "holders": list(lock["holders"]),
                    "queue": [list(waiter) for waiter in lock["queue"]],
                }
                for name, lock in self.locks.items()
                if lock["holders"] or lock["queue"]
            },
            "revoking": {ws: list(locks) for ws, locks in self.revoking.items() if locks},
            "epochs": dict(self.epochs),
            "recoveries": self.recoveries,
        }

    # ----- commands ----------------------------------------------------------------------

    def _cmd_hello(self, ws: str, command: dict[str, Any]) -> dict[str, Any]:
        """A workstation (re)starts: recover its previous incarnation first, then a new epoch."""
        if ws in self.epochs:
            self.recover(ws)
        self.epochs[ws] = self.epochs.get(ws, 0) + 1
        self.renews[ws] = self.renews.get(ws, 0) + 1
        return {"epoch": self.epochs[ws]}

    def _cmd_renew(self, ws: str, command: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _cmd_acquire(self, ws: str, command: dict[str, Any]) -> dict[str, Any]:
        """Grant ``lock`` in ``mode`` ("r" or "w") with its block, or queue and revoke."""
        name = _lock_name(command.get("lock"))
        mode = command.get("mode")
        if mode not in ("r", "w"):
            raise ValueError(f"mode is 'r' or 'w', not {mode!r}")
        self.lock_messages += 1
        lock = self.locks.setdefault(name, {"mode": None, "holders": [], "queue": []})
        if ws in lock["holders"] and (lock["mode"] == "w" or mode == "r"):
            return {"granted": True, "block": list(self._block(name))}
        waiter = [ws, mode]
        if waiter not in lock["queue"]:
            lock["queue"].append(waiter)
        if lock["queue"][0] == waiter and self._compatible(lock, ws, mode):
            lock["queue"].pop(0)
            if ws not in lock["holders"]:
                lock["holders"].append(ws)
            lock["mode"] = "w" if mode == "w" else (lock["mode"] or "r")
            return {"granted": True, "block": list(self._block(name))}
        # Someone else holds it in a conflicting mode: ask them to give it back.
        for holder in lock["holders"]:
            if holder != ws and name not in self.revoking.setdefault(holder, []):
                self.revoking[holder].append(name)
        return {"granted": False}

    def _cmd_log(self, ws: str, command: dict[str, Any]) -> dict[str, Any]:
        """Append entries to the workstation's log on the disk (first step of write-back)."""
        entries = command.get("entries")
        if not isinstance(entries, list):
            raise ValueError("entries is a list")
        log = self.logs.setdefault(ws, [])
        known = {entry["seq"] for entry in log}
        for entry in entries:
            _check_entry(entry)
            if entry["seq"] not in known:  # a retried append is not appended twice
                log.append(entry)
        return {"logged": len(log)}

    def _cmd_release(self, ws: str, command: dict[str, Any]) -> dict[str, Any]:
        """Write the given blocks (write-back), then release ``locks``; trim the log up to
        ``trim`` (entries all of whose blocks are on the disk)."""
        blocks = command.get("blocks", {})
        if not isinstance(blocks, dict):
            raise ValueError("blocks is a map key -> [version, value]")
        for key, block in blocks.items():
            self._check_holds(ws, _lock_name(key), "w")
            self._write(key, block)
        for name in command.get("locks", []):
            self.lock_messages += 1
            self._release(ws, _lock_name(name))
        trim = command.get("trim")
        if isinstance(trim, int):
            self.logs[ws] = [e for e in self.logs.get(ws, []) if e["seq"] > trim]
        return {"released": True}

    def _cmd_recover(self, ws: str, command: dict[str, Any]) -> dict[str, Any]:
        """The recovery service: the lease of ``ws`` at ``epoch`` expired."""
        if command.get("epoch") != self.epochs.get(ws):
            return {"recovered": False}
        self.recover(ws)
        return {"recovered": True}

    # ----- recovery: three steps, in this order ----------------------------------------

    def recover(self, ws: str) -> None:
        """Take the locks of ``ws``, replay its log, and only then release them."""
        had_work = bool(self.logs.get(ws)) or any(
            ws in lock["holders"] for lock in self.locks.values()
        )
        held = self.take_locks(ws)
        self.replay(self.logs.get(ws, []))
        self.logs[ws] = []
        self.release_locks(held)
        self.epochs[ws] = self.epochs.get(ws, 0) + 1  # its old commands are refused from now
        self.revoking.pop(ws, None)
        self.recoveries += had_work  # a workstation with no locks and no log costs nothing

    def take_locks(self, ws: str) -> list[str]:
        """Hand every lock ``ws`` holds to the recovery service (the holder ``"recovery"``)."""
        held = []
        for name, lock in self.locks.items():
            lock["queue"] = [w for w in lock["queue"] if w[0] != ws]
            if ws in lock["holders"] and lock["mode"] == "w":  # one writer: it is alone
                lock["holders"] = ["recovery"]
                held.append(name)
            elif ws in lock["holders"]:  # a reader among readers has nothing to replay
                self._release(ws, name)
        return held

    def replay(self, entries: list[dict[str, Any]]) -> None:
        """Redo each logged block whose version is newer than the disk's."""
        for entry in entries:
            for key, block in entry["blocks"].items():
                if block[0] > self._block(key)[0]:
                    self.blocks[key] = list(block)

    def release_locks(self, held: list[str]) -> None:
        for name in held:
            self._release("recovery", name)

    # ----- helpers ---------------------------------------------------------------------

    def _block(self, key: str) -> list[Any]:
        return self.blocks.get(key, [0, None])

    def _write(self, key: str, block: Any) -> None:
        if not (isinstance(block, list) and len(block) == 2 and type(block[0]) is int):
            raise ValueError(f"a block is [version, value], not {block!r}")
        if block[0] > self._block(key)[0]:
            self.blocks[key] = list(block)

    def _compatible(self, lock: dict[str, Any], ws: str, mode: str) -> bool:
        others = [h for h in lock["holders"] if h != ws]
        if not others:
            return True
        return mode == "r" and lock["mode"] == "r"

    def _check_holds(self, ws: str, name: str, mode: str) -> None:
        lock = self.locks.get(name)
        if lock is None or ws not in lock["holders"] or (mode == "w" and lock["mode"] != "w"):
            raise ValueError(f"{ws} writes {name} without holding its write lock")

    def _release(self, ws: str, name: str) -> None:
        lock = self.locks.get(name)
        if lock is not None and ws in lock["holders"]:
            lock["holders"].remove(ws)
            # Whoever is left shares the lock: only readers ever share.
            lock["mode"] = "r" if lock["holders"] else None
        if ws in self.revoking and name in self.revoking[ws]:
            self.revoking[ws].remove(name)


def _check_entry(entry: Any) -> None:
    if not (isinstance(entry, dict) and type(entry.get("seq")) is int):
        raise ValueError(f"a log entry is {{'seq': int, 'blocks': {{...}}}}, not {entry!r}")
    blocks = entry.get("blocks")
    if not isinstance(blocks, dict):
        raise ValueError("a log entry's blocks is a map")
    for key, block in blocks.items():
        _lock_name(key)
        if not (isinstance(block, list) and len(block) == 2 and type(block[0]) is int):
            raise ValueError(f"a block is [version, value], not {block!r}")
