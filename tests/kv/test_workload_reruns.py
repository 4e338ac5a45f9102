"""run_workload twice on one cluster: the second run is judged on its own data only.

A notebook (chapter 10) runs a workload, then the StrongVsWeak widget runs another on the
same clusters with the same seed. The checker assumes every key starts empty and every value
read names a write of *this* history, and the servers' duplicate table remembers every
client id's last sequence number: a rerun that reused the key names or the client ids was
judged against data it did not write (a correct strong store reported "not linearizable",
with stale reads and lost writes). Each run must bring fresh keys and fresh client ids.
"""

from __future__ import annotations

import pytest

from distlab.cluster import Cluster
from distlab.kv import Clerk
from distlab.kv.workload import run_workload

pytestmark = pytest.mark.cluster


def assert_clean(result, what: str) -> None:
    s = result.summary
    context = f"{what}: {s}; final state {result.final_state}"
    assert s.ok > 20, f"little progress: {context}"
    assert s.failed == s.indefinite == 0, context
    assert s.verdict == "ok", f"{result.check.explanation}\n{context}"
    assert s.stale_reads == 0, context
    assert s.acknowledged_writes_lost == 0, f"lost {result.lost_writes}: {context}"


def test_a_second_run_with_the_same_seed_on_a_strong_cluster_is_still_linearizable() -> None:
    with Cluster.start(3, service="kv", consistency="strong", seed=21) as cluster:
        first = run_workload(cluster, clients=3, duration_s=1.5, seed=21)
        second = run_workload(cluster, clients=3, duration_s=1.5, seed=21)
        assert_clean(first, "first run")
        assert_clean(second, "second run, same seed, same cluster")
        assert first.run != second.run
        assert len(first.keys) == len(second.keys) == 3
        assert not set(first.keys) & set(second.keys), "the second run reused the first's keys"
        assert set(second.final_state) == set(second.keys)
        # The second run left the first run's data alone: read it back through the log.
        with Clerk.for_cluster(cluster, client_id="observer") as clerk:
            assert {k: clerk.get(k) for k in first.keys} == first.final_state
        assert any(first.final_state.values()), "the first run wrote nothing: nothing tested"


def test_a_run_ignores_keys_it_did_not_write_and_refuses_a_run_name_already_used() -> None:
    with Cluster.start(3, service="kv", consistency="weak", seed=22) as cluster:
        with Clerk.for_cluster(cluster, client_id="someone-else") as clerk:
            clerk.put("x", "not the workload's")
            clerk.put("k0", "an older lesson's key")
        result = run_workload(cluster, clients=2, duration_s=1.0, seed=22, run="lesson")
        assert result.run == "lesson"
        assert result.keys == ["lesson.k0", "lesson.k1", "lesson.k2"]
        assert result.summary.converged is True
        # The converged table holds x and k0 too; the run's final state is its own keys only.
        assert set(result.final_state) == set(result.keys)
        assert {op.key for op in result.history.operations()} <= set(result.keys)
        with pytest.raises(ValueError, match="already hold"):
            run_workload(cluster, clients=2, duration_s=1.0, seed=22, run="lesson")
