"""An unreliable network inside the transport: a seeded policy that drops, delays,
duplicates, reorders and partitions messages by node name (like 6.824's labrpc).

``FaultPolicy.plan(src, dst, message)`` decides the fate of one message and returns the
delays (in seconds) after which copies of it are delivered: ``()`` means lost, one delay
means delivered once, two mean duplicated. The policy holds no sockets and never sleeps;
the client and server act on the plan (a ``DelayLine`` performs delayed sends).

A node's Clients consult its policy for the requests they send, its Server for the
replies it sends, so each process faults only what leaves it. The built-in ``Fault``
service (``FaultControl``) lets another process change the policy at run time.

What it must never do: use the global ``random`` (runs must replay from ``seed``), or
fault traffic to or from an exempt peer (the cluster controller) or the ``Fault``
service itself (otherwise a partition could never be healed).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The client name every policy exempts by default: the cluster controller, which must be
# able to reach a node (to heal a partition, say) whatever the faults in force.
CONTROLLER = "controller"
# The built-in service that changes a node's policy; calls to it are never faulted.
FAULT_SERVICE = "Fault"
FAULT_METHOD_PREFIX = FAULT_SERVICE + "."

_PROBABILITIES = ("drop_request", "drop_reply", "duplicate", "reorder")
_DEFAULTS: dict[str, Any] = {
    "drop_request": 0.0,
    "drop_reply": 0.0,
    "duplicate": 0.0,
    "reorder": 0.0,
    "delay_ms": {"dist": "constant", "ms": 0.0},
    "reorder_delay_ms": {"dist": "uniform", "low": 5.0, "high": 50.0},
    "blocked": [],
    "exempt": [CONTROLLER],
    "seed": 0,
}
CONFIG_KEYS = frozenset(_DEFAULTS)


def normalize_delay(spec: Any) -> dict[str, Any]:
    """A delay distribution in canonical form.

    Accepted: a number (constant ms); ``[low, high]`` (uniform ms); or a dict with
    ``dist`` one of ``constant`` (``ms``), ``uniform`` (``low``, ``high``),
    ``exponential`` (``mean``), ``normal`` (``mean``, ``stddev``; clipped at 0).
    """
    if isinstance(spec, bool):
        raise ValueError(f"a delay must be a number of ms, [low, high] or a dict, not {spec!r}")
    if isinstance(spec, (int, float)):
        spec = {"dist": "constant", "ms": spec}
    elif isinstance(spec, (list, tuple)):
        if len(spec) != 2:
            raise ValueError(f"a uniform delay is [low_ms, high_ms], got {spec!r}")
        spec = {"dist": "uniform", "low": spec[0], "high": spec[1]}
    if not isinstance(spec, dict):
        raise ValueError(f"a delay must be a number of ms, [low, high] or a dict, not {spec!r}")
    params = {
        "constant": ("ms",),
        "uniform": ("low", "high"),
        "exponential": ("mean",),
        "normal": ("mean", "stddev"),
    }
    dist = spec.get("dist")
    if dist not in params:
        raise ValueError(f"unknown delay distribution {dist!r}; use one of {sorted(params)}")
    if set(spec) != {"dist", *params[dist]}:
        raise ValueError(f"a {dist} delay takes exactly {params[dist]}, got {sorted(spec)}")
    out: dict[str, Any] = {"dist": dist}
    for key in params[dist]:
        value = spec[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"delay parameter {key!r} must be a number >= 0, got {value!r}")
        out[key] = float(value)
    if dist == "uniform" and out["low"] > out["high"]:
        raise ValueError(f"uniform delay needs low <= high, got {spec!r}")
    return out


def _sample_ms(rng: random.Random, spec: dict[str, Any]) -> float:
    dist = spec["dist"]
    if dist == "constant":
        return spec["ms"]
    if dist == "uniform":
        return rng.uniform(spec["low"], spec["high"])
    if dist == "exponential":
        return rng.expovariate(1.0 / spec["mean"]) if spec["mean"] > 0 else 0.0
    return max(0.0, rng.gauss(spec["mean"], spec["stddev"]))


def _is_zero(spec: dict[str, Any]) -> bool:
    return spec["dist"] == "constant" and spec["ms"] == 0.0


@dataclass(frozen=True)
class FaultStatistics:
    """What the policy did to the messages it was asked about."""

    planned: int
    dropped_requests: int
    dropped_replies: int
    blocked: int
    duplicated: int
    delayed: int
    reordered: int


_DELIVER_NOW: tuple[tuple[float, ...], str] = ((0.0,), "")


class FaultPolicy:
    """Seeded network faults between named nodes. Thread-safe; changeable at run time."""

    def __init__(self, seed: int = 0, **config: Any) -> None:
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._exempt: frozenset[str] = frozenset()
        self._counts = dict.fromkeys(
            (
                "planned",
                "dropped_requests",
                "dropped_replies",
                "blocked",
                "duplicated",
                "delayed",
                "reordered",
            ),
            0,
        )
        self._active = False
        self._apply({**_DEFAULTS, "seed": seed, **config})

    # -- configuration ------------------------------------------------------------------
    def set(self, **config: Any) -> None:
        """Change some settings (keys as in ``to_dict()``); the others keep their values.

        Setting ``seed`` restarts the random sequence, so a run can be replayed.
        """
        with self._lock:
            self._apply({**self._config_locked(), **config})

    def reset(self) -> None:
        """Back to a perfect network (keeps the seed)."""
        with self._lock:
            self._apply({**_DEFAULTS, "seed": self._config["seed"]})

    def block(self, src: str, dst: str) -> None:
        """One-way partition: drop every message from ``src`` to ``dst``."""
        with self._lock:
            self._blocked.add((str(src), str(dst)))
            self._refresh_active()

    def unblock(self, src: str, dst: str) -> None:
        """Undo ``block(src, dst)``."""
        with self._lock:
            self._blocked.discard((src, dst))
            self._refresh_active()

    def partition(self, *groups: Iterable[str]) -> None:
        """Symmetric partition: nodes in different groups cannot talk (either way).

        Replaces any earlier blocks. Names outside every group are not blocked.
        """
        blocked = set()
        for i, group in enumerate(groups):
            for other in groups[i + 1 :]:
                for a in group:
                    for b in other:
                        blocked.add((str(a), str(b)))
                        blocked.add((str(b), str(a)))
        with self._lock:
            self._blocked = blocked
            self._refresh_active()

    def heal(self) -> None:
        """Remove every block and partition (drop rates etc. stay)."""
        with self._lock:
            self._blocked = set()
            self._refresh_active()

    def to_dict(self) -> dict[str, Any]:
        """The whole configuration as plain data (what ``Fault.get`` returns)."""
        with self._lock:
            return self._config_locked()

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> FaultPolicy:
        """A policy from ``to_dict()`` output (or any subset of its keys)."""
        config = dict(config)
        return cls(seed=config.pop("seed", 0), **config)

    def _config_locked(self) -> dict[str, Any]:
        return {
            **{key: value for key, value in self._config.items() if key != "blocked"},
            "delay_ms": dict(self._config["delay_ms"]),
            "reorder_delay_ms": dict(self._config["reorder_delay_ms"]),
            "blocked": sorted([a, b] for a, b in self._blocked),
            "exempt": sorted(self._exempt),
        }

    def _apply(self, config: dict[str, Any]) -> None:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ValueError(
                f"unknown fault setting(s) {sorted(unknown)}; known: {sorted(CONFIG_KEYS)}"
            )
        new = dict(config)
        for key in _PROBABILITIES:
            value = new[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (0.0 <= value <= 1.0)
            ):
                raise ValueError(f"{key} is a probability in [0, 1], got {value!r}")
            new[key] = float(value)
        new["delay_ms"] = normalize_delay(new["delay_ms"])
        new["reorder_delay_ms"] = normalize_delay(new["reorder_delay_ms"])
        blocked = set()
        for pair in new["blocked"]:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"blocked holds [src, dst] pairs, got {pair!r}")
            blocked.add((str(pair[0]), str(pair[1])))
        if isinstance(new["exempt"], str) or not isinstance(new["exempt"], (list, tuple, set)):
            raise ValueError(f"exempt is a list of peer names, got {new['exempt']!r}")
        seed = new["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if seed != self._config.get("seed") or not hasattr(self, "_rng"):
            self._rng = random.Random(seed)
        self._config = new
        self._blocked = blocked
        self._exempt = frozenset(str(name) for name in new["exempt"])
        self._refresh_active()

    def _refresh_active(self) -> None:
        c = self._config
        self._active = bool(
            self._blocked or any(c[key] for key in _PROBABILITIES) or not _is_zero(c["delay_ms"])
        )

    # -- deciding -----------------------------------------------------------------------
    def plan(self, src: str, dst: str, message: str) -> tuple[tuple[float, ...], str]:
        """The fate of one message from ``src`` to ``dst`` (``message``: "request"/"reply").

        Returns ``(delays_s, note)``: ``delays_s`` is empty when the message is lost
        (``note`` says "dropped" or "blocked"), else one delay per delivered copy.
        """
        if not self._active or src in self._exempt or dst in self._exempt:
            return _DELIVER_NOW
        with self._lock:
            counts = self._counts
            counts["planned"] += 1
            if (src, dst) in self._blocked:
                counts["blocked"] += 1
                return (), "blocked"
            c = self._config
            rng = self._rng
            drop = c["drop_request"] if message == "request" else c["drop_reply"]
            if drop and rng.random() < drop:
                counts["dropped_requests" if message == "request" else "dropped_replies"] += 1
                return (), "dropped"
            copies = 2 if c["duplicate"] and rng.random() < c["duplicate"] else 1
            if copies == 2:
                counts["duplicated"] += 1
            delays = []
            for _ in range(copies):
                delay_ms = _sample_ms(rng, c["delay_ms"])
                if c["reorder"] and rng.random() < c["reorder"]:
                    # Holding one message back lets later ones overtake it.
                    delay_ms += _sample_ms(rng, c["reorder_delay_ms"])
                    counts["reordered"] += 1
                if delay_ms > 0:
                    counts["delayed"] += 1
                delays.append(delay_ms / 1000.0)
            return tuple(delays), ("duplicated" if copies == 2 else "")

    @property
    def active(self) -> bool:
        """False when the policy is a perfect network (the transport then skips it)."""
        return self._active

    def statistics(self) -> FaultStatistics:
        """Counts of what the policy decided so far."""
        with self._lock:
            return FaultStatistics(**self._counts)


class FaultControl:
    """The built-in ``Fault`` service: change a node's policy from another process.

    Registered on every Server and never subject to the policy itself.
    """

    def __init__(self, policy: FaultPolicy) -> None:
        self._policy = policy

    def set(self, config: dict) -> dict:
        """Change some settings; returns the whole new configuration."""
        if not isinstance(config, dict):
            raise TypeError(f"Fault.set takes a dict of settings, got {type(config).__name__}")
        self._policy.set(**config)
        return self._policy.to_dict()

    def get(self) -> dict:
        """The current configuration."""
        return self._policy.to_dict()

    def reset(self) -> dict:
        """A perfect network again; returns the configuration."""
        self._policy.reset()
        return self._policy.to_dict()

    def statistics(self) -> dict:
        """What the policy did so far, as a dict."""
        return dict(self._policy.statistics().__dict__)


def set_remote(
    address: tuple[str, int],
    config: dict,
    *,
    secret: str | bytes | None = None,
    control_secret: str | bytes | None = None,
    timeout: float = 10.0,
) -> dict:
    """Change the fault settings of the Server at ``address`` (from any process).

    Connects as ``CONTROLLER`` (exempt from faults) and calls ``Fault.set``; returns the
    server's whole new configuration. A cluster's nodes serve ``Fault.set`` only to whoever
    proves the cluster's ``control_secret`` (``Cluster.control_secret``).
    """
    from distlab.rpc.client import Client  # client imports this module: import when used

    with Client(address, name=CONTROLLER, secret=secret, control_secret=control_secret) as control:
        return control.call(f"{FAULT_METHOD_PREFIX}set", config, timeout=timeout)
