"""Faults inside the transport: drops, delay, duplicates, partitions, runtime control from
another process, and at-least-once vs at-most-once on a non-idempotent append."""

from __future__ import annotations

import threading

import multiprocess
import pytest

from distlab.demos.rpc_examples import run_semantics
from distlab.rpc import Client, FaultPolicy, RpcTimeout, Server
from distlab.rpc.faults import set_remote
from tests.rpc.helpers import Echo, wait_until


def make(policy: FaultPolicy, at_most_once: bool = False):
    service = Echo()
    server = Server(name="n1", policy=policy).start()
    server.register(service)
    client = Client(server.address, name="n0", policy=policy, at_most_once=at_most_once)
    return service, server, client


def test_dropped_request_times_out_definitely_and_never_runs():
    service, server, client = make(FaultPolicy(seed=1, drop_request=1.0))
    try:
        with pytest.raises(RpcTimeout) as error:
            client.call("Echo.append", "x", timeout=0.2)
        assert error.value.definite
        assert service.log == []
    finally:
        client.close()
        server.close()


def test_dropped_reply_times_out_indefinitely_although_it_ran():
    service, server, client = make(FaultPolicy(seed=1, drop_reply=1.0))
    try:
        with pytest.raises(RpcTimeout) as error:
            client.call("Echo.append", "x", timeout=0.2)
        assert not error.value.definite
        assert wait_until(lambda: service.log == ["x"])
    finally:
        client.close()
        server.close()


def test_retry_after_possible_execution_is_not_definite():
    # First attempt: reply lost (ran). Later attempts: request lost. Overall: may have run.
    policy = FaultPolicy(seed=1, drop_reply=1.0)
    _service, server, client = make(policy)
    try:
        with pytest.raises(RpcTimeout):
            client.call("Echo.append", "x", timeout=0.2)
        policy.set(drop_reply=0.0, drop_request=1.0)
        with pytest.raises(RpcTimeout) as only_dropped:
            client.call("Echo.append", "y", timeout=0.1, retries=2)
        assert only_dropped.value.definite
    finally:
        client.close()
        server.close()


def test_network_duplicates_run_twice_without_at_most_once_and_once_with():
    for at_most_once, expected in ((False, 2), (True, 1)):
        service, server, client = make(FaultPolicy(seed=1, duplicate=1.0), at_most_once)
        try:
            client.call("Echo.append", "x", timeout=10)
            assert wait_until(lambda s=service, n=expected: len(s.log) >= n)
            client.call("Echo.echo", "barrier", timeout=10)
            assert len(service.log) == expected, at_most_once
        finally:
            client.close()
            server.close()


def test_delay_and_reorder_still_deliver():
    policy = FaultPolicy(seed=2, delay_ms={"dist": "uniform", "low": 1, "high": 10}, reorder=0.5)
    _service, server, client = make(policy)
    try:
        futures = [client.call_async("Echo.add", i, 0, timeout=20) for i in range(40)]
        assert [f.result(20) for f in futures] == list(range(40))
        stats = policy.statistics()
        assert stats.delayed > 0 and stats.reordered > 0
    finally:
        client.close()
        server.close()


def test_one_way_partition_blocks_only_one_direction():
    policy = FaultPolicy(seed=1)
    service, server, client = make(policy)
    try:
        policy.block("n1", "n0")  # the server's replies to n0 are lost; n0's requests arrive
        with pytest.raises(RpcTimeout) as error:
            client.call("Echo.append", "a", timeout=0.2)
        assert not error.value.definite
        assert wait_until(lambda: service.log == ["a"])
        policy.heal()
        policy.block("n0", "n1")  # now n0's requests are lost
        with pytest.raises(RpcTimeout) as error:
            client.call("Echo.append", "b", timeout=0.2)
        assert error.value.definite
        assert service.log == ["a"]
        policy.heal()
        assert client.call("Echo.append", "c", timeout=10) == 2
    finally:
        client.close()
        server.close()


def test_at_least_once_duplicates_and_at_most_once_never_under_loss():
    at_least = run_semantics("at-least-once", drop_rate=0.3, operations=20, seed=1)
    at_most = run_semantics("at-most-once", drop_rate=0.3, operations=20, seed=1)
    assert at_least.retries > 0 and at_most.retries > 0
    assert at_least.duplicates > 0
    assert at_most.duplicates == 0
    assert at_most.missing == 0 and at_most.executions == 20


def test_at_most_once_with_concurrent_async_retries_and_duplicates():
    policy = FaultPolicy(seed=4, drop_request=0.2, drop_reply=0.2, duplicate=0.2)
    service, server, client = make(policy, at_most_once=True)
    try:
        futures = [
            client.call_async("Echo.append", f"t{i}", timeout=0.1, retries=80) for i in range(40)
        ]
        for future in futures:
            future.result(60)
        assert sorted(service.log) == sorted(f"t{i}" for i in range(40))
        table = server.statistics().duplicate_table
        assert table.entries <= 40  # acknowledged replies are forgotten as calls finish
    finally:
        client.close()
        server.close()


@pytest.mark.cluster
def test_policy_changed_at_run_time_from_another_process():
    service, server, client = make(FaultPolicy(seed=1))
    context = multiprocess.get_context("spawn")
    children = []

    def in_child(config: dict) -> None:
        child = context.Process(target=set_remote, args=(server.address, config))
        children.append(child)
        child.start()
        child.join(60)
        assert child.exitcode == 0

    try:
        in_child({"blocked": [["n1", "n0"]]})  # n1's replies to n0 are lost
        assert server.policy.to_dict()["blocked"] == [["n1", "n0"]]
        with pytest.raises(RpcTimeout):
            client.call("Echo.append", "during", timeout=0.2)
        assert wait_until(lambda: service.log == ["during"])
        in_child({"blocked": [], "drop_reply": 0.0})
        assert client.call("Echo.echo", "after", timeout=10) == "after"
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
        client.close()
        server.close()


def test_many_threads_with_timeouts_hand_the_reading_role_on():
    # Leaders that time out must pass the socket to a follower; nobody may hang or get
    # another thread's reply.
    policy = FaultPolicy(seed=5, drop_request=0.2, drop_reply=0.2)
    _service, server, client = make(policy, at_most_once=True)
    results: dict[int, list] = {}

    def work(worker: int) -> None:
        results[worker] = [
            client.call("Echo.add", worker, i, timeout=0.1, retries=100) for i in range(15)
        ]

    mixed = [client.call_async("Echo.add", 1000, i, timeout=0.1, retries=100) for i in range(20)]
    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert results == {w: [w + i for i in range(15)] for w in range(8)}
        assert [f.result(60) for f in mixed] == [1000 + i for i in range(20)]
        assert client.statistics().timeouts > 0
        assert client.statistics().in_flight == 0
    finally:
        client.close()
        server.close()
