"""RWLock: readers share, writers are exclusive, a waiting writer is not starved."""

from __future__ import annotations

import threading
import time

import pytest

from distlab.sync import RWLock
from tests.sync.helpers import join_all, start, wait_until


def test_readers_hold_it_at_the_same_time():
    rw = RWLock("map")
    all_inside = threading.Barrier(4)

    def reader() -> None:
        with rw.read(timeout=10):
            all_inside.wait(timeout=10)  # breaks (raises) unless all 4 are inside at once

    join_all([start(reader) for _ in range(4)])
    assert rw.statistics().max_concurrent_readers == 4


def test_writer_excludes_readers_and_other_writers():
    rw = RWLock("map")
    assert rw.acquire_write(timeout=1)
    results = []
    thread = start(
        lambda: results.extend([rw.acquire_read(timeout=0.05), rw.acquire_write(timeout=0.05)])
    )
    join_all([thread])
    assert results == [False, False]
    rw.release_write()
    assert rw.acquire_read(timeout=1)
    rw.release_read()


def test_waiting_writer_blocks_new_readers():
    rw = RWLock("map")
    first_reader_in, release_first = threading.Event(), threading.Event()
    writer_done = threading.Event()

    def first_reader() -> None:
        with rw.read(timeout=10):
            first_reader_in.set()
            release_first.wait(10)

    def writer() -> None:
        with rw.write(timeout=10):
            writer_done.set()

    reader_thread = start(first_reader)
    assert first_reader_in.wait(10)
    writer_thread = start(writer)
    wait_until(lambda: rw._waiting_writers == 1)
    # A naive RWLock lets this reader in (no writer is *inside*): that starves writers.
    assert rw.acquire_read(timeout=0.1) is False
    release_first.set()
    join_all([reader_thread, writer_thread])
    assert writer_done.is_set()


def test_writer_gets_in_despite_a_stream_of_overlapping_readers():
    rw = RWLock("map")
    stop = threading.Event()
    writer_in = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            if rw.acquire_read(timeout=0.5):
                time.sleep(0.002)
                rw.release_read()

    readers = [start(reader) for _ in range(4)]
    wait_until(lambda: rw.statistics().max_concurrent_readers >= 2)  # readers overlap
    got = rw.acquire_write(timeout=10)
    if got:
        writer_in.set()
        rw.release_write()
    stop.set()
    join_all(readers)
    assert writer_in.is_set(), "writer starved by readers"


def test_writer_timeout_lets_blocked_readers_continue():
    rw = RWLock()
    rw.acquire_read()  # held by this thread throughout
    writer_result: list[bool] = []
    writer = start(lambda: writer_result.append(rw.acquire_write(timeout=0.3)))
    wait_until(lambda: rw._waiting_writers == 1)
    reader_result: list[bool] = []
    # Blocked behind the waiting writer; must be let in when the writer gives up,
    # not left waiting for a release that never comes.
    reader = start(lambda: reader_result.append(rw.acquire_read(timeout=12)))
    join_all([writer])
    # Generous, but well before the reader's own timeout, at which a broken lock
    # would let it in anyway.
    wait_until(lambda: reader_result, timeout=6)
    join_all([reader])
    assert writer_result == [False]
    assert reader_result == [True]
    assert rw.statistics().timeouts == 1


def test_misuse_raises():
    rw = RWLock("map")
    with pytest.raises(RuntimeError, match="does not hold it for reading"):
        rw.release_read()
    with pytest.raises(RuntimeError, match="does not hold it for writing"):
        rw.release_write()
    with rw.read():
        with pytest.raises(RuntimeError, match="not reentrant"):
            rw.acquire_write(timeout=0.01)
        with pytest.raises(RuntimeError, match="not reentrant"):
            rw.acquire_read(timeout=0.01)
    with rw.write(), pytest.raises(RuntimeError, match="not reentrant"):
        rw.acquire_write(timeout=0.01)
    assert rw.statistics().writes == 1
