"""Assignment 12 (Frangipani): the revoke handler and the log replay, checked in the simulator.

What it is: two classes with one method each left to the learner, and
`check_frangipani_revoke(workstation_cls, service_cls)`, which feeds single situations to
each and then runs seeded simulator runs (three workstations, crashes) and returns a
`Verdict`. The learner writes:

- ``RevokingWorkstation.handle_revoke(locks)``: the command that gives ``locks`` back. If
  log entries are not yet on the disk (``self.unflushed``), append them first:
  ``{"op": "log", "entries": list(self.unflushed)}``. Otherwise write back the dirty blocks
  under those locks and release them: ``{"op": "release", "blocks": {key: [version, value]
  for each revoked key in self.dirty}, "locks": list(locks)}`` (the cached block of
  ``key`` is ``self.cache[key]``, a ``[version, value]`` pair).
- ``ReplayingService.replay(entries)``: redo a dead workstation's log: for each entry, in
  order, each of its blocks (``entry["blocks"]``: key -> [version, value]) is written to
  ``self.blocks[key]`` only if its version is newer than the disk's
  (``self.blocks.get(key, [0, None])[0]``).

The simulator's named rules (*Log before blocks*, *Replay before release*, *Versions never
go back*, ...) run after every event and the linearizability checker judges each history.

What it must never do: use the wall clock or unseeded randomness.
Where it fits: notebooks/assignments/source/12_frangipani_revoke.ipynb.
"""

from __future__ import annotations

from typing import Any

from distlab.assignments.verdict import Verdict, run_checks
from distlab.frangipani import FrangipaniService, Workstation, run_workload

__all__ = ["SEEDS", "ReplayingService", "RevokingWorkstation", "check_frangipani_revoke"]

SEEDS = (1, 2, 3, 4, 5)


class RevokingWorkstation(Workstation):
    """A workstation whose revoke handler is written by a subclass (module docstring)."""

    def _handle_revoke(self, locks: list[str]) -> dict[str, Any]:
        command = self.handle_revoke(list(locks))
        if command.get("op") == "release":
            self.lock_commands += 1
            self.write_backs += len(command.get("blocks", {}))
        return command

    def handle_revoke(self, locks: list[str]) -> dict[str, Any]:
        """The command that gives ``locks`` back: log first, then write back and release."""
        raise NotImplementedError("write handle_revoke in your subclass")


class ReplayingService(FrangipaniService):
    """The shared service whose log replay is written by a subclass (module docstring)."""

    def replay(self, entries: list[dict[str, Any]]) -> None:
        """Redo each logged block whose version is newer than the disk's."""
        raise NotImplementedError("write replay in your subclass")


def _dirty_holder(workstation_cls: type[Workstation]) -> tuple[Workstation, FrangipaniService]:
    """A workstation holding /a and /b with both changed (dirty, not yet logged)."""
    service = FrangipaniService()
    ws = workstation_cls("n1")
    for op in (("create", "/a", "a1"), ("create", "/b", "b1"), ("write", "/a", "a2")):
        ws.submit(op)
    for _ in range(50):
        command = ws.next_command()
        if command is None:
            break
        ws.on_answer(service.apply(command))
    return ws, service


def log_goes_first(workstation_cls: type[Workstation]) -> None:
    ws, _ = _dirty_holder(workstation_cls)
    command = ws._handle_revoke(["/a"])
    assert command.get("op") == "log", (
        f"log entries were not on the disk yet, but the handler sent {command.get('op')!r} "
        "first: blocks must never reach the disk before their log entry"
    )
    assert [e["seq"] for e in command["entries"]] == [e["seq"] for e in ws.unflushed], (
        "the log append must carry every entry not yet on the disk, in order"
    )


def then_write_back_and_release(workstation_cls: type[Workstation]) -> None:
    ws, service = _dirty_holder(workstation_cls)
    ws.outstanding = {"op": "log", "entries": list(ws.unflushed)}
    ws.on_answer(service.apply({**ws.outstanding, "ws": "n1", "epoch": ws.epoch}))
    command = ws._handle_revoke(["/a"])
    assert command.get("op") == "release", f"after the log, expected a release: {command}"
    assert command.get("locks") == ["/a"], f"release exactly the revoked lock: {command}"
    assert command.get("blocks") == {"/a": [2, "a2"]}, (
        "write back the dirty block under the revoked lock (and only that one): "
        f"sent {command.get('blocks')}"
    )


def replay_redoes_newer(service_cls: type[FrangipaniService]) -> None:
    service = service_cls()
    service.blocks["/a"] = [1, "old"]
    service.replay(
        [
            {"seq": 1, "blocks": {"/a": [2, "mid"], "/n": [1, "new file"]}},
            {"seq": 2, "blocks": {"/a": [3, "newest"]}},
        ]
    )
    assert service.blocks["/a"] == [3, "newest"], f"/a should be v3 'newest': {service.blocks}"
    assert service.blocks["/n"] == [1, "new file"], "a block not yet on the disk is redone"


def replay_never_goes_back(service_cls: type[FrangipaniService]) -> None:
    service = service_cls()
    service.blocks["/a"] = [5, "written by someone later"]
    service.replay([{"seq": 1, "blocks": {"/a": [4, "older"]}}])
    assert service.blocks["/a"] == [5, "written by someone later"], (
        f"an older log entry overwrote a newer block: {service.blocks['/a']}"
    )


def _runs(workstation_cls: type[Workstation], service_cls: type[FrangipaniService]) -> Any:
    def run() -> None:
        for seed in SEEDS:
            result = run_workload(
                seed,
                workstations=3,
                crashes=2,
                workstation_cls=workstation_cls,
                service_cls=service_cls,
            )
            assert result.verdict == "ok", f"seed {seed}: the checker's verdict is {result.verdict}"
            assert result.synced_lost == 0, f"seed {seed}: a synced write was lost"

    return run


def check_frangipani_revoke(
    workstation_cls: type[Workstation], service_cls: type[FrangipaniService]
) -> Verdict:
    """Run the assignment's checks against the learner's two classes."""
    seeds = ", ".join(map(str, SEEDS))
    return run_checks(
        f"Frangipani's revoke and replay (simulated runs use seeds {seeds})",
        [
            ("a revoke appends the log first", lambda: log_goes_first(workstation_cls)),
            (
                "then writes the revoked dirty blocks back and releases",
                lambda: then_write_back_and_release(workstation_cls),
            ),
            (
                "replay redoes logged blocks newer than the disk",
                lambda: replay_redoes_newer(service_cls),
            ),
            ("replay never overwrites a newer block", lambda: replay_never_goes_back(service_cls)),
            (
                "3 workstations, crashes: linearizable, every rule holds",
                _runs(workstation_cls, service_cls),
            ),
        ],
    )
