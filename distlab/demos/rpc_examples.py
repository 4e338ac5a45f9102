"""Small RPC experiments for chapter 03: a tiny KV service, timeouts, at-least vs at-most-once.

``KV`` is the Python twin of lecture 2's kv.go (Put/Get behind a lock). ``Ledger`` is a
deliberately non-idempotent service (append a token): running a request twice leaves
a visible duplicate. Each function starts its own Server and Client on 127.0.0.1 (port
0), runs a seeded experiment and closes everything before returning, so a notebook can
re-run it freely.

What it must never do: leave servers or threads running, or print (notebooks print).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass

from distlab.rpc import Client, FaultPolicy, RpcError, Server, TraceEvent, Tracer


class KV:
    """A key/value service, like kv.go: handlers run concurrently, so a lock guards the map."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}

    def put(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``."""
        with self._lock:
            self._data[key] = value

    def get(self, key: str) -> str:
        """The value of ``key`` ("" if absent, as in kv.go)."""
        with self._lock:
            return self._data.get(key, "")


class Ledger:
    """Non-idempotent: ``append`` adds its token every time it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[str] = []

    def append(self, token: str) -> int:
        """Append ``token``; return the ledger's new length."""
        with self._lock:
            self._entries.append(token)
            return len(self._entries)

    def entries(self) -> list[str]:
        """Every token appended so far, in order."""
        with self._lock:
            return list(self._entries)


@dataclass(frozen=True)
class SemanticsResult:
    """Outcome of ``run_semantics``: how many appends ran twice (or more) or never."""

    mode: str
    operations: int
    drop_rate: float
    seed: int
    requests_sent: int
    retries: int
    executions: int
    duplicates: int
    missing: int
    failed_calls: int


def run_semantics(
    mode: str,
    drop_rate: float = 0.3,
    operations: int = 20,
    seed: int = 1,
    timeout: float = 0.05,
    retries: int = 60,
) -> SemanticsResult:
    """Append ``operations`` unique tokens over a lossy network, retrying after timeouts.

    ``mode`` is "at-least-once" (plain retries) or "at-most-once" (retries carry the
    same client id and sequence number; the server's duplicate table runs each once).
    Requests and replies are each dropped with probability ``drop_rate`` (seeded).
    """
    if mode not in ("at-least-once", "at-most-once"):
        raise ValueError(f"mode must be 'at-least-once' or 'at-most-once', not {mode!r}")
    policy = FaultPolicy(seed=seed, drop_request=drop_rate, drop_reply=drop_rate)
    ledger = Ledger()
    failed = 0
    with Server(name="ledger", policy=policy) as server:
        server.register(ledger)
        with Client(
            server.address, name="teller", policy=policy, at_most_once=(mode == "at-most-once")
        ) as client:
            for i in range(operations):
                try:
                    client.call("Ledger.append", f"op{i}", timeout=timeout, retries=retries)
                except RpcError:
                    failed += 1
            stats = client.statistics()
    counts = Counter(ledger.entries())
    return SemanticsResult(
        mode=mode,
        operations=operations,
        drop_rate=drop_rate,
        seed=seed,
        requests_sent=stats.requests_sent,
        retries=stats.retries,
        executions=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values()),
        missing=sum(1 for i in range(operations) if f"op{i}" not in counts),
        failed_calls=failed,
    )


@dataclass(frozen=True)
class TimeoutOutcome:
    """One timed-out call: what the caller saw, and whether the handler actually ran."""

    case: str
    error: str
    definite: bool
    executed: bool


def timeout_outcomes(seed: int = 1) -> list[TimeoutOutcome]:
    """Two calls that both time out: one whose request was lost, one whose reply was lost.

    The caller sees the same timeout, yet only one of them ran on the server.
    """
    outcomes = []
    for case, config in (
        ("request lost", {"drop_request": 1.0}),
        ("reply lost", {"drop_reply": 1.0}),
    ):
        policy = FaultPolicy(seed=seed, **config)
        ledger = Ledger()
        with Server(name="ledger", policy=policy) as server:
            server.register(ledger)
            with Client(server.address, name="teller", policy=policy) as client:
                try:
                    client.call("Ledger.append", "x", timeout=0.2)
                    error, definite = "none", True
                except RpcError as failure:
                    error, definite = type(failure).__name__, failure.definite
        outcomes.append(TimeoutOutcome(case, error, definite, bool(ledger.entries())))
    return outcomes


def traced_calls(seed: int = 3) -> list[TraceEvent]:
    """A few traced calls from two clients, one with a lost reply and a retry.

    Returns the trace (the notebook draws it with ``distlab.viz.message_diagram``).
    """
    tracer = Tracer()
    quiet = FaultPolicy(seed=seed)
    with Server(name="kv", policy=quiet, tracer=tracer) as server:
        server.register(KV())
        with (
            Client(server.address, name="c1", tracer=tracer) as c1,
            Client(server.address, name="c2", tracer=tracer) as c2,
        ):
            c1.call("KV.put", "x", "1", timeout=1.0)
            c2.call("KV.get", "x", timeout=1.0)
            quiet.set(drop_reply=1.0)  # the next reply is lost ...
            with contextlib.suppress(RpcError):
                c1.call("KV.put", "x", "2", timeout=0.1)
            quiet.set(drop_reply=0.0)  # ... the retry gets through
            c1.call("KV.put", "x", "2", timeout=1.0)
            c2.call("KV.get", "x", timeout=1.0)
    return tracer.events()
