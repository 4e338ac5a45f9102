"""FrangipaniLab: one simulated Frangipani to poke at by hand (the notebook's and panel's).

``lab = FrangipaniLab(seed=1)`` starts a seeded World: the server ``n0`` (disk + locks) and
workstations ``n1``, ``n2`` (``workstations=3`` adds ``n3``). Each call runs one operation on
one workstation and lets virtual time pass until it completes:

    lab.create("n1", "/a", "hello"); lab.write("n1", "/a", "v2")   # cached, dirty
    lab.read("n2", "/a")        # a revoke: n1 logs, writes back, releases -> "v2"
    lab.crash("n1"); lab.restart("n1"); lab.run(100)
    lab.verdict()               # the linearizability checker on every read and write

Reads, writes and creates are recorded in a `History` with virtual time; a crash turns the
crashed workstation's unlogged writes (and what it read after them) indefinite -- they were
never durable. ``lab.events`` lists what happened (asks, releases, crashes, recoveries).
"""

from __future__ import annotations

from typing import Any

from distlab.check import History, Operation, check_linearizable
from distlab.frangipani.simulated import FrangipaniSim, directory_problem
from distlab.sim.world import World

__all__ = ["FrangipaniLab"]


class FrangipaniLab:
    def __init__(
        self,
        seed: int = 1,
        *,
        workstations: int = 2,
        write_back_on_revoke: bool = True,
        lease_ticks: int = 60,
    ) -> None:
        if not 1 <= workstations <= 4:
            raise ValueError(f"workstations is 1..4, got {workstations}")
        self.system = FrangipaniSim(
            write_back_on_revoke=write_back_on_revoke, lease_ticks=lease_ticks
        )
        self.world = World(self.system, seed, workstations + 1)
        self.workstations = [f"n{i}" for i in range(1, workstations + 1)]
        self._records: list[dict[str, Any]] = []
        self._life = dict.fromkeys(self.workstations, 0)
        self._clock = 0
        self.lost = 0

    # ----- operations ----------------------------------------------------------------

    def _stamp(self) -> int:
        self._clock += 1
        return self.world.now * 1_000_000 + self._clock

    def _core(self, ws: str) -> Any:
        if ws not in self.workstations:
            raise ValueError(f"{ws!r} is not a workstation; one of {self.workstations}")
        core = self.world.nodes[ws]
        if core is None:
            raise RuntimeError(f"{ws} is crashed: restart it first")
        return core

    def do(self, ws: str, *op: Any, max_ticks: int = 2000) -> Any:
        """Run ``op`` on ``ws``; its value, or ``FileNotFoundError``/``FileExistsError``."""
        core = self._core(ws)
        record = None
        if op and op[0] in ("read", "write", "create"):
            record = {
                "client": ws,
                "kind": "get" if op[0] == "read" else "put",
                "key": op[1],
                "value": None if op[0] == "read" else op[2],
                "output": None,
                "invoke": self._stamp(),
                "complete": None,
                "status": None,
                "life": self._life[ws],
                "op_id": None,
            }
            self._records.append(record)
        op_id = core.submit(tuple(op))
        if record is not None:
            record["op_id"] = op_id
        self.world.operate(ws, lambda _core: None)  # drive what submit produced
        done = None

        def finished() -> bool:
            nonlocal done
            live = self.world.nodes[ws]
            if live is not core:
                return True
            done = next((c for c in core.ws.completed if c.op_id == op_id), None)
            return done is not None

        self.world.run_until(finished, max_ticks)
        if done is None:
            if record is not None and record["status"] is None:
                record["status"] = "info"
                record["complete"] = self._stamp()
            raise TimeoutError(f"{ws}: {op[0]} did not finish (crashed or waiting)")
        if record is not None:
            record["complete"] = self._stamp()
            record["status"] = "ok" if done.ok else "fail"
            record["output"] = done.value if op[0] == "read" and done.ok else None
        if not done.ok:
            error = done.error or "failed"
            raise (FileExistsError if "exists" in error else FileNotFoundError)(error)
        return done.value

    def create(self, ws: str, path: str, value: str = "") -> None:
        self.do(ws, "create", path, value)

    def write(self, ws: str, path: str, value: str) -> None:
        self.do(ws, "write", path, value)

    def read(self, ws: str, path: str) -> str:
        return str(self.do(ws, "read", path))

    def rename(self, ws: str, source: str, target: str) -> None:
        self.do(ws, "rename", source, target)

    def delete(self, ws: str, path: str) -> None:
        self.do(ws, "delete", path)

    def listdir(self, ws: str) -> list[str]:
        return list(self.do(ws, "list"))

    def sync(self, ws: str) -> None:
        self.do(ws, "sync")

    # ----- faults and time ----------------------------------------------------------

    def run(self, ticks: int) -> None:
        self.world.run_for(ticks)

    def crash(self, ws: str) -> None:
        """SIGKILL's twin: the workstation's cache, locks and unlogged log entries are gone."""
        core = self._core(ws)
        logged = core.ws.logged_seq
        lost_ops = sorted(
            op_id for seq, ids in core.ws.entry_ops.items() if seq > logged for op_id in ids
        )
        first = lost_ops[0] if lost_ops else None
        for record in self._records:
            if (
                record["client"] == ws
                and record["life"] == self._life[ws]
                and first is not None
                and record["op_id"] >= first
                and record["status"] == "ok"
            ):
                record["status"] = "info"
                record["output"] = None
                if record["kind"] == "put":
                    self.lost += 1
        self.world.crash(ws)
        self.system.events.append((self.world.now, ws, "crashed"))

    def restart(self, ws: str) -> None:
        self.world.restart(ws)
        self._life[ws] += 1

    def isolate(self, ws: str) -> None:
        """Cut ``ws`` off from the server: its lease runs out and it is recovered."""
        self.world.isolate(ws)
        self.system.events.append((self.world.now, ws, "cut off"))

    def heal(self) -> None:
        self.world.heal()

    # ----- what a learner looks at ----------------------------------------------------

    def history(self) -> History:
        operations = [
            Operation(
                id=index,
                client=r["client"],
                kind=r["kind"],
                key=r["key"],
                value=r["value"],
                output=r["output"],
                invoke=r["invoke"],
                complete=r["complete"],
                status=r["status"] or "info",
            )
            for index, r in enumerate(self._records)
        ]
        return History.from_operations(operations)

    def verdict(self) -> str:
        """The checker's answer on every read, write and create so far."""
        return check_linearizable(self.history()).verdict

    def directory_ok(self) -> bool:
        return directory_problem(self.system.service) is None

    @property
    def events(self) -> list[tuple[int, str, str]]:
        return self.system.events

    def cards(self) -> dict[str, dict[str, Any]]:
        """Per workstation: alive?, held locks, cached files (clean/dirty), unlogged entries."""
        cards = {}
        for ws in self.workstations:
            core = self.world.nodes[ws]
            cards[ws] = {"alive": False} if core is None else {"alive": True, **core.ws.view()}
        return cards

    def server(self) -> dict[str, Any]:
        """The lock server's table and queue, the disk's blocks, the logs' lengths."""
        return self.system.service.describe()
