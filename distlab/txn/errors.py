"""Clear errors for bad requests to a transaction's coordinator or shard."""

from __future__ import annotations

__all__ = ["TransactionAborted", "TransactionClosed", "UnknownTransaction"]


class UnknownTransaction(KeyError):
    """No such transaction id (never begun here, or long finished and forgotten)."""

    def __str__(self) -> str:
        return f"unknown transaction id {self.args[0]!r}"


class TransactionClosed(RuntimeError):
    """An operation on a transaction that already committed, aborted or started committing."""


class TransactionAborted(RuntimeError):
    """The transaction was aborted (wait-die, a vote no, or a crash); the client may retry
    it as a new transaction."""
