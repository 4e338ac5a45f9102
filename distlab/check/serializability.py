"""Serializability of transactional histories, in the spirit of Jepsen's Elle.

What it is: a checker for histories of transactions, each a list of micro-operations on keys,
that builds a *dependency graph* between committed transactions and looks for cycles. A
history is serializable (可串行化) when some serial order of its committed transactions
explains every read; a cycle in the graph proves that no such order exists, and the kind of
edges in the cycle names the anomaly (Adya's classes, as Elle reports them):

- **ww** (write-write): T1 installed a version of k, T2 installed the next one.
- **wr** (write-read): T2 read the version of k that T1 installed.
- **rw** (read-write, an *anti-dependency*): T1 read a version of k, T2 installed the next one.

| class | what it means |
| --- | --- |
| G0  | a cycle of ww edges only: "dirty writes" interleaved |
| G1a | a committed transaction read a value written by an aborted transaction |
| G1b | a committed transaction read a value its writer later overwrote (an intermediate value) |
| G1c | a cycle of ww and wr edges: circular information flow |
| G2  | a cycle with at least one rw edge: e.g. a lost update or write skew |

Two workloads, because the version order of a key is what the graph needs and only some
workloads reveal it:

- **list-append** (Elle's favourite): a write appends a unique value to a list, a read returns
  the whole list, so the longest read of a key *is* the key's version order.
- **read/write registers with unique values**: a read names the unique value it saw. The
  version order is only known where a transaction read a key and then wrote it (a
  read-modify-write, as every bank transfer does): its version directly follows the one it
  read. A key whose versions cannot be ordered this way makes the verdict **unknown** for
  that key, not "serializable".

Transactions whose outcome is unknown (the client timed out: *indefinite*) may have
committed: their writes can explain reads, and they join the graph only if someone read them.
What it must never do: call a history serializable that brute force proves is not (tested in
tests/check/test_serializability.py against `brute_force_serializable` on small histories).
Where it fits: `distlab.txn` records its bank transfers as register histories; the notebook
of chapter 15 shows the anomalies named here when locks are released early.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Anomaly",
    "SerializabilityResult",
    "Txn",
    "brute_force_serializable",
    "check_serializable",
]

Status = Literal["ok", "fail", "info"]
EdgeKind = Literal["ww", "wr", "rw"]


@dataclass(frozen=True)
class Txn:
    """One transaction of a history.

    ``ops`` are micro-operations: ``("append", key, value)`` and ``("r", key, [values])`` for
    list-append; ``("w", key, value)`` and ``("r", key, value)`` for registers (``None`` is
    the initial value). ``status``: ``"ok"`` committed, ``"fail"`` definitely aborted,
    ``"info"`` unknown (may have committed)."""

    id: Hashable
    ops: tuple[tuple[Any, ...], ...]
    status: Status = "ok"


@dataclass(frozen=True)
class Anomaly:
    """One anomaly: its class (G0, G1a, G1b, G1c, G2), the transactions in it, and why."""

    kind: str
    txns: tuple[Hashable, ...]
    explanation: str


@dataclass
class SerializabilityResult:
    """The verdict: ``"serializable"``, ``"not serializable"`` or ``"unknown"``."""

    verdict: str
    anomalies: list[Anomaly] = field(default_factory=list)
    unknown_keys: list[Hashable] = field(default_factory=list)
    edges: int = 0
    transactions: int = 0

    @property
    def classes(self) -> list[str]:
        """The anomaly classes found, sorted (e.g. ``["G2"]``)."""
        return sorted({anomaly.kind for anomaly in self.anomalies})

    def explain(self) -> str:
        """The verdict in words, one line per anomaly."""
        lines = [f"{self.verdict} ({self.transactions} transactions, {self.edges} edges)"]
        lines += [f"  {a.kind}: {a.explanation}" for a in self.anomalies]
        if self.unknown_keys:
            keys = ", ".join(map(str, self.unknown_keys[:5]))
            lines.append(f"  unknown: the version order of {keys} cannot be recovered")
        return "\n".join(lines)


class _Graph:
    def __init__(self) -> None:
        self.edges: dict[Hashable, dict[Hashable, set[EdgeKind]]] = defaultdict(dict)
        self.count = 0

    def add(self, a: Hashable, b: Hashable, kind: EdgeKind) -> None:
        if a == b:
            return
        kinds = self.edges[a].setdefault(b, set())
        if kind not in kinds:
            kinds.add(kind)
            self.count += 1

    def cycle(self, allowed: set[str]) -> list[Hashable] | None:
        """A shortest cycle using only edges of the allowed kinds, or None (BFS from each
        node of the graph: fine for the histories of a lecture)."""
        best: list[Hashable] | None = None
        for start in sorted(self.edges, key=repr):
            parents: dict[Hashable, Hashable] = {}
            queue = deque([start])
            seen = {start}
            while queue:
                node = queue.popleft()
                for nxt, kinds in self.edges.get(node, {}).items():
                    if not kinds & allowed:
                        continue
                    if nxt == start:
                        path = [node]
                        while path[-1] != start:
                            path.append(parents[path[-1]])
                        path.reverse()
                        if best is None or len(path) < len(best):
                            best = path
                        queue.clear()
                        break
                    if nxt not in seen:
                        seen.add(nxt)
                        parents[nxt] = node
                        queue.append(nxt)
        return best

    def kinds_on(self, cycle: list[Hashable], allowed: set[str]) -> set[str]:
        pairs = zip(cycle, cycle[1:] + cycle[:1], strict=True)
        return {kind for a, b in pairs for kind in self.edges[a][b] & allowed}

    def path(self, start: Hashable, goal: Hashable) -> list[Hashable] | None:
        """A shortest path start .. goal over edges of any kind (BFS)."""
        parents: dict[Hashable, Hashable] = {}
        queue, seen = deque([start]), {start}
        while queue:
            node = queue.popleft()
            if node == goal:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1]
            for nxt in self.edges.get(node, {}):
                if nxt not in seen:
                    seen.add(nxt)
                    parents[nxt] = node
                    queue.append(nxt)
        return None

    def cycle_through_rw(self) -> list[Hashable] | None:
        """A shortest cycle with at least one rw edge (an anti-dependency), or None."""
        best: list[Hashable] | None = None
        for a in sorted(self.edges, key=repr):
            for b, kinds in self.edges[a].items():
                if "rw" in kinds:
                    back = self.path(b, a)
                    if back is not None and (best is None or len(back) < len(best)):
                        best = back[-1:] + back[:-1]
        return best

    def describe(self, cycle: list[Hashable], allowed: set[str]) -> str:
        steps = []
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            kinds = sorted(self.edges[a][b] & allowed)
            steps.append(f"T{a} -{'/'.join(kinds)}-> T{b}")
        return ", ".join(steps) + " (a cycle: no serial order puts each before the next)"


def check_serializable(txns: Iterable[Txn]) -> SerializabilityResult:
    """Check a history of list-append or register transactions (see the module docstring)."""
    history = list(txns)
    anomalies: list[Anomaly] = []
    unknown: list[Hashable] = []
    graph = _Graph()
    writer: dict[tuple[Hashable, Any], Txn] = {}  # (key, value) -> the transaction writing it
    final_write: dict[tuple[Hashable, Any], bool] = {}  # was it its writer's last write of key
    for txn in history:
        last: dict[Hashable, Any] = {}
        for op in txn.ops:
            if op[0] in ("append", "w"):
                writer[(op[1], op[2])] = txn
                last[op[1]] = op[2]
        for op in txn.ops:
            if op[0] in ("append", "w"):
                final_write[(op[1], op[2])] = last[op[1]] == op[2] or op[0] == "append"
    committed = [t for t in history if t.status == "ok"]
    is_append = _is_append(history)

    # G1a and G1b: what committed transactions read.
    for txn in committed:
        for op in txn.ops:
            if op[0] != "r":
                continue
            seen = op[2] if is_append else [op[2]]
            for value in seen or []:
                if value is None:
                    continue
                source = writer.get((op[1], value))
                if source is None:
                    anomalies.append(
                        Anomaly(
                            "G1a",
                            (txn.id,),
                            f"T{txn.id} read {op[1]}={value!r}, "
                            "which no transaction wrote (garbage)",
                        )
                    )
                elif source.status == "fail":
                    anomalies.append(
                        Anomaly(
                            "G1a",
                            (txn.id, source.id),
                            f"T{txn.id} read {op[1]}="
                            f"{value!r}, written by T{source.id}, which aborted",
                        )
                    )
            if not is_append and op[2] is not None:
                source = writer.get((op[1], op[2]))
                if source is not None and source is not txn and not final_write[(op[1], op[2])]:
                    anomalies.append(
                        Anomaly(
                            "G1b",
                            (txn.id, source.id),
                            f"T{txn.id} read {op[1]}="
                            f"{op[2]!r}, an intermediate value T{source.id} overwrote",
                        )
                    )

    # Version orders, then ww / wr / rw edges.
    if is_append:
        successors = _append_successors(history, anomalies)
    else:
        successors, unknown = _register_successors(history)
    for txn in committed:
        for op in txn.ops:
            if op[0] != "r":
                continue
            key = op[1]
            seen_last = (op[2][-1] if op[2] else None) if is_append else op[2]
            if seen_last is not None:
                source = writer.get((key, seen_last))
                if source is not None and source.status != "fail":
                    graph.add(source.id, txn.id, "wr")
            for value in successors.get(key, {}).get(seen_last, []):
                graph.add(txn.id, writer[(key, value)].id, "rw")
    for key, follows in successors.items():
        for before, afters in follows.items():
            for value in afters:
                if before is not None:
                    graph.add(writer[(key, before)].id, writer[(key, value)].id, "ww")

    for kinds, name in (({"ww"}, "G0"), ({"ww", "wr"}, "G1c")):
        cycle = graph.cycle(kinds)
        if cycle is not None and (name == "G0" or "wr" in graph.kinds_on(cycle, kinds)):
            anomalies.append(Anomaly(name, tuple(cycle), graph.describe(cycle, kinds)))
    cycle = graph.cycle_through_rw()
    if cycle is not None:
        anomalies.append(Anomaly("G2", tuple(cycle), graph.describe(cycle, {"ww", "wr", "rw"})))
    if anomalies:
        verdict = "not serializable"
    elif unknown:
        verdict = "unknown"
    else:
        verdict = "serializable"
    return SerializabilityResult(verdict, anomalies, unknown, graph.count, len(committed))


def _append_successors(
    history: list[Txn], anomalies: list[Anomaly]
) -> dict[Any, dict[Any, list[Any]]]:
    """Each key's version order is its longest read (checked against every other read); the
    version after value v is the next element (after None, the empty list: the first)."""
    longest: dict[Hashable, list[Any]] = {}
    for txn in history:
        if txn.status != "ok":
            continue
        for op in txn.ops:
            if op[0] == "r":
                values = list(op[2] or [])
                known = longest.get(op[1], [])
                if len(values) > len(known):
                    known, values = values, known
                    longest[op[1]] = known
                if known[: len(values)] != values:
                    anomalies.append(
                        Anomaly(
                            "G1c",
                            (txn.id,),
                            f"reads of {op[1]} disagree on "
                            f"its order: {values} is no prefix of {known}",
                        )
                    )
    return {
        key: {before: [after] for before, after in zip([None, *order], order, strict=False)}
        for key, order in longest.items()
    }


def _register_successors(history: list[Txn]) -> tuple[dict[Any, dict[Any, list[Any]]], list[Any]]:
    """Registers: the version a transaction wrote directly follows the one it read first
    (read-modify-write). Several successors of one version are a lost update waiting to be
    seen as a cycle. A key with a write that follows no read cannot be ordered: unknown."""
    follows: dict[Hashable, dict[Any, list[Any]]] = defaultdict(lambda: defaultdict(list))
    unplaced: set[Hashable] = set()
    for txn in history:
        if txn.status == "fail":
            continue
        read_first: dict[Hashable, Any] = {}
        written: set[Hashable] = set()
        for op in txn.ops:
            if op[0] == "r" and op[1] not in read_first and op[1] not in written:
                read_first[op[1]] = op[2]
            elif op[0] == "w":
                if op[1] in written:
                    continue  # a later write of the same key: an intermediate value before it
                written.add(op[1])
                if op[1] in read_first:
                    follows[op[1]][read_first[op[1]]].append(op[2])
                else:
                    unplaced.add(op[1])
    return {k: dict(v) for k, v in follows.items()}, sorted(unplaced, key=repr)


def brute_force_serializable(txns: Sequence[Txn]) -> bool:
    """True if some serial order of the committed transactions (plus any subset of the
    unknown ones) explains every committed read. Exponential: small histories only."""
    committed = [t for t in txns if t.status == "ok"]
    maybe = [t for t in txns if t.status == "info"]
    is_append = _is_append(txns)
    for size in range(len(maybe) + 1):
        for extra in itertools.combinations(maybe, size):
            for order in itertools.permutations(committed + list(extra)):
                if _explains(order, is_append):
                    return True
    return False


def _is_append(history: Sequence[Txn]) -> bool:
    return any(
        op[0] == "append" or (op[0] == "r" and isinstance(op[2], list))
        for txn in history
        for op in txn.ops
    )


def _explains(order: Sequence[Txn], is_append: bool) -> bool:
    state: dict[Hashable, Any] = {}
    for txn in order:
        for op in txn.ops:
            if op[0] == "append":
                state[op[1]] = [*state.get(op[1], []), op[2]]
            elif op[0] == "w":
                state[op[1]] = op[2]
            elif txn.status == "ok":
                now = state.get(op[1], [] if is_append else None)
                if (list(op[2] or []) if is_append else op[2]) != now:
                    return False
    return True
