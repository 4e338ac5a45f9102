"""FaultPolicy: seeded, configurable, partitions by name, exempt peers."""

from __future__ import annotations

import pytest

from distlab.rpc import FaultPolicy


def plans(policy, n=200, message="request"):
    return [policy.plan("a", "b", message) for _ in range(n)]


def test_perfect_network_delivers_once_now():
    assert plans(FaultPolicy(seed=1), 5) == [((0.0,), "")] * 5


def test_same_seed_same_decisions_and_reseed_replays():
    config = {"drop_request": 0.3, "duplicate": 0.2, "delay_ms": [1, 5], "reorder": 0.1}
    first = plans(FaultPolicy(seed=7, **config))
    assert first == plans(FaultPolicy(seed=7, **config))
    assert first != plans(FaultPolicy(seed=8, **config))
    policy = FaultPolicy(seed=7, **config)
    plans(policy, 50)
    policy.set(seed=99)
    policy.set(seed=7)  # setting the seed again restarts the sequence
    assert plans(policy) == first


def test_drop_rates_apply_to_their_direction():
    policy = FaultPolicy(seed=3, drop_request=0.5)
    requests = plans(policy, 1000, "request")
    replies = plans(policy, 1000, "reply")
    lost = sum(1 for delays, _ in requests if not delays)
    assert 400 < lost < 600
    assert all(delays for delays, _ in replies)
    assert policy.statistics().dropped_requests == lost


def test_duplicate_and_delay_distributions():
    policy = FaultPolicy(seed=1, duplicate=1.0, delay_ms={"dist": "uniform", "low": 10, "high": 20})
    delays, note = policy.plan("a", "b", "request")
    assert len(delays) == 2 and note == "duplicated"
    assert all(0.010 <= d <= 0.020 for d in delays)
    policy.set(duplicate=0.0, delay_ms={"dist": "exponential", "mean": 5})
    samples = [policy.plan("a", "b", "reply")[0][0] for _ in range(2000)]
    assert 0.003 < sum(samples) / len(samples) < 0.007


def test_one_way_block_and_symmetric_partition():
    policy = FaultPolicy()
    policy.block("a", "b")
    assert policy.plan("a", "b", "request") == ((), "blocked")
    assert policy.plan("b", "a", "reply")[0]  # the other direction still works
    policy.partition(["a"], ["b", "c"])
    for src, dst in (("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")):
        assert policy.plan(src, dst, "request") == ((), "blocked")
    assert policy.plan("b", "c", "request")[0]
    assert policy.plan("a", "outsider", "request")[0]  # outside every group: not blocked
    policy.heal()
    assert policy.plan("a", "b", "request")[0]


def test_exempt_peers_are_never_faulted():
    policy = FaultPolicy(drop_request=1.0, drop_reply=1.0, blocked=[["n1", "controller"]])
    assert policy.plan("controller", "n1", "request")[0]
    assert policy.plan("n1", "controller", "reply")[0]
    assert not policy.plan("n1", "n2", "request")[0]


def test_to_dict_round_trip_and_reset():
    policy = FaultPolicy(seed=5, drop_reply=0.25, delay_ms=3, blocked=[["x", "y"]])
    copy = FaultPolicy.from_dict(policy.to_dict())
    assert copy.to_dict() == policy.to_dict()
    assert copy.to_dict()["delay_ms"] == {"dist": "constant", "ms": 3.0}
    policy.reset()
    assert policy.to_dict()["drop_reply"] == 0.0 and policy.to_dict()["blocked"] == []
    assert policy.to_dict()["seed"] == 5
    assert not policy.active


@pytest.mark.parametrize(
    "config",
    [
        {"drop_request": 1.5},
        {"drop_reply": "a lot"},
        {"delay_ms": {"dist": "pareto", "alpha": 1}},
        {"delay_ms": [5, 1]},
        {"blocked": [["only-one"]]},
        {"exempt": "controller"},
        {"no_such_setting": 1},
    ],
)
def test_bad_settings_are_named(config):
    with pytest.raises(ValueError):
        FaultPolicy(**config)
