"""The client's connector: ``call_async`` never connects on its caller's thread.

The peer here is a hand-made server: a plain listening socket, so the kernel accepts a
connection at once (as a frozen, SIGSTOPped peer's kernel does) but nothing answers the
handshake until the test thread itself does. A ``call_async`` that returned before the
test answered therefore did not wait for the connection: no clock is read.
"""

from __future__ import annotations

import threading

from distlab.rpc import Client, ConnectionLost, RpcTimeout, Server
from distlab.rpc.client import _AsyncCall
from tests.rpc.helpers import Echo, HandMadeServer, wait_until

LONG_S = 120.0  # a connect or call timeout no test waits out


def test_call_async_returns_while_the_handshake_is_unanswered():
    with HandMadeServer() as server, Client(server.address, connect_timeout=LONG_S) as client:
        future = client.call_async("Echo.echo", "x", timeout=LONG_S)
        # Only this thread answers the handshake, and only now: had call_async connected
        # on this thread, it would have returned after LONG_S with its future failed.
        assert not future.done()
        peer = server.accept()
        peer.answer_handshake()
        [request] = peer.read_requests(1)
        assert request[3:] == ["Echo.echo", ["x"]]
        peer.reply(request, "x")
        assert future.result(20) == "x"


def test_a_connect_that_times_out_fails_definitely_and_each_retry_connects_again():
    with HandMadeServer() as server, Client(server.address, connect_timeout=0.2) as client:
        future = client.call_async("Echo.echo", 1, timeout=LONG_S, retries=2)
        error = future.exception(30)
        assert isinstance(error, ConnectionLost)
        assert error.definite  # no handshake, so no request was sent
        assert client.statistics().retries == 2
        for _ in range(3):  # the first attempt and two retries each opened a connection
            server.accept()


def test_waiting_for_the_connection_counts_against_the_calls_timeout():
    with HandMadeServer() as server, Client(server.address, connect_timeout=LONG_S) as client:
        patient = client.call_async("Echo.echo", 1, timeout=LONG_S)
        hasty = client.call_async("Echo.echo", 2, timeout=0.2)
        error = hasty.exception(30)
        assert isinstance(error, RpcTimeout)
        assert error.definite  # never sent: it waited for a connection all along
        assert "no connection was made in time" in str(error)
        assert not patient.done()  # the connect goes on for the call that can still wait
        peer = server.accept()
        peer.answer_handshake()
        [request] = peer.read_requests(1)
        assert request[4] == [1]
        peer.reply(request, "one")
        assert patient.result(20) == "one"


def test_calls_made_while_connecting_are_sent_in_order(monkeypatch):
    # The connector sends nothing until `sending` is set, so the calls below are made on
    # an open connection while fifty earlier ones still wait: they must queue behind.
    sending = threading.Event()
    send_on = _AsyncCall.send_on

    def held_send_on(self: _AsyncCall, conn, wait_s: float) -> None:
        if threading.current_thread().name.endswith("-connector"):
            sending.wait(20)
        send_on(self, conn, wait_s)

    monkeypatch.setattr(_AsyncCall, "send_on", held_send_on)
    with HandMadeServer() as server, Client(server.address, connect_timeout=LONG_S) as client:
        futures = [client.call_async("Echo.echo", i, timeout=LONG_S) for i in range(50)]
        peer = server.accept()
        peer.answer_handshake()
        assert wait_until(lambda: client.connected)
        futures += [client.call_async("Echo.echo", i, timeout=LONG_S) for i in range(50, 100)]
        sending.set()
        requests = peer.read_requests(100)
        assert [request[4][0] for request in requests] == list(range(100))
        for request in requests:
            peer.reply(request, request[4][0])
        assert [future.result(20) for future in futures] == list(range(100))


def test_a_retry_after_a_lost_connection_reconnects_on_the_connector_thread(monkeypatch):
    connecting_threads: list[str] = []
    connect = Client._connect

    def recording_connect(self: Client, timeout: float):
        connecting_threads.append(threading.current_thread().name)
        return connect(self, timeout)

    monkeypatch.setattr(Client, "_connect", recording_connect)
    with (
        HandMadeServer() as server,
        Client(server.address, name="c1", connect_timeout=LONG_S) as client,
    ):
        future = client.call_async("Echo.echo", "x", timeout=LONG_S, retries=1)
        first = server.accept()
        first.answer_handshake()
        [request] = first.read_requests(1)
        first.close()  # the request was sent, then the connection was lost: retry
        second = server.accept()
        second.answer_handshake()
        [retry] = second.read_requests(1)
        assert retry[4] == ["x"]
        assert retry[1] != request[1]  # a new attempt has a new request id
        second.reply(retry, "x")
        assert future.result(20) == "x"
        assert client.statistics().retries == 1
    assert connecting_threads == ["rpc-client-c1-connector"] * 2  # never the caller, nor timer


def test_calls_on_an_open_connection_start_no_connector():
    service = Echo()
    with Server(name="n1").start() as server, Client(server.address, name="c2") as client:
        server.register(service)
        assert client.call("Echo.echo", 0, timeout=20) == 0  # connects on this thread
        futures = [client.call_async("Echo.add", i, 1, timeout=20) for i in range(20)]
        assert [future.result(20) for future in futures] == list(range(1, 21))
        names = {thread.name for thread in threading.enumerate()}
        assert "rpc-client-c2-connector" not in names


def test_close_while_connecting_fails_the_waiting_calls_and_leaves_no_thread():
    before = set(threading.enumerate())
    with HandMadeServer() as server:
        client = Client(server.address, connect_timeout=LONG_S)
        futures = [client.call_async("Echo.echo", i, timeout=LONG_S, retries=3) for i in range(3)]
        peer = server.accept()  # connected; the handshake is never answered
        closing = threading.Thread(target=client.close)
        closing.start()
        closing.join(30)  # close cuts the handshake short instead of waiting out LONG_S
        assert not closing.is_alive()
        for future in futures:
            error = future.exception(20)
            assert isinstance(error, ConnectionLost)
            assert error.definite  # never sent, and not retried after close
            assert "closed" in str(error)
        assert peer.is_closed_by_client()
    assert wait_until(lambda: set(threading.enumerate()) <= before)
