"""The simulator's KV workload shares what does not depend on its loop: the seeded mix, the
written tokens and the verdict (distlab.check.workload and distlab.check.outcome)."""

from __future__ import annotations

import re

from distlab.sim.kv_sim import run_kv_workload
from tests.assignments.implementations import KVOnRaft


def test_the_simulated_run_is_judged_like_every_other_run() -> None:
    result = run_kv_workload(
        KVOnRaft, 2, ticks=300, fault_every_ticks=30, crashes=True, partitions=True, put_rate=0.1
    )
    judged = result.judge()
    s = judged.summary
    assert s.verdict == "ok" and s.linearizable is True, judged.check.explanation
    assert s.acknowledged_writes_lost == 0 and not judged.lost_writes
    assert s.faults == result.faults > 0
    assert s.operations == len(result.history.operations()) and s.ok >= result.completed
    assert result.elapsed_s > 0 and s.throughput_ops_s > 0
    written = [o.value for o in result.history.operations() if o.kind != "get"]
    assert {o.kind for o in result.history.operations()} == {"get", "append", "put"}
    # The shared tokens: [client.n] appended, <client.n> put (what assignment 6 counts).
    assert written and all(re.fullmatch(r"\[c\d\.\d+\]|<c\d\.\d+>", v) for v in written)
