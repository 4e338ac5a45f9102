"""A tiny deterministic machine, and the log of non-deterministic events that drives it.

What it is: the "virtual machine" that VMware FT replicates, shrunk to a teaching size.
`Machine` interprets a small bytecode over a memory of named cells (a key-value store is
the service it runs). Each instruction executed adds one to its **instruction counter**,
as a real CPU's performance counter does. Given the same inputs at the same instruction
counts, two machines end in the same state, bit for bit: that is what makes a replicated
state machine (复制状态机 replicated state machine) possible.

Its inputs are the non-deterministic events (非确定性事件 non-deterministic events) a
real machine meets:

- a client's request (a network packet arriving);
- a timer interrupt, which fires at whatever instruction the CPU happens to be on;
- a clock read (``CLOCK``) and a random number (``RANDOM``): instructions whose result
  differs from machine to machine.

A primary records each event as a `LogEntry` with its position (the instruction count);
a backup replays the log, running idle instructions until it reaches each entry's
position. The machine reads clock and random numbers through an `Environment`: on the
primary a live one whose readings are logged, on the backup one that hands back the
logged readings.

Everything the machine knows -- the client table of at-most-once answers included -- lives
in its memory cells plus the instruction counter, so "ship the changed cells" is all that
state transfer (状态转移 state transfer) needs (`Machine.take_dirty`).

What it must never do: read the wall clock or the global random module itself.
Where it fits: under `distlab.primary_backup.replica`, which ships the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "HANDLER_READS",
    "OPS",
    "Environment",
    "LogEntry",
    "Machine",
    "MachineError",
    "ReplayEnvironment",
    "StateDiff",
    "compile_request",
]

OPS = ("put", "get", "append")
ENTRY_KINDS = ("request", "interrupt", "clock", "random", "state")

#: The timer interrupt's handler reads the clock, then a random number: two logged values.
HANDLER_READS = ("clock", "random")

#: Cells the machine itself uses; a client's key may not start with this.
SYSTEM_PREFIX = "_"


class MachineError(ValueError):
    """A request the machine cannot run (unknown operation, a reserved key, bad types)."""


@dataclass(frozen=True)
class LogEntry:
    """One event on the logging channel (日志通道 logging channel), at its position.

    ``kind`` is "request" (client, seq, op, key, value), "interrupt" (a timer interrupt),
    "clock" or "random" (a reading, in ``number``), or -- in state transfer -- "state"
    (``changes``: the memory cells the operation changed, with their new values).
    ``at_instruction`` is the primary's instruction counter when the event happened.
    """

    index: int
    at_instruction: int
    kind: str
    client: str = ""
    seq: int = 0
    op: str = ""
    key: str = ""
    value: str = ""
    number: int = 0
    changes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ENTRY_KINDS:
            raise MachineError(f"log entry kind must be one of {ENTRY_KINDS}, got {self.kind!r}")
        if self.index < 1 or self.at_instruction < 0 or self.seq < 0:
            raise MachineError(
                f"log entry {self.index}: index must be >= 1, at_instruction and seq >= 0"
            )


class Environment(Protocol):
    """Where ``CLOCK`` and ``RANDOM`` get their values."""

    def clock(self) -> int: ...

    def random(self) -> int: ...


class ReplayEnvironment:
    """The backup's environment: the readings the primary logged, in order."""

    def __init__(self, readings: Iterator[LogEntry]) -> None:
        self._readings = readings

    def _next(self, kind: str) -> int:
        entry = next(self._readings)
        if entry.kind != kind:
            raise MachineError(f"replay expected a {kind} reading, the log has {entry.kind}")
        return entry.number

    def clock(self) -> int:
        return self._next("clock")

    def random(self) -> int:
        return self._next("random")


Instruction = tuple[str, str]


def compile_request(op: str, key: str, value: str) -> list[Instruction]:
    """The bytecode of one client request (a learner can print it)."""
    if op not in OPS:
        raise MachineError(f"unknown operation {op!r}; the machine runs {', '.join(OPS)}")
    if not isinstance(key, str) or not isinstance(value, str):
        raise MachineError("key and value must be strings")
    if not key or key.startswith(SYSTEM_PREFIX):
        raise MachineError(f"key {key!r} is empty or reserved (keys starting with '_')")
    # A write replies with nothing (as 6.824's Put and Append): the client table keeps
    # every client's last reply, and a reply the size of the value would be costly to keep.
    if op == "put":
        return [("LOAD", value), ("STORE", key), ("LOAD", ""), ("REPLY", "")]
    if op == "append":
        return [("FETCH", key), ("CONCAT", value), ("STORE", key), ("LOAD", ""), ("REPLY", "")]
    return [("FETCH", key), ("REPLY", "")]


#: The timer interrupt handler: count it, note where the CPU was (so *when* it fires shows
#: in the state, as it does in a real program), read the clock and a random number.
INTERRUPT_HANDLER: list[Instruction] = [
    ("FETCH", "_interrupts"),
    ("INCREMENT", ""),
    ("STORE", "_interrupts"),
    ("WHERE", ""),
    ("STORE", "_interrupted_at"),
    ("CLOCK", ""),
    ("STORE", "_clock"),
    ("RANDOM", ""),
    ("STORE", "_random"),
]


@dataclass(frozen=True)
class StateDiff:
    """Where two machines differ: ``cells`` maps a name to (mine, theirs)."""

    cells: dict[str, tuple[str | None, str | None]]

    def __bool__(self) -> bool:
        return bool(self.cells)

    def __str__(self) -> str:
        if not self.cells:
            return "identical"
        return "\n".join(
            f"{name:>14}: {mine!s:>12}  vs  {theirs!s:<12}"
            for name, (mine, theirs) in sorted(self.cells.items())
        )


class Machine:
    """The interpreter (see the module docstring). Deterministic given its inputs."""

    def __init__(self) -> None:
        self.memory: dict[str, str] = {}
        self.instructions = 0
        self._accumulator = ""
        self._dirty: set[str] = set()

    # -- running ------------------------------------------------------------------------

    def idle(self, until_instruction: int) -> None:
        """Run the idle loop (no-ops) until the counter reaches ``until_instruction``."""
        if until_instruction < self.instructions:
            raise MachineError(
                f"cannot idle back to instruction {until_instruction}: the machine is "
                f"already at {self.instructions} (the replica has diverged)"
            )
        self.instructions = until_instruction

    def request(self, client: str, seq: int, op: str, key: str, value: str, index: int) -> str:
        """Run one client request (log position ``index``) and return its output.

        The client table lives in memory (cell ``_session/<client>``): a request whose
        seq the machine has already run returns the stored output without running again
        (at-most-once), so a duplicate from a retrying client changes nothing.
        """
        program = compile_request(op, key, value)
        session = f"{SYSTEM_PREFIX}session/{client}"
        seen = self.memory.get(session)
        if seen is not None:
            last_seq, _index, output = seen.split("|", 2)
            if seq <= int(last_seq):
                self.instructions += 1  # the lookup itself
                return output
        output = self._run(program, None)
        self.memory[session] = f"{seq}|{index}|{output}"
        self._dirty.add(session)
        return output

    def interrupt(self, environment: Environment) -> None:
        """The timer interrupt: run its handler (which reads clock and random numbers)."""
        saved = self._accumulator  # a handler saves and restores the registers it uses
        self._run(INTERRUPT_HANDLER, environment)
        self._accumulator = saved

    def _run(self, program: list[Instruction], environment: Environment | None) -> str:
        output = ""
        for opcode, operand in program:
            self.instructions += 1
            if opcode == "LOAD":
                self._accumulator = operand
            elif opcode == "FETCH":
                self._accumulator = self.memory.get(operand, "")
            elif opcode == "CONCAT":
                self._accumulator += operand
            elif opcode == "INCREMENT":
                self._accumulator = str(int(self._accumulator or "0") + 1)
            elif opcode == "WHERE":
                self._accumulator = str(self.instructions)
            elif opcode == "STORE":
                self.memory[operand] = self._accumulator
                self._dirty.add(operand)
            elif opcode == "REPLY":
                output = self._accumulator
            elif opcode == "CLOCK":
                assert environment is not None, "CLOCK needs an environment"
                self._accumulator = str(environment.clock())
            elif opcode == "RANDOM":
                assert environment is not None, "RANDOM needs an environment"
                self._accumulator = str(environment.random())
            else:  # pragma: no cover - compile_request and the handler emit only the above
                raise MachineError(f"unknown opcode {opcode}")
        return output

    # -- state transfer -----------------------------------------------------------------

    def take_dirty(self) -> tuple[tuple[str, str], ...]:
        """The cells changed since the last call, with their values (state transfer's
        payload), and forget them."""
        changes = tuple(sorted((name, self.memory[name]) for name in self._dirty))
        self._dirty.clear()
        return changes

    def install(self, changes: tuple[tuple[str, str], ...], instructions: int) -> None:
        """Apply shipped cells and take the primary's instruction counter."""
        for name, value in changes:
            self.memory[name] = value
        self.instructions = instructions

    # -- looking at it -------------------------------------------------------------------

    def session(self, client: str) -> tuple[int, int, str] | None:
        """The client table's entry: (last seq, its log index, its output), or None."""
        seen = self.memory.get(f"{SYSTEM_PREFIX}session/{client}")
        if seen is None:
            return None
        seq, index, output = seen.split("|", 2)
        return int(seq), int(index), output

    def sessions(self) -> dict[str, tuple[int, int, str]]:
        prefix = f"{SYSTEM_PREFIX}session/"
        found = {}
        for name in self.memory:
            if name.startswith(prefix):
                entry = self.session(name[len(prefix) :])
                assert entry is not None
                found[name[len(prefix) :]] = entry
        return found

    def user_memory(self) -> dict[str, str]:
        """The clients' keys only."""
        return {k: v for k, v in self.memory.items() if not k.startswith(SYSTEM_PREFIX)}

    def digest(self) -> str:
        """A short fingerprint of the whole state: memory and instruction counter."""
        hasher = hashlib.sha256(str(self.instructions).encode())
        for name in sorted(self.memory):
            hasher.update(f"\0{name}\0{self.memory[name]}".encode())
        return hasher.hexdigest()[:12]

    def diff(self, other: Machine) -> StateDiff:
        """Every cell (and the instruction counter) where the two machines differ."""
        cells: dict[str, tuple[str | None, str | None]] = {}
        if self.instructions != other.instructions:
            cells["instructions"] = (str(self.instructions), str(other.instructions))
        for name in sorted(set(self.memory) | set(other.memory)):
            mine, theirs = self.memory.get(name), other.memory.get(name)
            if mine != theirs:
                cells[name] = (mine, theirs)
        return StateDiff(cells)

    def copy(self) -> Machine:
        twin = Machine()
        twin.memory = dict(self.memory)
        twin.instructions = self.instructions
        return twin
