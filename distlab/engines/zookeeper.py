"""ZooKeeper on loopback: a 3-member ensemble from Debian's package, driven through kazoo.

`ZooKeeperEnsemble.start(3)` runs Debian's ZooKeeper 3.8 (``apt-get install zookeeper``)
three times on 127.0.0.1: ``java ... QuorumPeerMain <member>/zoo.cfg``, each member with its
own data folder (a ``myid`` file), free ports and ``tickTime=200`` so that elections and
session expiry take a second, not ten. ``crash`` is kill -9, ``restart`` starts the member
on its data folder, ``pause``/``resume`` are SIGSTOP/SIGCONT.

Partitions without root: every member's own ``zoo.cfg`` names its peers through a
`LinkProxy` per *direction* (member i reaches member j's quorum and election ports through
proxies that belong to the link i -> j), so cutting a partition closes exactly the links
that cross it. ZooKeeper itself, not a proxy, then decides what a cut-off member does (it
stops serving its clients until it rejoins a quorum -- unlike distlab's service, which
keeps answering reads from its copy: see chapter 11).

`client(name)` is a ``kazoo.client.KazooClient`` pinned to one member (so its session
sticks to that server), started; the chapter's recipes (`distlab.coord.recipes`) run on
it unchanged. kazoo is the maintained Python client of ZooKeeper (the protocol is binary,
with sessions, pings and watch events: not something to hand-write).

Never prints; never binds anything but 127.0.0.1; `close()` kills every member.
"""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path
from typing import Any

from distlab.engines.base import EngineError, MemberStatus
from distlab.engines.processes import (
    HOST,
    LeaderEngine,
    ServerError,
    ServerProcess,
    free_ports,
    wait_until,
)
from distlab.engines.proxy import LinkProxy

__all__ = ["ZOOKEEPER_JAR", "ZooKeeperEnsemble", "check_zookeeper", "four_letter_word"]

# kazoo logs every dropped connection; a crash experiment drops many. Its clients here log to
# a logger of their own that keeps quiet (nothing reaches a notebook's output).
_KAZOO_LOG = logging.getLogger("distlab.engines.zookeeper.kazoo")
_KAZOO_LOG.propagate = False
_KAZOO_LOG.addHandler(logging.NullHandler())

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
ZOOKEEPER_CONF = Path("/etc/zookeeper/conf")


def check_zookeeper() -> str:
    """Say whether ZooKeeper can run here; ServerError naming the package otherwise."""
    if shutil.which("java") is None or not ZOOKEEPER_JAR.exists():
        raise ServerError(
            "ZooKeeper is not installed (no java or no /usr/share/java/zookeeper.jar). On "
            "Debian or Ubuntu: `sudo apt-get install zookeeper` (the course's .ci/system-deps "
            "does it); then restart this kernel"
        )
    return "found: zookeeper -- the real ensemble can run"


def four_letter_word(address: tuple[str, int], word: str, timeout_s: float = 1.0) -> str:
    """Send one of ZooKeeper's four-letter admin words (``srvr``, ``ruok``); its answer."""
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(word.encode())
        chunks = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


class _ProbeClient:
    """What `ServerEngine.status_of` asks a member: ``srvr``, parsed."""

    def __init__(self, address: tuple[str, int], timeout_s: float) -> None:
        self.address, self.timeout_s = address, timeout_s

    def srvr(self) -> dict[str, str]:
        try:
            text = four_letter_word(self.address, "srvr", self.timeout_s)
        except OSError as error:
            raise EngineError(f"{self.address}: {error}", definite=True) from error
        fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
        if "Mode" not in fields:
            raise EngineError(f"{self.address} is not serving: {text.strip()[:80]}", definite=True)
        return fields

    def close(self) -> None:
        pass


class ZooKeeperEnsemble(LeaderEngine):
    """A ZooKeeper ensemble on loopback. Use `start` as a context manager::

    with ZooKeeperEnsemble.start(3) as zk:
        client = zk.client("n0")                   # a started kazoo KazooClient
        Lock(client, "/locks/a").acquire()
    """

    system = "zookeeper"
    leader_wait = ("a ZooKeeper leader", 0.2)

    def __init__(
        self,
        n: int = 3,
        *,
        root: str | Path | None = None,
        tick_ms: int = 200,
        start_timeout_s: float = 60.0,
        heap_mb: int = 128,
    ) -> None:
        if n < 1:
            raise ValueError(f"an ensemble needs at least one member, got n={n}")
        check_zookeeper()
        super().__init__("java", [f"n{i}" for i in range(n)], root, start_timeout_s)
        names = self._names
        ports = iter(free_ports(3 * n))
        self.client_ports = {name: next(ports) for name in names}
        quorum = {name: next(ports) for name in names}
        election = {name: next(ports) for name in names}
        # One proxy per direction and port: proxies[(src, dst, kind)].
        self.link_proxies: dict[tuple[str, str, str], LinkProxy] = {}
        for src in names:
            for dst in names:
                if src != dst:
                    for kind, table in (("quorum", quorum), ("election", election)):
                        self.link_proxies[(src, dst, kind)] = LinkProxy(
                            (HOST, table[dst]), name=f"zk-{src}-{dst}-{kind}"
                        )
        self.proxies = {f"{s}->{d}:{k}": p for (s, d, k), p in self.link_proxies.items()}
        for number, name in enumerate(names, start=1):
            folder = self.root / name
            (folder / "data").mkdir(parents=True)
            (folder / "data" / "myid").write_text(f"{number}\n")
            lines = [
                f"tickTime={tick_ms}",
                "initLimit=20",
                "syncLimit=5",
                f"dataDir={folder / 'data'}",
                f"clientPort={self.client_ports[name]}",
                f"clientPortAddress={HOST}",
                "admin.enableServer=false",
                "4lw.commands.whitelist=*",
                "maxSessionTimeout=60000",
                f"minSessionTimeout={2 * tick_ms}",
            ]
            for peer_number, peer in enumerate(names, start=1):
                if peer == name:
                    q, e = quorum[peer], election[peer]
                else:
                    q = self.link_proxies[(name, peer, "quorum")].port
                    e = self.link_proxies[(name, peer, "election")].port
                lines.append(f"server.{peer_number}={HOST}:{q}:{e}")
            (folder / "zoo.cfg").write_text("\n".join(lines) + "\n")
            command = [
                self._binary,
                f"-Xmx{heap_mb}m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",  # starts faster; fine for a test ensemble
                f"-Dzookeeper.log.dir={folder}",
                "-Dzookeeper.root.logger=INFO,CONSOLE",
                "-cp",
                f"{ZOOKEEPER_CONF}:{ZOOKEEPER_JAR}",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(folder / "zoo.cfg"),
            ]
            self.servers[name] = ServerProcess(name, command, self.root / f"{name}.log")
        self._clients: list[Any] = []

    # ----- the Engine interface (the rest is LeaderEngine's) -----------------------------

    def hosts(self, name: str) -> str:
        """kazoo's ``hosts`` string for member ``name`` alone (the session sticks to it)."""
        host, port = self.address(name)
        return f"{host}:{port}"

    def client(self, name: str, *, timeout_s: float = 4.0, **options: Any) -> Any:
        """A started ``KazooClient`` pinned to member ``name`` (session timeout
        ``timeout_s``); closed with the ensemble."""
        from kazoo.client import KazooClient

        options.setdefault("logger", _KAZOO_LOG)
        client = KazooClient(hosts=self.hosts(name), timeout=timeout_s, **options)
        client.start(timeout=15)
        self._clients.append(client)
        return client

    def _probe(self, client: Any) -> dict[str, Any]:
        fields = client.srvr()
        return {"role": fields["Mode"], "zxid": int(fields.get("Zxid", "0"), 16)}

    def _probe_client(self, name: str) -> Any:
        # A live member answers ``srvr`` (its mode: leader, follower); no kazoo session.
        return _ProbeClient(self.address(name), 1.0)

    def wait_for_member(self, name: str, timeout_s: float | None = None) -> None:
        """Wait until member ``name`` answers ``srvr``."""
        wait_until(
            lambda: self.status_of(name).alive,
            timeout_s or self.start_timeout_s,
            f"zookeeper {name}",
            0.2,
        )

    def _cut(self, sides: list[set[str]]) -> None:
        for (src, dst, _), proxy in self.link_proxies.items():
            same_side = any(src in side and dst in side for side in sides)
            named = any(src in side or dst in side for side in sides)
            if named and not same_side:  # a link between two sides (unnamed members keep theirs)
                proxy.cut()

    def _agreed_leader(self, statuses: dict[str, MemberStatus]) -> str | None:
        # One member leads and every running member serves.
        running = [s for s in statuses.values() if self.servers[s.name].running]
        leaders = [s.name for s in running if s.fields.get("role") == "leader"]
        if len(leaders) == 1 and all(s.alive for s in running):
            return leaders[0]
        return None

    def close(self) -> None:
        for client in self._clients:
            try:
                client.stop()
                client.close()
            except Exception:  # a client of a dead ensemble: nothing left to release
                pass
        self._clients = []
        super().close()
