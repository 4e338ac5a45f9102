"""distlab.rpc: remote procedure calls over TCP, with an unreliable network you control.

    from distlab.rpc import Server, Client
    server = Server(name="n1").start(); server.register(KV())
    client = Client(server.address, name="n0")
    client.call("KV.put", "x", "1", timeout=1.0)

Modules, in reading order: ``framing`` (bytes -> frames), ``codec`` (frames -> messages),
``errors`` (what can go wrong, definite or not), ``calls`` (the client's protocol state
and retry rule, no I/O), ``server``, ``client``, ``faults``
(drops, delays, duplicates, reordering, partitions), ``at_most_once`` (duplicate table),
``auth`` (HMAC challenge-response), ``trace`` (Lamport clocks, message records).
The wire format is specified in docs/WIRE_FORMAT.md; the API in docs/CONTRACTS.md.
"""

from distlab.rpc.at_most_once import ClientSession, DuplicateTable
from distlab.rpc.client import Client, ClientStatistics
from distlab.rpc.errors import (
    AuthenticationError,
    BadArguments,
    BadRequest,
    ConnectionLost,
    RemoteError,
    RpcError,
    RpcTimeout,
    SessionExpired,
    Unauthorized,
    UnknownMethod,
)
from distlab.rpc.faults import CONTROLLER, FaultControl, FaultPolicy, FaultStatistics
from distlab.rpc.framing import FrameDecoder, FrameError, encode_frame
from distlab.rpc.server import Server, ServerStatistics
from distlab.rpc.trace import LamportClock, TraceEvent, Tracer

__all__ = [
    "CONTROLLER",
    "AuthenticationError",
    "BadArguments",
    "BadRequest",
    "Client",
    "ClientSession",
    "ClientStatistics",
    "ConnectionLost",
    "DuplicateTable",
    "FaultControl",
    "FaultPolicy",
    "FaultStatistics",
    "FrameDecoder",
    "FrameError",
    "LamportClock",
    "RemoteError",
    "RpcError",
    "RpcTimeout",
    "Server",
    "ServerStatistics",
    "SessionExpired",
    "TraceEvent",
    "Tracer",
    "Unauthorized",
    "UnknownMethod",
    "encode_frame",
]
