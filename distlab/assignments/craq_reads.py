"""Assignment 10 (CRAQ): the read path, written by the learner, checked in the simulator.

What it is: `CraqReads`, a `distlab.chain.ChainNode` whose two read hooks are left to the
learner, and `check_craq_reads(node_cls)`, which feeds single messages to one node and then
runs seeded simulator runs with clients writing while others read -- with and without
crashes and cut-off nodes -- and returns a `Verdict`. The learner writes:

- ``serve_read(op, key)``: a read this node may serve (the library has already checked
  that the node is a synced member with a lease). A key with no dirty version is answered
  at once with the clean version (``answer_read(..., local=True)``); a key with a dirty
  version is asked of the tail (``ask_tail(op, key)``).
- ``finish_read(op, key, committed_version)``: the tail's answer; answer the read with that
  version of the key, which this node holds (clean, or among its dirty versions), or with
  the clean version if that is newer by now.

Helpers (the library's): ``value_of(key)`` -> (version, value) of the clean version,
``dirty[key]`` -> [(version, value), ...] oldest first, ``is_tail``, ``ask_tail``,
``answer_read``. The simulator's safety checks run after every event (a read of an
uncommitted version is caught at once, with its seed) and the linearizability checker
judges each run's history.

What it must never do: use the wall clock or unseeded randomness; the same class gets the
same verdict on every machine.
Where it fits: notebooks/assignments/source/10_craq_reads.ipynb.
"""

from __future__ import annotations

from distlab.assignments.verdict import Verdict, run_checks
from distlab.chain import (
    Ack,
    ChainNode,
    NewConfig,
    ReadDone,
    Update,
    VersionQuery,
    VersionReply,
    run_chain,
)

__all__ = ["CRASH_SEEDS", "SEEDS", "CraqReads", "check_craq_reads"]

SEEDS = (1, 2, 3, 4, 5)
CRASH_SEEDS = (1, 2, 3)
_CHAIN = (("n1", 1, 1), ("n2", 2, 1), ("n3", 3, 1))


class CraqReads(ChainNode):
    """A chain node whose CRAQ read path is written by a subclass (module docstring)."""

    def serve_read(self, op: str, key: str) -> None:
        """Answer a clean key at once; ask the tail about a dirty one."""
        raise NotImplementedError("write serve_read in your subclass")

    def finish_read(self, op: str, key: str, committed_version: int) -> None:
        """The tail says ``committed_version`` is committed: answer with it."""
        raise NotImplementedError("write finish_read in your subclass")


def _middle(node_cls: type[ChainNode]) -> ChainNode:
    """``n2``, the middle of a 3-node CRAQ chain, with a lease and versions 1 and 2 of
    ``x`` dirty (version 1 of ``y`` committed)."""
    node = node_cls("n2", manager="n0", protocol="craq", incarnation=2)
    node.now = 5
    node.receive("n0", NewConfig(1, _CHAIN, 5))
    node.receive("n1", Update(1, 1, "y", "y1", ""))
    node.receive("n1", Update(1, 2, "x", "x1", ""))
    node.receive("n1", Update(1, 3, "x", "x2", ""))
    node.receive("n3", Ack(1, 1))  # the tail has update 1 (y): y is clean
    node.take_ready()
    return node


def _reads(ready_outputs: list) -> list[ReadDone]:
    return [item for item in ready_outputs if isinstance(item, ReadDone)]


def clean_key_answered_locally(node_cls: type[ChainNode]) -> None:
    node = _middle(node_cls)
    node.read("r1", "y")
    ready = node.take_ready()
    assert not ready.messages, f"a clean key was not answered locally: sent {ready.messages}"
    answers = _reads(ready.outputs)
    assert answers == [ReadDone("r1", "y", "y1", 1, True)], f"answered {answers}"
    node.read("r2", "never-written")
    answers = _reads(node.take_ready().outputs)
    assert answers == [ReadDone("r2", "never-written", "", 0, True)], (
        f"a key never written reads as '' (version 0); answered {answers}"
    )


def dirty_key_asked_of_the_tail(node_cls: type[ChainNode]) -> None:
    node = _middle(node_cls)
    node.read("r1", "x")
    ready = node.take_ready()
    assert not _reads(ready.outputs), "a dirty key was answered without asking the tail"
    queries = [e for e in ready.messages if isinstance(e.message, VersionQuery)]
    assert len(queries) == 1 and queries[0].dst == "n3", f"expected one query to n3: {queries}"
    assert queries[0].message.key == "x"


def committed_version_answered(node_cls: type[ChainNode]) -> None:
    for committed, expected in ((0, ""), (2, "x1"), (3, "x2")):
        node = _middle(node_cls)
        node.read("r1", "x")
        sent = [e.message for e in node.take_ready().messages]
        query = next((m for m in sent if isinstance(m, VersionQuery)), None)
        assert query is not None, "a dirty key was not asked of the tail"
        node.receive("n3", VersionReply(1, query.query, "x", committed))
        answers = _reads(node.take_ready().outputs)
        assert len(answers) == 1, f"the tail said version {committed}: {len(answers)} answers"
        assert answers[0].value == expected and answers[0].seq == committed, (
            f"the tail said version {committed} of x is committed; the read answered "
            f"{answers[0].value!r} (version {answers[0].seq}), expected {expected!r}"
        )


def _runs(node_cls: type[ChainNode], seeds: tuple[int, ...], faults: int):
    def run() -> None:
        for seed in seeds:
            result = run_chain(
                seed, "craq", faults=faults, write_fraction=0.3, node_factory=node_cls
            )
            assert result.linearizable, f"seed {seed}: the checker's verdict is {result.verdict}"
            assert result.acknowledged_writes_lost == 0, f"seed {seed}: acknowledged writes lost"
            local = sum(result.reads_served.values()) - sum(result.reads_asked_tail.values())
            assert local > 0, f"seed {seed}: no read was answered locally"
            assert min(result.reads_served.values()) > 0, f"seed {seed}: a node served no reads"

    return run


def check_craq_reads(node_cls: type[ChainNode]) -> Verdict:
    """Run the assignment's checks against ``node_cls``."""
    seeds = ", ".join(map(str, SEEDS))
    return run_checks(
        f"CRAQ's read path (simulated runs use seeds {seeds})",
        [
            (
                "a clean key is answered at once, locally",
                lambda: clean_key_answered_locally(node_cls),
            ),
            ("a dirty key is asked of the tail", lambda: dirty_key_asked_of_the_tail(node_cls)),
            (
                "the version the tail names is the one answered",
                lambda: committed_version_answered(node_cls),
            ),
            ("linearizable, 3 nodes, 30% writes", _runs(node_cls, SEEDS, faults=0)),
            (
                "linearizable through crashes and cut-off nodes",
                _runs(node_cls, CRASH_SEEDS, faults=4),
            ),
        ],
    )
