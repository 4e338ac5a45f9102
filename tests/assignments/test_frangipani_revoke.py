"""Assignment 12's harness passes the library's revoke and replay and catches broken ones."""

from __future__ import annotations

from distlab.assignments.frangipani_revoke import (
    ReplayingService,
    RevokingWorkstation,
    check_frangipani_revoke,
)
from distlab.frangipani import FrangipaniService, Workstation


class Library(RevokingWorkstation):
    def handle_revoke(self, locks):
        return Workstation._handle_revoke(self, locks)


class SkipsTheLog(RevokingWorkstation):
    def handle_revoke(self, locks):
        blocks = {key: list(self.cache[key]) for key in locks if key in self.dirty}
        return {"op": "release", "blocks": blocks, "locks": list(locks)}


class NoWriteBack(RevokingWorkstation):
    def handle_revoke(self, locks):
        if self.unflushed:
            return {"op": "log", "entries": list(self.unflushed)}
        return {"op": "release", "blocks": {}, "locks": list(locks)}


class NoVersionCheck(ReplayingService):
    def replay(self, entries):
        for entry in entries:
            for key, block in entry["blocks"].items():
                self.blocks[key] = list(block)


class NoReplay(ReplayingService):
    def replay(self, entries):
        pass


def test_the_library_passes_and_the_stubs_fail() -> None:
    assert check_frangipani_revoke(Library, FrangipaniService).text().endswith("5/5 checks passed")
    verdict = check_frangipani_revoke(RevokingWorkstation, ReplayingService)
    assert verdict.text().endswith("0/5 checks passed")


def test_broken_revoke_handlers_are_caught() -> None:
    assert check_frangipani_revoke(SkipsTheLog, FrangipaniService).failed == [
        "a revoke appends the log first",
        "3 workstations, crashes: linearizable, every rule holds",
    ]
    verdict = check_frangipani_revoke(NoWriteBack, FrangipaniService)
    assert "then writes the revoked dirty blocks back and releases" in verdict.failed
    assert "3 workstations, crashes: linearizable, every rule holds" in verdict.failed


def test_broken_replays_are_caught() -> None:
    verdict = check_frangipani_revoke(Library, NoVersionCheck)
    assert verdict.failed == [
        "replay never overwrites a newer block",
        "3 workstations, crashes: linearizable, every rule holds",
    ]
    assert "Versions never go back" in verdict.text()
    verdict = check_frangipani_revoke(Library, NoReplay)
    assert "replay redoes logged blocks newer than the disk" in verdict.failed
    assert "Replay before release" in verdict.text()
