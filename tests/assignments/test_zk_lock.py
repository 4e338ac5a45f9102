"""Assignment 9's harness: the course's lock passes; each broken recipe fails its own check."""

from __future__ import annotations

from distlab.assignments.zk_lock import check_zk_lock
from distlab.coord import HerdLock, Lock, NaiveLock


class ImpatientLock(Lock):
    """Takes the lock as soon as its znode exists, without waiting for its turn."""

    def acquire(self, timeout=None):
        self.node = self.client.create(
            f"{self.path}/lock-", b"", ephemeral=True, sequence=True, makepath=True
        )
        return int(self.node[-10:])


class PersistentLock(Lock):
    """Contender znodes that are not ephemeral: a dead holder's znode stays for ever."""

    def _create(self, unique):
        return self.client.create(f"{self.path}/{unique}", b"", sequence=True)


def failed(lock_cls) -> list[str]:
    return check_zk_lock(lock_cls).failed


def test_the_course_lock_passes_every_check() -> None:
    verdict = check_zk_lock(Lock)
    assert verdict.passed, verdict.text()
    assert len(verdict.results) == 6


def test_a_lock_that_wakes_everyone_fails_only_the_herd_check() -> None:
    herd = ["10 clients queue at once: at most one notification per acquisition"]
    assert failed(HerdLock) == herd
    assert failed(NaiveLock) == herd


def test_a_lock_that_does_not_wait_breaks_mutual_exclusion() -> None:
    assert "6 clients, 3 rounds each: never two holders" in failed(ImpatientLock)
    assert "two clients: the second waits for the first's release" in failed(ImpatientLock)


def test_a_lock_whose_znodes_outlive_their_session_is_caught() -> None:
    assert failed(PersistentLock) == ["a holder's session expires: the lock passes on"]


def test_the_verdict_is_the_same_every_time() -> None:
    assert check_zk_lock(HerdLock).text() == check_zk_lock(HerdLock).text()
