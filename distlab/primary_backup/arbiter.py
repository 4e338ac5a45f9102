"""The arbiter: an atomic test-and-set on durable storage (VMware FT's shared disk).

What it is: `Arbiter`, a pure core holding one flag per pairing: ``epoch`` (which pairing of
primary and backup this is) and ``holder`` (who went live in it; empty: nobody yet).

- ``TestAndSet(epoch, candidate)``: granted if nobody holds the flag (or the candidate
  already does); refused otherwise. The first replica to ask wins; the loser stops. That is
  how FT keeps a partition between primary and backup from leaving two live replicas
  (脑裂 split brain). A request for another epoch is refused (it is from an older
  pairing, or a copy the network duplicated); the reply says the current epoch.
- ``Reset(epoch, holder)``: the holder has a new backup in sync: clear the flag, start
  ``epoch + 1``. Asking again after it was done answers the same (the reply may be lost).

Its state must survive the arbiter's crashes -- a flag that forgot its holder would let a
second replica go live -- so every change is in the `ArbiterReady` to persist before the
reply is sent (`encode_state` / `decode_state` give the file format, checked on the way in).
The arbiter is itself a single point of failure: while it is down, nobody can go live
(chapter 08's Raft replaces it with a majority vote).

What it must never do: do I/O (its driver persists), or grant two candidates in one epoch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from distlab.core import Envelope, NodeId, Ready
from distlab.primary_backup.messages import Reset, ResetReply, TestAndSet, TestAndSetReply

__all__ = ["Arbiter", "ArbiterReady", "ArbiterState", "CorruptArbiterState", "decode_state"]


class CorruptArbiterState(ValueError):
    """The arbiter's file does not hold a valid flag (named field, what was wrong)."""


@dataclass(frozen=True)
class ArbiterState:
    epoch: int = 1
    holder: str = ""


def encode_state(state: ArbiterState) -> bytes:
    return json.dumps({"epoch": state.epoch, "holder": state.holder}).encode()


def decode_state(data: bytes) -> ArbiterState:
    """The flag from its file's bytes; `CorruptArbiterState` with the reason if it is bad."""
    try:
        fields = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptArbiterState(f"arbiter state is not JSON: {error}") from error
    if not isinstance(fields, dict) or set(fields) != {"epoch", "holder"}:
        raise CorruptArbiterState(f"arbiter state must have epoch and holder, got {fields!r}")
    epoch, holder = fields["epoch"], fields["holder"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise CorruptArbiterState(f"arbiter epoch must be a positive integer, got {epoch!r}")
    if not isinstance(holder, str):
        raise CorruptArbiterState(f"arbiter holder must be a string, got {holder!r}")
    return ArbiterState(epoch, holder)


@dataclass(frozen=True)
class ArbiterReady(Ready):
    """The arbiter's `Ready`: its new state to persist (None: unchanged) before replying."""

    state: ArbiterState | None = None

    @property
    def must_persist(self) -> bool:
        return self.state is not None


class Arbiter:
    """The test-and-set flag (see the module docstring). Pure."""

    def __init__(self, node_id: NodeId, state: ArbiterState | None = None) -> None:
        self.node_id = node_id
        self.state = state or ArbiterState()
        self.grants = 0
        self.refusals = 0
        self._outbox: list[Envelope] = []
        self._changed = False

    def tick(self) -> None:
        """The arbiter only answers."""

    def receive(self, sender: NodeId, message: Any) -> None:
        match message:
            case TestAndSet(epoch=epoch, candidate=candidate):
                self._test_and_set(sender, epoch, candidate)
            case Reset(epoch=epoch, holder=holder):
                self._reset(sender, epoch, holder)

    def _test_and_set(self, sender: NodeId, epoch: int, candidate: str) -> None:
        state = self.state
        if candidate != sender:
            granted = False  # nobody asks on another's behalf
        elif epoch != state.epoch:
            granted = False  # an older pairing (or a message the network duplicated)
        elif state.holder in ("", candidate):
            granted = True
            if state.holder == "":
                self.state = ArbiterState(state.epoch, candidate)
                self._changed = True
        else:
            granted = False
        if granted:
            self.grants += 1
        else:
            self.refusals += 1
        reply = TestAndSetReply(epoch, candidate, granted, self.state.holder, self.state.epoch)
        self._outbox.append(Envelope(self.node_id, sender, reply))

    def _reset(self, sender: NodeId, epoch: int, holder: str) -> None:
        state = self.state
        if holder == sender and epoch == state.epoch and state.holder == holder:
            self.state = ArbiterState(state.epoch + 1, "")
            self._changed = True
            done = True
        else:
            done = epoch + 1 == state.epoch and state.holder == ""  # asked again: done already
        reply = ResetReply(self.state.epoch if done else state.epoch, done)
        self._outbox.append(Envelope(self.node_id, sender, reply))

    def has_ready(self) -> bool:
        return bool(self._outbox) or self._changed

    def take_ready(self) -> ArbiterReady:
        ready = ArbiterReady(messages=self._outbox, state=self.state if self._changed else None)
        self._outbox, self._changed = [], False
        return ready
