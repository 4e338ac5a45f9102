"""The pure cores: the lock server grants, queues and revokes; recovery replays with version
checks; the workstation answers cache hits without a message and logs before it writes back."""

from __future__ import annotations

import pytest

from distlab.frangipani import ROOT, FrangipaniService, Workstation, check_path


def hello(service: FrangipaniService, ws: str) -> int:
    return int(service.apply({"op": "hello", "ws": ws})["epoch"])


def test_read_locks_share_and_a_writer_revokes_them() -> None:
    service = FrangipaniService()
    a, b, c = (hello(service, ws) for ws in ("a", "b", "c"))
    read = {"op": "acquire", "lock": "/f", "mode": "r"}
    assert service.apply({**read, "ws": "a", "epoch": a})["granted"]
    assert service.apply({**read, "ws": "b", "epoch": b})["granted"]  # shared caching
    answer = service.apply({"op": "acquire", "lock": "/f", "mode": "w", "ws": "c", "epoch": c})
    assert answer["granted"] is False
    assert service.describe()["locks"]["/f"]["queue"] == [["c", "w"]]
    # The holders learn about the revoke from their next answer.
    assert service.apply({"op": "renew", "ws": "a", "epoch": a})["revoke"] == ["/f"]
    for ws, epoch in (("a", a), ("b", b)):
        service.apply({"op": "release", "ws": ws, "epoch": epoch, "blocks": {}, "locks": ["/f"]})
    answer = service.apply({"op": "acquire", "lock": "/f", "mode": "w", "ws": "c", "epoch": c})
    assert answer["granted"] and answer["block"] == [0, None]


def test_recovery_replays_only_newer_entries_then_releases() -> None:
    service = FrangipaniService()
    a, b = hello(service, "a"), hello(service, "b")
    service.apply({"op": "acquire", "lock": "/f", "mode": "w", "ws": "a", "epoch": a})
    old = {"seq": 1, "blocks": {"/f": [1, "old"]}}
    new = {"seq": 2, "blocks": {"/f": [2, "new"]}}
    service.apply({"op": "log", "ws": "a", "epoch": a, "entries": [old, new]})
    # b asks for the lock a holds: queued, a is asked to give it back -- and then a dies.
    assert not service.apply({"op": "acquire", "lock": "/f", "mode": "w", "ws": "b", "epoch": b})[
        "granted"
    ]
    service.blocks["/f"] = [3, "newer"]  # pretend a later version reached the disk
    assert service.apply({"op": "recover", "ws": "a", "epoch": a})["recovered"]
    assert service.blocks["/f"] == [3, "newer"]  # an older log never overwrites newer data
    assert service.apply({"op": "renew", "ws": "a", "epoch": a})["error"] == "expired"
    answer = service.apply({"op": "acquire", "lock": "/f", "mode": "w", "ws": "b", "epoch": b})
    assert answer["granted"] and answer["block"] == [3, "newer"]


def test_recovery_redoes_a_logged_block_that_never_reached_the_disk() -> None:
    service = FrangipaniService()
    a = hello(service, "a")
    service.apply({"op": "acquire", "lock": "/f", "mode": "w", "ws": "a", "epoch": a})
    entry = {"seq": 1, "blocks": {"/f": [1, "logged"]}}
    service.apply({"op": "log", "ws": "a", "epoch": a, "entries": [entry]})
    hello(service, "a")  # a restarts: its old incarnation is recovered first
    assert service.blocks["/f"] == [1, "logged"]
    assert service.describe()["locks"] == {}


def test_bad_commands_get_clear_errors_and_change_nothing() -> None:
    service = FrangipaniService()
    a = hello(service, "a")
    before = service.snapshot()
    assert "unknown command" in service.apply({"op": "format", "ws": "a", "epoch": a})["error"]
    assert (
        "bad path"
        in service.apply({"op": "acquire", "lock": "../etc", "mode": "w", "ws": "a", "epoch": a})[
            "error"
        ]
    )
    assert (
        "mode"
        in service.apply({"op": "acquire", "lock": "/f", "mode": "x", "ws": "a", "epoch": a})[
            "error"
        ]
    )
    assert (
        "without holding"
        in service.apply(
            {"op": "release", "ws": "a", "epoch": a, "blocks": {"/f": [9, "x"]}, "locks": []}
        )["error"]
    )
    assert "a map" in service.apply(["not", "a", "map"])["error"]
    assert service.snapshot() != b"" and service.blocks == FrangipaniService().blocks
    restored = FrangipaniService()
    restored.restore(before)
    assert restored.epochs == {"a": a}


def drive(ws: Workstation, service: FrangipaniService) -> int:
    """Run the workstation against the service until it has nothing to send; commands sent."""
    for sent in range(200):
        command = ws.next_command()
        if command is None:
            return sent
        ws.on_answer(service.apply(command))
    raise AssertionError("the workstation never settles")


def test_cache_hits_send_nothing_and_a_revoke_logs_before_it_writes_back() -> None:
    service = FrangipaniService()
    ws = Workstation("a")
    ws.submit(("create", "/f", "1"))
    drive(ws, service)
    ws.submit(("write", "/f", "2"))
    ws.submit(("read", "/f"))
    assert drive(ws, service) == 0  # both hit the cache under the write lock
    assert [c.value for c in ws.completed][-1] == "2"
    assert service.blocks.get("/f") is None  # write-back: nothing on the disk yet
    other = Workstation("b")
    other.submit(("read", "/f"))
    drive(other, service)  # queued; "a" is asked to give /f back
    commands = []
    ws.idle = ws.renew_ticks
    while (command := ws.next_command()) is not None:
        commands.append(command["op"])
        ws.on_answer(service.apply(command))
    assert commands[:3] == ["renew", "log", "release"]  # log first, then blocks
    other.wait = 0
    drive(other, service)
    assert other.completed[-1].value == "2"


def test_bad_operations_are_refused_clearly() -> None:
    ws = Workstation("a")
    with pytest.raises(ValueError, match="bad path"):
        ws.submit(("read", "relative"))
    with pytest.raises(ValueError, match="unknown operation"):
        ws.submit(("chmod", "/f"))
    with pytest.raises(ValueError, match="takes 2"):
        ws.submit(("write", "/f"))
    with pytest.raises(ValueError, match="bad path"):
        check_path("/a/b")
    service = FrangipaniService()
    ws.submit(("read", "/missing"))
    ws.submit(("create", "/f", "x"))
    ws.submit(("create", "/f", "y"))
    drive(ws, service)
    errors = [c.error for c in ws.completed]
    assert errors == ["no such file /missing", None, "file exists /f"]
    assert ROOT in ws.held
