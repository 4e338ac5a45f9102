"""The seeded history generator: deterministic, sequential clients, the asked-for mix."""

from __future__ import annotations

from itertools import pairwise

import pytest

from distlab.check import History, check_linearizable, op
from distlab.check.generate import append_runs, inject_stale_reads, simulate


def test_same_seed_same_history_and_different_seed_different_history():
    a = simulate(1, clients=3, operations=200, keys=2).to_jsonl()
    assert a == simulate(1, clients=3, operations=200, keys=2).to_jsonl()
    assert a != simulate(2, clients=3, operations=200, keys=2).to_jsonl()


def test_shape_and_mix():
    history = simulate(
        3, clients=4, operations=2000, keys=5, indefinite_fraction=0.2, fail_fraction=0.1
    )
    stats = history.statistics()
    assert (stats.operations, stats.clients, stats.keys) == (2000, 4, 5)
    assert 300 < stats.indefinite < 500 and 120 < stats.failed < 280
    ops = history.operations()
    gets = [o for o in ops if o.kind == "get"]
    assert 800 < len(gets) < 1200
    assert all(o.output is None for o in ops if o.status != "ok")
    values = [o.value for o in ops if o.value is not None]
    assert len(values) == len(set(values)), "written values are unique"


def test_clients_are_sequential_and_concurrent_with_each_other():
    ops = simulate(4, clients=5, operations=1000, keys=2).operations()
    per_client: dict = {}
    for o in ops:
        per_client.setdefault(o.client, []).append(o)
    for mine in per_client.values():
        assert all(a.complete < b.invoke for a, b in pairwise(mine))
    overlapping = sum(
        1 for a, b in pairwise(ops) if a.client != b.client and b.invoke <= a.complete
    )
    assert overlapping > 100


@pytest.mark.parametrize("seed", range(5))
def test_generated_histories_are_linearizable_until_broken(seed):
    history = simulate(
        seed, clients=4, operations=400, keys=2, indefinite_fraction=0.2, fail_fraction=0.05
    )
    assert check_linearizable(history).verdict == "ok"
    assert check_linearizable(inject_stale_reads(history, 2, seed=seed)).verdict == "violation"


def test_injection_refuses_when_no_read_can_be_stale():
    history = History.from_operations([op(1, "get", "x", output="", start=0, end=1)])
    with pytest.raises(ValueError, match="could be made stale"):
        inject_stale_reads(history, 1, seed=0)


def test_append_runs_grow_long_values_and_can_carry_a_stale_read():
    history = append_runs(4, operations=2000)
    assert history.to_jsonl() == append_runs(4, operations=2000).to_jsonl()
    ops = history.operations()
    assert {o.kind for o in ops} == {"get", "append"}
    assert max(len(o.output or "") for o in ops) > 2000  # one value per key, never reset
    assert check_linearizable(history, timeout_s=60).verdict == "ok"
    broken = append_runs(4, operations=2000, stale_reads=1)
    changed = [a for a, b in zip(ops, broken.operations(), strict=True) if a.output != b.output]
    assert len(changed) == 1
    assert check_linearizable(broken, timeout_s=60).violating_keys == (changed[0].key,)
