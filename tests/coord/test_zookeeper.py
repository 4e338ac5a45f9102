"""The same recipes and checkers on a real ZooKeeper ensemble (Debian's zookeeper, via kazoo).

Skips, naming the package, where ZooKeeper cannot run. One ensemble for the module (a JVM
start costs seconds); tests that crash or cut a member restore it before they end.
"""

from __future__ import annotations

import pytest

from distlab.check.coordination import check_coordination
from distlab.coord.workload import counter_race, herd_count, lock_rounds, recorded_workload
from distlab.engines.processes import ServerError
from distlab.engines.zookeeper import ZooKeeperEnsemble, check_zookeeper

# The module shares one ensemble (closed by its fixture after the last test).
pytestmark = [pytest.mark.engines, pytest.mark.allow_leftover_processes]


@pytest.fixture(scope="module")
def ensemble():
    try:
        check_zookeeper()
    except ServerError as error:
        pytest.skip(f"{error} (Debian package: zookeeper)")
    with ZooKeeperEnsemble.start(3) as running:
        yield running


def clients(ensemble, count: int, timeout_s: float = 4.0):
    return [ensemble.client(f"n{i % 3}", timeout_s=timeout_s) for i in range(count)]


def test_the_counter_recipe_loses_no_add(ensemble) -> None:
    result = counter_race(clients(ensemble, 3), adds=10)
    assert result.value == result.expected == 30


def test_the_history_meets_zookeepers_guarantees(ensemble) -> None:
    history = recorded_workload(clients(ensemble, 3), seed=1, operations=25)
    verdict = check_coordination(history)
    assert verdict.ok, verdict.problems
    assert verdict.operations > 70


def test_the_herd_effect_on_real_zookeeper(ensemble) -> None:
    herd_free = herd_count(clients(ensemble, 10), "herd-free")
    naive = herd_count(clients(ensemble, 10), "naive")
    assert herd_free <= 10 < naive


def test_the_lock_keeps_mutual_exclusion_while_the_leader_is_killed(ensemble) -> None:
    victim = ensemble.leader()
    assert victim is not None
    others = [name for name in ensemble.names if name != victim]
    contenders = [ensemble.client(name, timeout_s=10.0) for name in others for _ in range(2)]
    try:
        writes, problems = lock_rounds(contenders, rounds=2, fault=lambda: ensemble.crash(victim))
    finally:
        ensemble.restart(victim)
        ensemble.wait_for_leader()
    assert problems == []
    assert writes >= 4, f"only {writes} of 8 rounds got the lock"
