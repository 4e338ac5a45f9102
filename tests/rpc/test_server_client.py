"""Server and Client over real sockets: calls, errors, concurrency, reconnect, shutdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from distlab.rpc import (
    BadArguments,
    Client,
    ConnectionLost,
    FaultPolicy,
    RemoteError,
    RpcTimeout,
    Server,
    Tracer,
    UnknownMethod,
)
from tests.rpc.helpers import Echo, wait_until


@pytest.fixture
def echo_server():
    service = Echo()
    server = Server(name="n1").start()
    server.register(service)
    try:
        yield server, service
    finally:
        server.close()


def test_call_returns_result_and_learns_server_name(echo_server):
    server, _ = echo_server
    with Client(server.address, name="n0") as client:
        assert client.call("Echo.add", 2, 3, timeout=10) == 5
        assert client.call("Echo.echo", {"k": [1, b"\x00"]}, timeout=10) == {"k": [1, b"\x00"]}
        assert client.server_name == "n1"
    assert server.address[0] == "127.0.0.1" and server.address[1] > 0


def test_errors_say_whether_the_call_ran_and_connection_stays_usable(echo_server):
    server, _ = echo_server
    with Client(server.address) as client:
        with pytest.raises(UnknownMethod, match=r"Echo\.nope") as unknown:
            client.call("Echo.nope", timeout=10)
        assert unknown.value.definite
        with pytest.raises(UnknownMethod, match="no service 'Nope'"):
            client.call("Nope.x", timeout=10)
        with pytest.raises(BadArguments, match=r"Echo\.add") as bad:
            client.call("Echo.add", 1, timeout=10)
        assert bad.value.definite
        with pytest.raises(RemoteError) as remote:
            client.call("Echo.fail", "boom", timeout=10)
        assert not remote.value.definite
        assert remote.value.type_name == "ValueError"
        assert remote.value.remote_message == "boom"
        assert "def fail" in remote.value.traceback_text or "raise ValueError" in (
            remote.value.traceback_text
        )
        with pytest.raises(RemoteError, match="cannot carry"):
            client.call("Echo.unsendable", timeout=10)
        with pytest.raises(TypeError, match="cannot send"):
            client.call("Echo.echo", object(), timeout=10)
        assert client.call("Echo.add", 1, 1, timeout=10) == 2  # still usable
        assert client.statistics().connections_made == 1
    stats = server.statistics()
    assert stats.errors >= 2


def test_private_methods_are_not_served(echo_server):
    server, _ = echo_server
    assert "Echo.echo" in server.methods()
    assert not any(name.split(".")[1].startswith("_") for name in server.methods())
    with Client(server.address) as client, pytest.raises(UnknownMethod):
        client.call("Echo.__init__", timeout=10)


def test_many_threads_share_one_client_and_get_their_own_replies(echo_server):
    server, _ = echo_server
    with Client(server.address) as client:

        def work(i: int) -> list:
            return [client.call("Echo.add", i, j, timeout=20) for j in range(50)]

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(work, range(16)))
        assert results == [[i + j for j in range(50)] for i in range(16)]
        assert client.statistics().connections_made == 1
        assert client.statistics().in_flight == 0


def test_slow_handler_does_not_stall_other_calls_on_the_same_connection(echo_server):
    server, service = echo_server
    with Client(server.address) as client:
        slow = client.call_async("Echo.wait_for_release", timeout=30)
        assert service.started.wait(20)
        # If the slow handler blocked the connection, these would time out: it only
        # returns after the test releases it below.
        assert [client.call("Echo.add", i, 1, timeout=20) for i in range(5)] == [1, 2, 3, 4, 5]
        with Client(server.address) as other:
            assert other.call("Echo.echo", "other", timeout=20) == "other"
        assert not slow.done()
        service.release.set()
        assert slow.result(20) == "released"


def test_call_async_returns_futures(echo_server):
    server, _ = echo_server
    with Client(server.address) as client:
        futures = [client.call_async("Echo.add", i, i, timeout=20) for i in range(100)]
        assert [f.result(20) for f in futures] == [2 * i for i in range(100)]
        failing = client.call_async("Echo.nope", timeout=20)
        assert isinstance(failing.exception(20), UnknownMethod)


def test_blocking_calls_right_after_async_ones_are_answered(echo_server):
    # The background reader lingers on the connection after an async reply, so the blocking
    # call that follows waits as a follower and must still get its own reply, fast or slow.
    server, service = echo_server
    with Client(server.address) as client:
        for i in range(200):
            assert client.call_async("Echo.add", i, 1, timeout=20).result(20) == i + 1
            assert client.call("Echo.add", i, 2, timeout=20) == i + 2
        assert client.call_async("Echo.echo", "x", timeout=20).result(20) == "x"
        time.sleep(0.1)  # past the linger: the blocking caller reads for itself again
        assert client.call("Echo.echo", "y", timeout=20) == "y"
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(client.call, "Echo.wait_for_release", timeout=20)
            assert service.started.wait(20)
            service.release.set()
            assert slow.result(20) == "released"


def test_async_timeout_when_reply_dropped(echo_server):
    server, _ = echo_server
    server.policy.set(drop_reply=1.0)
    with Client(server.address) as client:
        error = client.call_async("Echo.append", "x", timeout=0.2).exception(20)
    assert isinstance(error, RpcTimeout)
    assert not error.definite


def test_reconnects_after_server_restart():
    service = Echo()
    server = Server(name="n1").start()
    server.register(service)
    port = server.address[1]
    client = Client(server.address)
    try:
        assert client.call("Echo.echo", 1, timeout=10) == 1
        server.close()
        with pytest.raises(ConnectionLost) as lost:
            client.call("Echo.echo", 2, timeout=10)
        assert lost.value.definite  # nothing listens: the call certainly did not run
        server = Server(name="n1", port=port).start()
        server.register(service)
        assert wait_until(lambda: _succeeds(client))
        assert client.statistics().connections_made == 2
    finally:
        client.close()
        server.close()


def _succeeds(client: Client) -> bool:
    try:
        return client.call("Echo.echo", 3, timeout=5) == 3
    except ConnectionLost:
        return False


def test_close_fails_pending_calls_and_leaves_no_threads():
    before = set(threading.enumerate())
    service = Echo()
    server = Server(name="n1").start()
    server.register(service)
    client = Client(server.address)
    assert client.call("Echo.echo", 1, timeout=10) == 1
    pending = client.call_async("Echo.wait_for_release", timeout=30)
    assert service.started.wait(20)
    client.close()
    assert isinstance(pending.exception(20), ConnectionLost)
    service.release.set()
    server.close()
    assert wait_until(lambda: set(threading.enumerate()) <= before)
    with pytest.raises(ConnectionLost):
        client.call("Echo.echo", 1, timeout=1)


def test_lamport_timestamps_order_every_receive_after_its_send(echo_server):
    tracer = Tracer()
    service = Echo()
    with Server(name="s", tracer=tracer) as server:
        server.register(service)
        with Client(server.address, name="c", tracer=tracer) as client:
            for i in range(5):
                client.call("Echo.echo", i, timeout=10)
    events = tracer.events()
    assert len(events) == 20
    sends = {
        (e.node, e.peer, e.message, e.request_id): e.lamport for e in events if e.kind == "send"
    }
    for event in (e for e in events if e.kind == "recv"):
        assert event.lamport > sends[(event.peer, event.node, event.message, event.request_id)]
    assert {e.method for e in events} == {"Echo.echo"}
    assert tracer.statistics().recorded == 20


def test_register_rejects_duplicates_and_bad_names():
    server = Server()
    server.register(Echo())
    with pytest.raises(ValueError, match="already"):
        server.register(Echo())
    with pytest.raises(ValueError, match="contain no"):
        server.register(Echo(), "A.B")
    with pytest.raises(ValueError, match="already"):
        server.register(Echo(), "Fault")


def test_policy_is_shared_between_server_and_its_clients():
    policy = FaultPolicy(seed=1)
    server = Server(name="n1", policy=policy)
    assert server.policy is policy
    assert Server().policy is not None


def test_tracer_is_bounded():
    tracer = Tracer(max_events=3)
    for i in range(5):
        tracer.record("a", "b", "send", "request", "M.m", i, i)
    assert [e.request_id for e in tracer.events()] == [2, 3, 4]
    assert tracer.statistics().recorded == 5 and tracer.statistics().discarded == 2
    tracer.clear()
    assert tracer.events() == [] and tracer.statistics().discarded == 2
