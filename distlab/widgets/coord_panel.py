"""CoordPanel: the coordination service's znode tree, sessions and lock queue, with fault buttons.

A seeded simulation (`distlab.coord.simulated`) of 3 servers and a few clients, each taking the
herd-free lock again and again. The panel shows, as stable text (tests and a browser read it):

- every server: role, zxid (how far its copy has applied the log) -- crashed or cut off;
- the tree as the leader holds it: each znode, its data, and the session owning an ephemeral
  one (临时节点), with the lock queue under ``/lock`` -- the holder first;
- the sessions (会话) and what each client is doing;
- the verdict: the most lock holders ever seen at once (must be 1), and watch notifications.

Buttons: **Run 1 s** (virtual time), **Crash** / **Restart** a server, **Partition** the leader
off / **Heal**, and **Expire** a client's session (the client stops heartbeating, as in a long
pause; one second later the leader expires it through the log and its lock znode goes). The
buttons call the same methods a test calls; no protocol logic lives here.
"""

from __future__ import annotations

import re
from typing import Any

import ipywidgets as widgets
from kazoo.exceptions import KazooException

from distlab.coord.recipes import Lock, LockLost
from distlab.coord.simulated import SimClients, SimCoordClient, coord_world

__all__ = ["CoordPanel"]


class CoordPanel(widgets.VBox):
    """The panel (see the module docstring). ``run_s`` is the virtual time per Run click."""

    def __init__(self, *, seed: int = 0, clients: int = 4, run_s: float = 1.0) -> None:
        self.world = coord_world(seed)
        self.world.check_one_leader()
        self.runner = SimClients(self.world)
        self.run_ticks = max(1, round(run_s * self.world.ticks_per_second))
        self.holding: set[str] = set()
        self.most_holders = 0
        self.acquisitions = 0
        self.locks: dict[str, Lock] = {}
        self.sim_clients: list[SimCoordClient] = []
        for number in range(clients):
            client = self.runner.client(server=f"n{number % 3}", client_id=f"c{number}")
            self.sim_clients.append(client)
            self.runner.spawn(client.name, self._worker, client)

        self.servers_view = widgets.HTML()
        self.tree_view = widgets.HTML()
        self.sessions_view = widgets.HTML()
        self.verdict = widgets.HTML()
        self.run_button = widgets.Button(description="Run 1 s", button_style="primary")
        self.run_button.on_click(lambda _: self.run())
        self.crash_buttons = {
            name: self._button(f"Crash {name}", self.crash, name) for name in self.world.names
        }
        self.restart_buttons = {
            name: self._button(f"Restart {name}", self.restart, name) for name in self.world.names
        }
        self.partition_button = self._button(
            "Partition leader", lambda _: self.partition_leader(), None
        )
        self.heal_button = self._button("Heal", lambda _: self.heal(), None)
        self.expire_buttons = {
            c.name: self._button(f"Expire {c.name}", self.expire, c.name) for c in self.sim_clients
        }
        super().__init__(
            [
                widgets.HTML("<b>ZooKeeper-like service on Raft (协调服务)</b>"),
                widgets.HBox([self.run_button, self.partition_button, self.heal_button]),
                widgets.HBox(list(self.crash_buttons.values())),
                widgets.HBox(list(self.restart_buttons.values())),
                widgets.HBox(list(self.expire_buttons.values())),
                self.servers_view,
                widgets.HBox([self.tree_view, self.sessions_view]),
                self.verdict,
            ]
        )
        self.run(ticks=30)

    @staticmethod
    def _button(label: str, action: Any, argument: Any) -> widgets.Button:
        button = widgets.Button(description=label)
        button.on_click(lambda _: action(argument) if argument is not None else action(None))
        return button

    # ----- what the clients do ----------------------------------------------------------

    def _worker(self, client: SimCoordClient) -> None:
        client.start()
        lock = Lock(client, "/lock", client.name)
        self.locks[client.name] = lock
        while True:
            try:
                lock.acquire()
            except (KazooException, LockLost):
                return  # the session expired: this client is done
            self.acquisitions += 1
            self.holding.add(client.name)
            self.most_holders = max(self.most_holders, len(self.holding))
            self.runner.wait_until(lambda: False, 20)  # hold it for 200 ms
            self.holding.discard(client.name)
            try:
                lock.release()
            except KazooException:
                return

    # ----- the buttons' actions (also called by tests) ----------------------------------

    def run(self, ticks: int | None = None) -> None:
        """Let virtual time pass, then redraw."""
        self.runner.run(ticks or self.run_ticks)
        self.refresh()

    def crash(self, name: str) -> None:
        self.world.crash(name)
        self.refresh()

    def restart(self, name: str) -> None:
        if not self.world.alive(name):
            self.world.restart(name)
        self.refresh()

    def partition_leader(self) -> None:
        leader = self.leader()
        if leader is not None:
            self.world.isolate(leader)
        self.refresh()

    def heal(self) -> None:
        self.world.heal()
        self.refresh()

    def expire(self, name: str) -> None:
        """Stop the client's heartbeats, then run until the leader has expired its session."""
        client = next(c for c in self.sim_clients if c.name == name)
        client.freeze()
        session = client.session_id

        def gone() -> bool:
            leader = self.leader()
            return leader is not None and session not in self.world.servers[leader].tree.sessions

        self.runner.run(10 * self.run_ticks, until=gone)
        self.refresh()

    # ----- drawing ------------------------------------------------------------------------

    def leader(self) -> str | None:
        for name in self.world.names:
            node = self.world.nodes[name]
            if node is not None and node.role.value == "leader" and self.world.connected(name):
                return name
        return None

    def refresh(self) -> None:
        world = self.world
        rows = []
        for name in world.names:
            node = world.nodes[name]
            if node is None:
                rows.append(f"{name}: crashed")
                continue
            zxid = world.servers[name].tree.zxid
            rows.append(f"{name}: {node.role.value}, term {node.current_term}, zxid {zxid}")
        self.servers_view.value = "<pre>" + "\n".join(rows) + "</pre>"
        leader = self.leader() or next((n for n in world.names if world.alive(n)), None)
        if leader is None:
            self.tree_view.value = "<pre>no server running</pre>"
            return
        described = world.servers[leader].describe()
        lines = [f"tree at {leader} (zxid {described['zxid']}):"]
        queue = sorted(
            (p for p in described["znodes"] if p.startswith("/lock/")), key=lambda p: p[-10:]
        )
        for path, znode in described["znodes"].items():
            owner = f"  [ephemeral, session {znode['owner']}]" if znode["owner"] else ""
            mark = "  <- holds the lock" if queue and path == queue[0] else ""
            # The contender's unique tag (pid, counter) is left out: the sequence number decides.
            shown = re.sub(r"/lock-[0-9x]+-", "/lock-", path)
            lines.append(f"{shown}  {znode['data']!r}{owner}{mark}")
        self.tree_view.value = "<pre>" + "\n".join(lines) + "</pre>"
        session_rows = ["sessions (会话):"]
        for client in self.sim_clients:
            state = "expired" if client.session_id not in described["sessions"] else "open"
            extra = " (paused)" if client.frozen else ""
            session_rows.append(f"{client.name}: session {client.session_id} {state}{extra}")
        self.sessions_view.value = "<pre>" + "\n".join(session_rows) + "</pre>"
        notes = sum(lock.wakeups for lock in self.locks.values())
        self.verdict.value = (
            f"<b>most lock holders at once: {self.most_holders}</b> · "
            f"acquisitions: {self.acquisitions} · watch notifications: {notes}"
        )

    def __repr__(self) -> str:
        return f"CoordPanel(seed={self.world.seed}, clients={len(self.sim_clients)})"
