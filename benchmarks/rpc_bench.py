"""How fast is distlab.rpc? Sequential round trips against the Python floor and the stdlib.

Contenders, each a server in its own process, measured interleaved in one run:

  distlab      distlab.rpc Server/Client, method "Echo.echo"
  raw-echo     a bare socket echo with the same framing and msgpack codec (the floor:
               no request ids, no threads handing work over, no dispatch)
  mp-conn      multiprocessing.connection Listener/Client (send/recv)
  xmlrpc       stock xmlrpc.server / xmlrpc.client
  distlab-8t   8 threads sharing one distlab Client (throughput only)
  distlab-async  distlab ``call_async(...).result()`` back to back: every reply goes
               through the client's background reader thread and a Future (the cost of
               the hand-over the blocking path avoids); ``--async-linger-s 0`` turns
               the reader's linger off, to measure what it saves

Loopback speed on a 2-CPU machine depends on whether client and server share a CPU:
``--pin same`` puts both on CPU 0, ``--pin split`` the client on CPU 0 and servers on
CPU 1, ``--pin none`` lets the OS decide. Compare ratios within one placement.

    .venv/bin/python benchmarks/rpc_bench.py --pin same
    .venv/bin/python benchmarks/rpc_bench.py --quick
    PYTHONPATH=/path/to/checkout .venv/bin/python benchmarks/rpc_bench.py  # that checkout's distlab

Prints a table of medians over the repetitions, then one JSON line with every figure
and the ratios (targets: distlab >= 0.6x raw-echo, >= 5x xmlrpc; 8 threads >= 1 thread).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable

ARGUMENT = "hello"  # small arguments, as the issue asks


# ---------------------------------------------------------------------------------------
# Servers (each runs in a spawned child process)
# ---------------------------------------------------------------------------------------
def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


class Echo:
    """The benchmark's service."""

    def echo(self, value):
        return value


def _serve_distlab(ready) -> None:
    from distlab.rpc import Server

    server = Server(name="bench").start()
    server.register(Echo())
    ready.send(server.address[1])
    ready.recv()  # wait for "stop"
    server.close()


def _serve_raw(ready) -> None:
    from distlab.rpc import codec
    from distlab.rpc.framing import HEADER, VERSION, FrameDecoder

    listener = socket.create_server(("127.0.0.1", 0))
    ready.send(listener.getsockname()[1])

    def handle(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = FrameDecoder()
        packer = codec.packer()
        with sock:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                for payload in decoder.feed(chunk):
                    request = codec.unpack(payload)
                    reply = packer.pack([1, request[1], 0, True, request[4][0]])
                    sock.sendall(HEADER.pack(len(reply), VERSION) + reply)

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    ready.recv()


def _serve_mp(ready) -> None:
    from multiprocessing.connection import Listener

    listener = Listener(("127.0.0.1", 0), authkey=b"bench")
    ready.send(listener.address[1])

    def handle(conn) -> None:
        try:
            while True:
                conn.send(conn.recv())
        except (EOFError, OSError):
            return

    def accept() -> None:
        while True:
            try:
                conn = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    ready.recv()


def _serve_xmlrpc(ready) -> None:
    from xmlrpc.server import SimpleXMLRPCServer

    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    server.register_function(lambda value: value, "echo")
    ready.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.recv()
    server.shutdown()


def _child(kind: str, cpu: int | None, conn) -> None:
    _pin(cpu)
    {"distlab": _serve_distlab, "raw": _serve_raw, "mp": _serve_mp, "xmlrpc": _serve_xmlrpc}[kind](
        conn
    )


# ---------------------------------------------------------------------------------------
# Clients (in this process)
# ---------------------------------------------------------------------------------------
def _client_distlab(port: int) -> tuple[Callable[[], object], Callable[[], None]]:
    from distlab.rpc import Client

    client = Client(("127.0.0.1", port), name="bench-client")
    return (lambda: client.call("Echo.echo", ARGUMENT)), client.close


def _client_distlab_async(port: int) -> tuple[Callable[[], object], Callable[[], None]]:
    from distlab.rpc import Client

    client = Client(("127.0.0.1", port), name="bench-async")
    return (lambda: client.call_async("Echo.echo", ARGUMENT).result()), client.close


def _client_raw(port: int) -> tuple[Callable[[], object], Callable[[], None]]:
    from distlab.rpc import codec
    from distlab.rpc.framing import HEADER, VERSION, FrameDecoder

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    decoder = FrameDecoder()
    packer = codec.packer()
    ids = iter(range(1, 1 << 62))

    def call() -> object:
        payload = packer.pack([0, next(ids), 0, "Echo.echo", [ARGUMENT]])
        sock.sendall(HEADER.pack(len(payload), VERSION) + payload)
        while True:
            frames = decoder.feed(sock.recv(65536))
            if frames:
                return codec.unpack(frames[0])[4]

    return call, sock.close


def _client_mp(port: int) -> tuple[Callable[[], object], Callable[[], None]]:
    from multiprocessing.connection import Client

    conn = Client(("127.0.0.1", port), authkey=b"bench")

    def call() -> object:
        conn.send(ARGUMENT)
        return conn.recv()

    return call, conn.close


def _client_xmlrpc(port: int) -> tuple[Callable[[], object], Callable[[], None]]:
    from xmlrpc.client import ServerProxy

    proxy = ServerProxy(f"http://127.0.0.1:{port}/", allow_none=True)
    return (lambda: proxy.echo(ARGUMENT)), proxy("close")


CLIENTS = {
    "distlab": _client_distlab,
    "raw-echo": _client_raw,
    "mp-conn": _client_mp,
    "xmlrpc": _client_xmlrpc,
    "distlab-async": _client_distlab_async,
}
SERVER_OF = {
    "distlab": "distlab",
    "raw-echo": "raw",
    "mp-conn": "mp",
    "xmlrpc": "xmlrpc",
    "distlab-async": "distlab",
}


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (None: this process)."""
    if pid is None:
        return time.process_time()
    try:
        import psutil
    except ImportError:
        return float("nan")
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure_sequential(
    call: Callable[[], object], n: int, server_pid: int | None = None
) -> dict[str, float]:
    """n back-to-back calls: calls/s, latency percentiles (microseconds), and the CPU
    microseconds per call spent by this process (client) and by the server's process.

    On a machine shared with other work, wall-clock rates swing with the load; CPU time
    per call does much less, so compare versions by ``cpu_us`` when the load is high.
    """
    for _ in range(min(200, n)):  # warm up (connections, caches)
        call()
    latencies = []
    clock = time.perf_counter_ns
    client_cpu0, server_cpu0 = _cpu_s(None), _cpu_s(server_pid) if server_pid else 0.0
    start = clock()
    for _ in range(n):
        t0 = clock()
        call()
        latencies.append(clock() - t0)
    elapsed = (clock() - start) / 1e9
    client_cpu = _cpu_s(None) - client_cpu0
    server_cpu = (_cpu_s(server_pid) - server_cpu0) if server_pid else float("nan")
    latencies.sort()
    return {
        "calls_per_s": n / elapsed,
        "p50_us": latencies[len(latencies) // 2] / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
        "client_cpu_us": client_cpu / n * 1e6,
        "server_cpu_us": server_cpu / n * 1e6,
    }


def measure_threads(port: int, threads: int, n: int) -> dict[str, float]:
    """``threads`` threads share one distlab Client, n calls in all: calls/s."""
    from distlab.rpc import Client

    client = Client(("127.0.0.1", port), name="bench-threads")
    client.call("Echo.echo", ARGUMENT)
    per_thread = n // threads
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            client.call("Echo.echo", ARGUMENT)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    client.close()
    return {"calls_per_s": per_thread * threads / elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pin", choices=["same", "split", "none"], default="none")
    parser.add_argument("--calls", type=int, default=5000, help="calls per measurement")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (medians reported)")
    parser.add_argument("--quick", action="store_true", help="1000 calls x 3 reps")
    parser.add_argument(
        "--async-linger-s",
        type=float,
        default=None,
        help="override the client's ASYNC_LINGER_S (0: no linger) to measure what it buys",
    )
    args = parser.parse_args(argv)
    if args.async_linger_s is not None:
        import distlab.rpc.client

        distlab.rpc.client.ASYNC_LINGER_S = args.async_linger_s
    if args.quick:
        args.calls, args.reps = 1000, 3
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    client_cpu = server_cpu = None
    if args.pin != "none" and cpus:
        client_cpu = cpus[0]
        server_cpu = cpus[0] if args.pin == "same" or len(cpus) < 2 else cpus[1]
    _pin(client_cpu)

    context = multiprocessing.get_context("spawn")
    children = {}
    try:
        ports = {}
        for kind in ("distlab", "raw", "mp", "xmlrpc"):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_child, args=(kind, server_cpu, child_end), daemon=True
            )
            process.start()
            children[kind] = (process, parent_end)
            ports[kind] = parent_end.recv()
        clients = {name: CLIENTS[name](ports[SERVER_OF[name]]) for name in CLIENTS}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in [*CLIENTS, "distlab-8t"]}
        order = [*CLIENTS, "distlab-8t"]
        for rep in range(args.reps):
            # Rotate the order each repetition so no contender always runs first.
            for name in order[rep % len(order) :] + order[: rep % len(order)]:
                if name == "distlab-8t":
                    runs[name].append(measure_threads(ports["distlab"], 8, args.calls))
                else:
                    server_pid = children[SERVER_OF[name]][0].pid
                    runs[name].append(measure_sequential(clients[name][0], args.calls, server_pid))
        for _, close in clients.values():
            close()
    finally:
        for process, pipe in children.values():
            with contextlib.suppress(OSError):
                pipe.send("stop")
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()

    import distlab

    result: dict[str, object] = {
        "pin": args.pin,
        "calls": args.calls,
        "reps": args.reps,
        "distlab": os.path.dirname(os.path.dirname(distlab.__file__)),
        "async_linger_s": args.async_linger_s,
    }
    print(
        f"rpc benchmark: pin={args.pin}, {args.calls} calls x {args.reps} reps (medians), "
        f"distlab from {result['distlab']}"
    )
    print(
        f"{'contender':<14} {'calls/s':>10} {'p50 us':>9} {'p99 us':>9} "
        f"{'cpu us/call (client+server)':>28}"
    )
    medians: dict[str, dict[str, float]] = {}
    for name, samples in runs.items():
        medians[name] = {
            key: statistics.median(sample[key] for sample in samples) for key in samples[0]
        }
        row = medians[name]
        p50 = f"{row['p50_us']:9.0f}" if "p50_us" in row else f"{'-':>9}"
        p99 = f"{row['p99_us']:9.0f}" if "p99_us" in row else f"{'-':>9}"
        cpu = (
            f"{row['client_cpu_us']:12.1f} + {row['server_cpu_us']:.1f}"
            if "client_cpu_us" in row
            else f"{'-':>12}"
        )
        print(f"{name:<14} {row['calls_per_s']:10.0f} {p50} {p99} {cpu}")
    ratios = {
        "distlab_vs_raw_echo": medians["distlab"]["calls_per_s"]
        / medians["raw-echo"]["calls_per_s"],
        "distlab_vs_xmlrpc": medians["distlab"]["calls_per_s"] / medians["xmlrpc"]["calls_per_s"],
        "distlab_vs_mp_conn": medians["distlab"]["calls_per_s"] / medians["mp-conn"]["calls_per_s"],
        "threads8_vs_1": medians["distlab-8t"]["calls_per_s"] / medians["distlab"]["calls_per_s"],
        "async_vs_raw_echo": medians["distlab-async"]["calls_per_s"]
        / medians["raw-echo"]["calls_per_s"],
        # CPU per call, client + server, against the raw echo's: steadier under load.
        "cpu_distlab_vs_raw_echo": (
            medians["distlab"]["client_cpu_us"] + medians["distlab"]["server_cpu_us"]
        )
        / (medians["raw-echo"]["client_cpu_us"] + medians["raw-echo"]["server_cpu_us"]),
    }
    print(
        "ratios: "
        + ", ".join(f"{key} {value:.2f}" for key, value in ratios.items())
        + "  (targets: raw_echo >= 0.6, xmlrpc >= 5, threads8 >= 1; cpu_distlab_vs_raw_echo:"
        " CPU per call relative to the raw echo, lower is better)"
    )
    result.update({"medians": medians, "ratios": ratios})
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
