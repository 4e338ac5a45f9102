"""RaftClient: submit commands to a Raft cluster without knowing who the leader is.

What it is: a small client for :class:`~distlab.replicated.raft_peer.RaftPeer` clusters. It
remembers the last leader it heard of, follows `NotLeader` hints, tries the other nodes
in turn when a node is down or has no leader, and retries until a deadline.

What it must never do: hide an indefinite outcome. ``submit`` retries only answers that are
definite (not the leader, lost leadership, connection refused) unless ``retry_timeouts`` is
set, because re-sending a command whose first copy timed out may apply it twice (the
service above Raft must deduplicate if that matters -- chapter 10).

Where it fits: tests, the benchmark and the notebook talk to a real cluster through it; a
service with its own client (the strong KV store) may use it or copy its loop.
"""

from __future__ import annotations

import time
from typing import Any

from distlab.replicated.replies import Applied, ApplyFailed, Reply, TimedOut, decode_reply
from distlab.rpc import RpcError

__all__ = ["RaftClient"]


class RaftClient:
    """Submits to whichever node leads; ``cluster`` is a :class:`distlab.cluster.Cluster`.

    ``nodes`` limits the nodes it talks to (default: all), e.g. to one side of a partition.
    """

    def __init__(
        self, cluster: Any, *, client_name: str = "client", nodes: list[str] | None = None
    ) -> None:
        self.cluster = cluster
        self.client_name = client_name
        self.nodes = list(nodes) if nodes is not None else list(cluster.names)
        self.leader: str | None = None
        self._clients: dict[str, Any] = {}

    def _client(self, name: str) -> Any:
        client = self._clients.get(name)
        if client is None:
            client = self.cluster.client(name, client_name=self.client_name)
            self._clients[name] = client
        return client

    def submit(
        self,
        command: Any,
        *,
        timeout_s: float = 10.0,
        attempt_timeout_s: float = 1.0,
        retry_timeouts: bool = False,
        pause_s: float = 0.002,
    ) -> Reply:
        """Submit until a node answers `Applied` or ``timeout_s`` seconds pass.

        Returns the last reply (`distlab.replicated.replies`): `Applied` on success;
        `TimedOut` if the deadline passed, or if an attempt timed out and
        ``retry_timeouts`` is False; `ApplyFailed` if the service raised.
        """
        deadline = time.monotonic() + timeout_s
        names = self.nodes
        turn = 0
        answer: Reply = TimedOut(None)
        while time.monotonic() < deadline:
            leader = self.leader
            target = leader if leader is not None and leader in names else names[turn % len(names)]
            turn += 1
            try:
                answer = decode_reply(
                    self._client(target).call(
                        "Replicated.submit",
                        command,
                        attempt_timeout_s,
                        timeout=attempt_timeout_s + 1.0,
                    )
                )
            except RpcError as error:
                self.leader = None
                if not error.definite and not retry_timeouts:
                    return TimedOut(None)
                time.sleep(pause_s)
                continue
            match answer:
                case Applied():
                    self.leader = target
                    return answer
                case ApplyFailed():
                    return answer
                case TimedOut() if not retry_timeouts:
                    return answer
            # NotLeader, LostLeadership or (retried) TimedOut: follow the hint, if any.
            hint = answer.leader_hint
            self.leader = hint if hint in names and hint != target else None
            if self.leader is None:
                time.sleep(pause_s)
        return answer

    def find_leader(self, timeout_s: float = 10.0) -> str | None:
        """The node that reports itself leader in the highest term, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            best = None
            for name, status in self.cluster.status().items():
                fields = status.fields
                is_leader = status.alive and fields.get("role") == "leader"
                if is_leader and (best is None or fields["term"] > best[1]):
                    best = (name, fields["term"])
            if best is not None:
                self.leader = best[0]
                return best[0]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
