"""The messages of two-phase commit (两阶段提交), coordinator ``n0`` <-> shards ``n1 ..``.

    coordinator -> participant   Prepare(txid)            "can you commit? keep your locks"
    participant -> coordinator   Vote(txid, yes)          logged as prepared first, if yes
    coordinator -> participant   Decision(txid, commit)   logged by the coordinator first
    participant -> coordinator   Ack(txid)                the coordinator may forget txid
    participant -> coordinator   Inquire(txid)            a prepared participant asks again

Frozen dataclasses, carried by `CODEC` (never pickled).
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.core import MessageCodec

__all__ = ["CODEC", "Ack", "Decision", "Inquire", "Prepare", "Vote"]


@dataclass(frozen=True)
class Prepare:
    txid: int


@dataclass(frozen=True)
class Vote:
    txid: int
    yes: bool


@dataclass(frozen=True)
class Decision:
    txid: int
    commit: bool


@dataclass(frozen=True)
class Ack:
    txid: int


@dataclass(frozen=True)
class Inquire:
    txid: int


CODEC = MessageCodec((Prepare, Vote, Decision, Ack, Inquire))
