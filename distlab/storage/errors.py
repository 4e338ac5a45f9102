"""Errors of the storage layer: corruption is reported loudly, with file and offset."""

from __future__ import annotations

import os

__all__ = ["CorruptLogError"]


class CorruptLogError(Exception):
    """Stored bytes fail their checksum where a torn tail cannot explain it.

    Raised instead of returning bad data or silently dropping acknowledged records.
    ``path`` and ``offset`` name where the damage starts.
    """

    def __init__(self, path: str | os.PathLike[str], offset: int, reason: str) -> None:
        self.path = os.fspath(path)
        self.offset = offset
        self.reason = reason
        super().__init__(f"{self.path}: corrupt at byte offset {offset}: {reason}")
