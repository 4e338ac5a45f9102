"""distlab.storage: non-volatile storage (非易失存储) that survives a crash.

* :class:`DurableLog` -- append-only records with per-record checksums; ``sync()`` fsyncs;
  recovery drops a torn tail (with a :class:`TornTailWarning`) and raises
  :class:`CorruptLogError` for damage in the middle.
* :func:`write_atomic` -- replace a file atomically (temp + fsync + rename + fsync dir).
* :func:`write_snapshot` / :func:`read_snapshot` -- an atomic file with a checksum.

Depends on nothing else in distlab. Never returns bytes that failed their checksum.
"""

from distlab.storage.atomic import fsync_dir, read_snapshot, write_atomic, write_snapshot
from distlab.storage.errors import CorruptLogError
from distlab.storage.log import DurableLog, LogStatistics, TornTailWarning

__all__ = [
    "CorruptLogError",
    "DurableLog",
    "LogStatistics",
    "TornTailWarning",
    "fsync_dir",
    "read_snapshot",
    "write_atomic",
    "write_snapshot",
]
