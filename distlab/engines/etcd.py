"""etcd on loopback: a 3-member cluster, a client for its HTTP/JSON API, and fault controls.

`EtcdCluster.start(3)` runs Debian's ``etcd`` binary (3.4) three times on 127.0.0.1, each
member with free client and peer ports and a data directory under a temporary folder.
Members reach each other through a `LinkProxy` in front of every peer port (they advertise
the proxy's port), which is how ``partition`` cuts raft traffic between chosen members
without root: the proxy reads each peer request's ``X-Server-From`` header and refuses the
members on the other side. ``crash`` is kill -9, ``restart`` starts the member again on its
data directory, ``pause``/``resume`` are SIGSTOP/SIGCONT. Pre-vote is on, so a member that
comes back from a partition does not depose a healthy leader.

The client, `EtcdClient`, speaks etcd's v3 gRPC-gateway (``POST /v3/kv/put``,
``/v3/kv/range``, ``/v3/kv/txn``; keys and values base64) with the standard library's
``http.client``. Why not a PyPI client? ``etcd3`` (python-etcd3) has had no release since
2020 and pins grpcio/protobuf 3 stubs that newer protobuf refuses; ``etcd3gw`` is
maintained and uses this same gateway, but turns "connection refused" (the request surely
did not run) and "connection broken mid-request" (it may have run) into one exception, and
the checker needs that difference; it also brings requests, futurist and pbr. The gateway
calls we need fit in one page.

Reads are linearizable by default (etcd confirms leadership with a quorum, ReadIndex) or
serializable (``serializable=True``: the member answers from its own copy, which may be
stale). ``append`` has no etcd command: it is a compare-and-swap loop of transactions on
the key's ``mod_revision``, which is atomic and therefore as strong as a native append.

Never prints; never binds anything but 127.0.0.1; `close()` kills every member.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
from pathlib import Path
from typing import Any

from distlab.engines.base import EngineError, MemberStatus
from distlab.engines.processes import (
    HOST,
    LeaderEngine,
    ServerProcess,
    free_ports,
    wait_until,
)
from distlab.engines.proxy import LinkProxy, etcd_peer_identity

__all__ = ["EtcdClient", "EtcdCluster"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str | None) -> str:
    return base64.b64decode(text or "").decode()


class EtcdClient:
    """One HTTP connection to one etcd member's client port (not thread-safe: one per thread).

    ``serializable`` chooses the read mode of `get`. ``timeout_s`` bounds every request; a
    request that times out raises an indefinite `EngineError`.
    """

    def __init__(
        self,
        address: tuple[str, int],
        *,
        serializable: bool = False,
        timeout_s: float = 2.0,
        append_attempts: int = 20,
    ) -> None:
        self.address = address
        self.serializable = serializable
        self.timeout_s = timeout_s
        self.append_attempts = append_attempts
        self._conn: http.client.HTTPConnection | None = None

    # ----- the KV interface ----------------------------------------------------------------

    def put(self, key: str, value: str) -> None:
        self._call("/v3/kv/put", {"key": _b64(key), "value": _b64(value)}, write=True)

    def get(self, key: str) -> str:
        """The key's value ("" when missing), read linearizably or serializably."""
        return self._range(key, self.serializable)[0]

    def append(self, key: str, suffix: str) -> None:
        """Atomically add ``suffix`` to the key's value (a compare-and-swap transaction loop)."""
        value, revision = self._range(key, serializable=True)  # a guess; the compare decides
        for _ in range(self.append_attempts):
            body = {
                "compare": [
                    {"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": revision}
                ],
                "success": [{"request_put": {"key": _b64(key), "value": _b64(value + suffix)}}],
                "failure": [{"request_range": {"key": _b64(key)}}],
            }
            reply = self._call("/v3/kv/txn", body, write=True)
            if reply.get("succeeded"):
                return
            # Lost the race (or our guess was stale): the failure branch read the key.
            ranged = reply.get("responses", [{}])[0].get("response_range", {})
            value, revision = self._first_kv(ranged)
        raise EngineError(
            f"append({key!r}) lost the compare-and-swap race {self.append_attempts} times",
            definite=True,  # every attempt's compare failed: nothing was written
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ----- cluster information -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The member's status: ``member_id``, ``leader``, ``raft_term``, ``raft_index``."""
        reply = self._call("/v3/maintenance/status", {}, write=False)
        header = reply.get("header", {})
        return {
            "member_id": int(header.get("member_id", 0)),
            "leader": int(reply.get("leader", 0)),
            "raft_term": int(reply.get("raftTerm", reply.get("raft_term", 0))),
            "raft_index": int(reply.get("raftIndex", reply.get("raft_index", 0))),
        }

    def members(self) -> dict[str, int]:
        """Member name -> member id, as this member knows the cluster."""
        reply = self._call("/v3/cluster/member/list", {}, write=False)
        return {m.get("name", ""): int(m["ID"]) for m in reply.get("members", [])}

    # ----- plumbing ----------------------------------------------------------------------

    def _range(self, key: str, serializable: bool) -> tuple[str, int]:
        body: dict[str, Any] = {"key": _b64(key)}
        if serializable:
            body["serializable"] = True
        return self._first_kv(self._call("/v3/kv/range", body, write=False))

    @staticmethod
    def _first_kv(ranged: dict[str, Any]) -> tuple[str, int]:
        kvs = ranged.get("kvs") or []
        if not kvs:
            return "", 0  # a missing key: compare against mod_revision 0
        return _unb64(kvs[0].get("value")), int(kvs[0].get("mod_revision", 0))

    def _call(self, path: str, body: dict[str, Any], *, write: bool) -> dict[str, Any]:
        payload = json.dumps(body).encode()
        if self._conn is None:
            conn = http.client.HTTPConnection(*self.address, timeout=self.timeout_s)
            try:
                conn.connect()
            except ConnectionRefusedError as err:
                conn.close()
                raise EngineError(
                    f"{path}: connection refused by {self.address}", definite=True
                ) from err
            except OSError as err:
                conn.close()
                # Not connected, so nothing was sent: the request did not run.
                raise EngineError(
                    f"{path}: cannot connect to {self.address}: {err}", definite=True
                ) from err
            self._conn = conn
        try:
            self._conn.request("POST", path, payload, {"Content-Type": "application/json"})
            response = self._conn.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as err:
            # Sent (at least partly) and no answer: a write may have been applied anyway.
            self.close()
            kind = "timed out" if isinstance(err, socket.timeout) else f"failed ({err!r})"
            raise EngineError(f"{path} {kind}", definite=False) from err
        try:
            reply = json.loads(text or b"{}")
        except ValueError:
            reply = {"error": text[:200].decode(errors="replace")}
        if response.status != 200:
            message = reply.get("error") or reply.get("message") or f"HTTP {response.status}"
            # From outside we cannot prove a failed write did not reach the raft log (etcd
            # says "request timed out" or "leader changed" after proposing), so any server
            # error on a write is indefinite. A failed read changed nothing either way.
            raise EngineError(f"{path}: {message}", definite=not write)
        return reply

    def __repr__(self) -> str:
        mode = "serializable" if self.serializable else "linearizable"
        return f"EtcdClient({self.address[0]}:{self.address[1]}, {mode} reads)"


class EtcdCluster(LeaderEngine):
    """A 3-member (or n-member) etcd cluster on loopback. Use `start` as a context manager::

    with EtcdCluster.start(3) as etcd:
        etcd.client("n0").put("x", "1")
        etcd.isolate("n2"); etcd.client("n2", serializable=True).get("x")  # stale
        etcd.heal()
    """

    system = "etcd"
    leader_wait = ("an etcd leader", 0.1)

    def __init__(
        self,
        n: int = 3,
        *,
        root: str | Path | None = None,
        heartbeat_ms: int = 100,
        election_ms: int = 1000,
        start_timeout_s: float = 30.0,
    ) -> None:
        if n < 1:
            raise ValueError(f"an etcd cluster needs at least one member, got n={n}")
        super().__init__("etcd", [f"n{i}" for i in range(n)], root, start_timeout_s)
        ports = free_ports(2 * n)
        self.client_ports = dict(zip(self._names, ports[:n], strict=True))
        peer_ports = dict(zip(self._names, ports[n:], strict=True))
        self.proxies = {
            name: LinkProxy(
                (HOST, peer_ports[name]), name=f"etcd-{name}-peer", identify=etcd_peer_identity
            )
            for name in self._names
        }
        cluster = ",".join(f"{m}=http://{HOST}:{self.proxies[m].port}" for m in self._names)
        token = f"distlab-{secrets.token_hex(4)}"
        for name in self._names:
            client_url = f"http://{HOST}:{self.client_ports[name]}"
            command = [
                self._binary,
                f"--name={name}",
                f"--data-dir={self.root / name}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls=http://{HOST}:{peer_ports[name]}",
                f"--initial-advertise-peer-urls=http://{HOST}:{self.proxies[name].port}",
                f"--initial-cluster={cluster}",
                f"--initial-cluster-token={token}",
                "--initial-cluster-state=new",
                f"--heartbeat-interval={heartbeat_ms}",
                f"--election-timeout={election_ms}",
                "--pre-vote=true",
                "--logger=zap",
                "--log-outputs=stderr",
            ]
            self.servers[name] = ServerProcess(name, command, self.root / f"{name}.log")
        self.member_ids: dict[str, str] = {}  # name -> hex id, as in X-Server-From

    def _boot(self) -> str:
        detail = super()._boot()
        ids = self.client(self._names[0]).members()
        self.member_ids = {name: format(ids[name], "x") for name in self._names}
        return detail

    # ----- the Engine interface (the rest is LeaderEngine's) -----------------------------

    def client(
        self, name: str, *, serializable: bool = False, timeout_s: float = 2.0
    ) -> EtcdClient:
        return EtcdClient(self.address(name), serializable=serializable, timeout_s=timeout_s)

    def wait_for_member(self, name: str, timeout_s: float | None = None) -> None:
        """Wait until member ``name`` answers on its client port and knows a leader."""

        def ready() -> bool:
            status = self.status_of(name)
            return status.alive and status.fields.get("role") != "no leader"

        wait_until(ready, timeout_s or self.start_timeout_s, f"etcd member {name}", 0.1)

    def _cut(self, sides: list[set[str]]) -> None:
        # Each member's peer proxy refuses raft requests from members outside its side.
        for side in sides:
            outside = {self.member_ids[m] for m in self._names if m not in side}
            for name in side:
                self.proxies[name].cut(outside)

    def _probe(self, client: Any) -> dict[str, Any]:
        """Role "leader", "follower" or "no leader", raft term and index."""
        raw = client.status()
        role = "leader" if raw["leader"] == raw["member_id"] else "follower"
        if raw["leader"] == 0:
            role = "no leader"
        return {"role": role, "term": raw["raft_term"], "raft_index": raw["raft_index"]}

    def _agreed_leader(self, statuses: dict[str, MemberStatus]) -> str | None:
        # Every running member knows the same leader (none says "no leader").
        up = [s for s in statuses.values() if s.alive]
        leaders = [s.name for s in up if s.fields.get("role") == "leader"]
        if len(leaders) == 1 and all(s.fields.get("role") != "no leader" for s in up):
            return leaders[0]
        return None
