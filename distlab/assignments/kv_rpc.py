"""Assignment 2 (RPC): the checks for a learner's at-most-once key/value server.

What it is: the learner writes a class with four methods, served over real
sockets by a `distlab.rpc.Server` whose network drops and duplicates messages:

- ``get(key) -> str`` ("" for a missing key; reads are safe to repeat);
- ``put(client_id, seq, key, value) -> str`` (returns "");
- ``append(client_id, seq, key, value) -> str`` (returns the value *before* the append);
- ``remembered() -> int`` (how many replies it keeps for spotting repeats).

A `Clerk` (given, not written by the learner) numbers its requests and resends
the same ``(client_id, seq)`` after every timeout, like the 6.824 KV server lab.
A retried append must be applied once, and must get the same answer as the
first attempt. `check_kv_server(KVServer)` runs five checks and returns a `Verdict`.

Why the verdict is deterministic although timing is not: a correct server gives
the same answers whatever the network loses (the checks only print facts such as
"each append applied exactly once"); which messages are lost comes from a seeded
`FaultPolicy`, and a wrong server fails on essentially every run.
What it must never do: leave a server, client or thread running; every check
closes what it opened, even when the learner's code raises.
Where it fits: notebooks/assignments/source/02_kv_rpc.ipynb; chapter 03 (RPC)
explains at-most-once with the library's own duplicate table.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from distlab.assignments.verdict import Verdict, run_checks
from distlab.rpc import Client, ConnectionLost, FaultPolicy, RpcTimeout, Server

__all__ = ["Clerk", "KVServerLike", "check_kv_server"]

ATTEMPT_TIMEOUT_S = 0.05
CALL_DEADLINE_S = 20.0
_TOKEN = re.compile(r"\[(c\d+):(\d+)\]")


class KVServerLike(Protocol):
    """What the learner's server must offer."""

    def get(self, key: str) -> str: ...

    def put(self, client_id: str, seq: int, key: str, value: str) -> str: ...

    def append(self, client_id: str, seq: int, key: str, value: str) -> str: ...

    def remembered(self) -> int: ...


class Clerk:
    """A client that retries until it gets an answer, with one (client_id, seq) per request."""

    def __init__(self, address: tuple[str, int], client_id: str, policy: FaultPolicy) -> None:
        self.client_id = client_id
        self.seq = 0
        self.attempts = 0
        self._client = Client(address, name=client_id, policy=policy)

    def _call(self, method: str, *args: Any) -> Any:
        deadline = time.monotonic() + CALL_DEADLINE_S
        while True:
            self.attempts += 1
            try:
                return self._client.call(method, *args, timeout=ATTEMPT_TIMEOUT_S)
            except (RpcTimeout, ConnectionLost):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{method} got no answer within {CALL_DEADLINE_S:.0f} s of retries"
                    ) from None

    def get(self, key: str) -> str:
        return self._call("KV.get", key)

    def put(self, key: str, value: str) -> str:
        self.seq += 1
        return self._call("KV.put", self.client_id, self.seq, key, value)

    def append(self, key: str, value: str) -> str:
        self.seq += 1
        return self._call("KV.append", self.client_id, self.seq, key, value)

    def close(self) -> None:
        self._client.close()


class _Rig:
    """One server (the learner's class behind a faulty network) and its clerks."""

    def __init__(self, server_cls: Callable[[], KVServerLike], seed: int, **faults: float) -> None:
        self.kv = server_cls()
        self.policy = FaultPolicy(seed=seed)
        self.server = Server(name="kv", policy=self.policy)
        self.server.register(self.kv, name="KV")
        self.server.start()
        self.clerks: list[Clerk] = []
        self.faults = faults

    def clerk(self) -> Clerk:
        clerk = Clerk(self.server.address, f"c{len(self.clerks)}", self.policy)
        self.clerks.append(clerk)
        return clerk

    def faulty(self) -> None:
        self.policy.set(**self.faults)

    def reliable(self) -> None:
        self.policy.set(drop_request=0.0, drop_reply=0.0, duplicate=0.0, reorder=0.0)

    def close(self) -> None:
        for clerk in self.clerks:
            clerk.close()
        self.server.close()

    def __enter__(self) -> _Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _basics(server_cls: Callable[[], KVServerLike]) -> None:
    with _Rig(server_cls, seed=1) as rig:
        clerk = rig.clerk()
        assert clerk.get("x") == "", f'get of a missing key should be "", got {clerk.get("x")!r}'
        clerk.put("x", "a")
        assert clerk.get("x") == "a", f"after put(x, a): get(x) = {clerk.get('x')!r}"
        old = clerk.append("x", "b")
        assert old == "a", f"append(x, b) should return the old value 'a', got {old!r}"
        assert clerk.get("x") == "ab", f"after append(x, b): get(x) = {clerk.get('x')!r}"
        old = clerk.append("y", "z")
        assert old == "", f"append to a missing key should return '', got {old!r}"
        clerk.put("x", "c")
        assert clerk.get("x") == "c", f"after put(x, c): get(x) = {clerk.get('x')!r}"


def _verify_appends(final: str, answers: dict[str, str], clients: int, per_client: int) -> None:
    """Each token once, each clerk's tokens in order, each answer the value just before it."""
    tokens = _TOKEN.findall(final)
    counts = Counter(f"[{c}:{n}]" for c, n in tokens)
    repeated = [token for token, count in counts.items() if count > 1]
    assert not repeated, (
        f"{repeated[0]} was applied {counts[repeated[0]]} times (a retry ran again)"
    )
    expected = {f"[c{c}:{n}]" for c in range(clients) for n in range(per_client)}
    missing = sorted(expected - set(counts))
    assert not missing, f"{missing[0]} was never applied ({len(missing)} appends lost)"
    for client in range(clients):
        order = [int(n) for c, n in tokens if c == f"c{client}"]
        assert order == sorted(order), f"c{client}'s appends were applied out of order"
    for token, old in answers.items():
        position = final.index(token)
        assert old == final[:position], (
            f"append of {token} answered {old[-24:]!r}... but the value before it was "
            f"{final[:position][-24:]!r}...: a retry must get the first attempt's answer"
        )


def _one_clerk(server_cls: Callable[[], KVServerLike], seed: int, **faults: float) -> None:
    with _Rig(server_cls, seed=seed, **faults) as rig:
        clerk = rig.clerk()
        rig.faulty()
        answers = {}
        for n in range(30):
            token = f"[c0:{n}]"
            answers[token] = clerk.append("k", token)
        rig.reliable()
        _verify_appends(clerk.get("k"), answers, clients=1, per_client=30)
        assert clerk.attempts > 31, "the network lost nothing: the check proved nothing"


def _concurrent(server_cls: Callable[[], KVServerLike]) -> int:
    """Four clerks append to one key at once over a lossy network; returns remembered()."""
    clients, per_client = 4, 15
    with _Rig(server_cls, seed=4, drop_request=0.2, drop_reply=0.3, duplicate=0.3) as rig:
        clerks = [rig.clerk() for _ in range(clients)]
        rig.faulty()
        answers: dict[str, str] = {}
        errors: list[Exception] = []

        def run(clerk: Clerk) -> None:
            try:
                for n in range(per_client):
                    token = f"[{clerk.client_id}:{n}]"
                    answers[token] = clerk.append("k", token)
            except Exception as error:  # reported below, from the checking thread
                errors.append(error)

        threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clerks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CALL_DEADLINE_S * 2)
        if errors:
            raise errors[0]
        assert not any(t.is_alive() for t in threads), "clerks still running: a handler hangs"
        rig.reliable()
        _verify_appends(clerks[0].get("k"), answers, clients, per_client)
        return rig.kv.remembered()


def _memory(server_cls: Callable[[], KVServerLike]) -> None:
    with _Rig(server_cls, seed=5, drop_reply=0.2) as rig:
        clerks = [rig.clerk() for _ in range(3)]
        rig.faulty()
        for n in range(40):
            for clerk in clerks:
                clerk.append(f"k{n % 5}", f"[{clerk.client_id}:{n}]")
        remembered = rig.kv.remembered()
        assert isinstance(remembered, int), f"remembered() must return an int, not {remembered!r}"
        assert remembered <= 3, (
            f"after 120 appends by 3 clerks the server remembers {remembered} replies; "
            "one per clerk is enough (a clerk sends its next request only after an answer)"
        )


def check_kv_server(server_cls: Callable[[], KVServerLike]) -> Verdict:
    """Run all five checks against ``server_cls`` (instantiated once per check)."""
    return run_checks(
        "Assignment 2: an at-most-once key/value server",
        [
            (
                "reliable network: put, get, append returns the old value",
                lambda: _basics(server_cls),
            ),
            (
                "30 appends, 40% of replies dropped: each applied exactly once",
                lambda: _one_clerk(server_cls, seed=2, drop_reply=0.4),
            ),
            (
                "requests dropped, duplicated, delayed: still exactly once",
                lambda: _one_clerk(
                    server_cls, seed=3, drop_request=0.2, drop_reply=0.3, duplicate=0.4, reorder=0.3
                ),
            ),
            (
                "4 clerks at once on one key: exactly once, each clerk in order",
                lambda: _concurrent(server_cls),
            ),
            ("memory: at most one remembered reply per clerk", lambda: _memory(server_cls)),
        ],
    )
