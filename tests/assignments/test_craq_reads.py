"""Assignment 10's harness passes the library's CRAQ read path and catches broken ones."""

from __future__ import annotations

from distlab.assignments.craq_reads import CraqReads, check_craq_reads
from distlab.chain import ChainNode


class AnswersTheNewestDirtyVersion(ChainNode):
    """Ignores the tail's word and answers the newest version it holds."""

    def finish_read(self, op, key, committed_version):
        version, value = (self.dirty.get(key) or [self.value_of(key)])[-1]
        self.answer_read(op, key, version, value, local=False)


class NeverAsksTheTail(ChainNode):
    """Answers the clean version even when a newer one may be committed (stale reads)."""

    def serve_read(self, op, key):
        version, value = self.value_of(key)
        self.answer_read(op, key, version, value, local=True)


class AlwaysAsksTheTail(ChainNode):
    """Correct but not CRAQ: every read costs a question to the tail."""

    def serve_read(self, op, key):
        if self.is_tail:
            super().serve_read(op, key)
        else:
            self.ask_tail(op, key)


def test_the_library_passes_and_the_stub_fails_every_check() -> None:
    assert check_craq_reads(ChainNode).text().endswith("5/5 checks passed")
    assert check_craq_reads(CraqReads).text().endswith("0/5 checks passed")


def test_answering_the_newest_dirty_version_is_caught_by_the_safety_check() -> None:
    verdict = check_craq_reads(AnswersTheNewestDirtyVersion)
    assert verdict.failed == [
        "the version the tail names is the one answered",
        "linearizable, 3 nodes, 30% writes",
        "linearizable through crashes and cut-off nodes",
    ]
    assert "CRAQ Reads Only Committed Versions" in verdict.text()


def test_never_asking_the_tail_is_caught_by_the_linearizability_checker() -> None:
    verdict = check_craq_reads(NeverAsksTheTail)
    assert "linearizable, 3 nodes, 30% writes" in verdict.failed
    assert "the checker's verdict is violation" in verdict.text()


def test_asking_the_tail_about_clean_keys_is_not_craq() -> None:
    assert check_craq_reads(AlwaysAsksTheTail).failed == [
        "a clean key is answered at once, locally"
    ]
