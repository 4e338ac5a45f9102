"""Assignment 7 (GFS): the reader that copes with what record append leaves behind.

What it is: the learner writes ``read_file(chunks) -> [(record_id, payload), ...]``: given
the bytes of one replica of each chunk of a record-appended file, in order, return every
record once, in file order -- what an application reading a GFS log must do (paper §2.7.2).
Between the records a chunk may hold padding (zeros up to the chunk's end), pieces of failed
attempts (torn records, bytes whose checksum does not match) and duplicates (a record
retried after a failure lands again, later). The learner is given `record_at(data,
offset)`, which returns the whole `Record` starting at ``offset`` or None, and `MAGIC`, the
four bytes every record starts with.

`check_reader(read_file)` runs seven checks and returns a `Verdict`: six hand-made chunks,
each aimed at one mistake (not skipping padding, trusting a torn record, keeping duplicates,
finding a "record" inside another record's payload, giving up at garbage), and the files a
simulated GFS wrote under crashes and lost messages (seeds 1, 2, 3), read from every
replica and compared with the library's reader.
What it must never do: depend on timing; every input is fixed or seeded.
Where it fits: notebooks/assignments/source/07_gfs_reader.ipynb; chapter 06 (GFS).
"""

from __future__ import annotations

from collections.abc import Callable

from distlab.assignments.verdict import Verdict, run_checks
from distlab.gfs import encode_record, read_unique
from distlab.gfs.records import MAGIC, Record, record_at
from distlab.gfs.simulated import simulate_gfs

__all__ = ["MAGIC", "SEEDS", "Record", "check_reader", "record_at"]

SEEDS = (1, 2, 3)
Reader = Callable[[list[bytes]], list[tuple[str, bytes]]]

A = encode_record("a", b"alpha " * 5)
B = encode_record("b", b"bravo " * 6)
C = encode_record("c", b"charlie " * 4)


def _expect(read_file: Reader, chunks: list[bytes], expected: list[tuple[str, bytes]]) -> None:
    got = read_file([bytes(chunk) for chunk in chunks])
    got_list = [(str(rid), bytes(payload)) for rid, payload in got]
    if got_list != expected:
        names = [rid for rid, _ in got_list]
        wanted = [rid for rid, _ in expected]
        raise AssertionError(f"expected records {wanted}, got {names}")


def _records(*encoded: bytes) -> list[tuple[str, bytes]]:
    out = []
    for item in encoded:
        record = record_at(item, 0)
        assert record is not None
        out.append((record.record_id, record.payload))
    return out


def check_reader(read_file: Reader) -> Verdict:
    """Run the reader's checks (see the module docstring)."""
    inner = encode_record("inner", b"I am inside another record")
    outer = encode_record("outer", b"prefix " + inner + b" suffix")
    garbage = b"\x01\x02" + MAGIC + b"\x00\x00\x00\x09not a record" + MAGIC[:2]

    def simulated() -> None:
        for seed in SEEDS:
            system = simulate_gfs(seed)
            for choice in range(system.config.replicas):
                chunks = system.replica_chunks(choice)
                expected = [(r.record_id, r.payload) for r in read_unique(chunks)]
                try:
                    _expect(read_file, chunks, expected)
                except AssertionError as error:
                    raise AssertionError(f"seed {seed}, replica {choice}: {error}") from None

    seeds = ", ".join(map(str, SEEDS))
    checks = [
        ("whole records come back in file order",
         lambda: _expect(read_file, [A + B, C], _records(A, B, C))),
        ("padding at the end of a chunk is skipped",
         lambda: _expect(read_file, [A + bytes(100), B + bytes(7)], _records(A, B))),
        ("a torn record is skipped and the records after it are kept",
         lambda: _expect(read_file, [A + B[:-5] + C], _records(A, C))),
        ("a record retried after a failure is returned once",
         lambda: _expect(read_file, [A + B + bytes(30), B + C], _records(A, B, C))),
        ("a record inside another record's payload is not a record",
         lambda: _expect(read_file, [outer + A], _records(outer, A))),
        ("garbage between records is skipped",
         lambda: _expect(read_file, [A + garbage + B, garbage + C], _records(A, B, C))),
        (f"files a simulated GFS wrote under faults, every replica (seeds {seeds})", simulated),
    ]  # fmt: skip
    return run_checks("GFS: a reader for record-appended files", checks)
