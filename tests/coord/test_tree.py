"""The znode tree and one server's watches, fed commands by hand (no driver, no clock)."""

from __future__ import annotations

import pytest

from distlab.coord import CoordServer, ZnodeTree


def opened(tree: ZnodeTree, timeout_ms: int = 1000) -> int:
    return tree.apply({"op": "open_session", "timeout_ms": timeout_ms})["ok"]


def write(tree: ZnodeTree, session: int, op: str, path: str, **extra) -> dict:
    return tree.apply({"op": op, "session": session, "path": path, **extra})


def test_create_set_delete_with_versions_and_sequential_names() -> None:
    tree = ZnodeTree()
    s = opened(tree)
    assert write(tree, s, "create", "/app", data=b"v1")["ok"] == "/app"
    assert write(tree, s, "create", "/app/lock-", sequence=True)["ok"] == "/app/lock-0000000000"
    assert write(tree, s, "create", "/app/lock-", sequence=True)["ok"] == "/app/lock-0000000001"
    stat = write(tree, s, "set", "/app", data=b"v2", version=0)["ok"]
    assert stat["version"] == 1 and tree.read("get", "/app")[0] == b"v2"
    assert tree.read("get_children", "/app") == ["lock-0000000000", "lock-0000000001"]


@pytest.mark.parametrize(
    ("op", "path", "extra", "error"),
    [
        ("create", "/missing/child", {"data": b""}, "NoNodeError"),
        ("create", "/app", {"data": b""}, "NodeExistsError"),
        ("set", "/app", {"data": b"x", "version": 5}, "BadVersionError"),
        ("delete", "/app", {"version": 9}, "BadVersionError"),
        ("delete", "/app", {"version": -1}, "NotEmptyError"),
        ("delete", "/nothing", {}, "NoNodeError"),
        ("create", "no-slash", {"data": b""}, "BadArgumentsError"),
        ("create", "/a//b", {"data": b""}, "BadArgumentsError"),
        ("create", "/app/", {"data": b""}, "BadArgumentsError"),
        ("set", "/app", {"data": "not bytes"}, "BadArgumentsError"),
        ("set", "/app", {"data": b"x", "version": "1"}, "BadArgumentsError"),
        ("create", "/eph/child", {"data": b""}, "NoChildrenForEphemeralsError"),
        ("rename", "/app", {}, "BadArgumentsError"),
    ],
)
def test_bad_requests_get_zookeeper_errors_and_change_nothing(op, path, extra, error) -> None:
    tree = ZnodeTree()
    s = opened(tree)
    write(tree, s, "create", "/app", data=b"v1")
    write(tree, s, "create", "/app/child", data=b"")
    write(tree, s, "create", "/eph", data=b"", ephemeral=True)
    before = tree.snapshot()
    answer = write(tree, s, op, path, **extra)
    assert answer["error"] == error, answer
    after = ZnodeTree.restore(tree.snapshot())
    assert {p: (n.data, n.version) for p, n in after.nodes.items()} == {
        p: (n.data, n.version) for p, n in ZnodeTree.restore(before).nodes.items()
    }


def test_malformed_commands_are_refused_on_every_replica_alike() -> None:
    for command in (None, [1, 2], {"op": "create", "session": "x"}, {"op": "touch"}):
        assert ZnodeTree().apply(command)["error"] in ("BadArgumentsError",)


def test_a_retried_write_is_applied_once_and_answered_the_same() -> None:
    tree = ZnodeTree()
    s = opened(tree)
    first = tree.apply({"op": "create", "session": s, "seq": 1, "path": "/x", "data": b""})
    again = tree.apply({"op": "create", "session": s, "seq": 1, "path": "/x", "data": b""})
    assert again == first and "ok" in first


def test_expiry_deletes_only_that_sessions_ephemerals_and_ends_it() -> None:
    tree = ZnodeTree()
    a, b = opened(tree), opened(tree)
    write(tree, a, "create", "/a", data=b"", ephemeral=True)
    write(tree, b, "create", "/b", data=b"", ephemeral=True)
    assert tree.apply({"op": "expire", "target": a})["ok"] == ["/a"]
    assert sorted(tree.ephemerals()) == ["/b"]
    assert write(tree, a, "create", "/late", data=b"")["error"] == "SessionExpiredError"


def test_snapshot_round_trip_and_corrupt_snapshots() -> None:
    tree = ZnodeTree()
    s = opened(tree)
    write(tree, s, "create", "/x", data=b"\x00\xff")
    write(tree, s, "create", "/x/y-", data=b"", sequence=True, ephemeral=True)
    copy = ZnodeTree.restore(tree.snapshot())
    assert copy.snapshot() == tree.snapshot()
    assert copy.read("get_children", "/x") == ["y-0000000000"]
    with pytest.raises(ValueError, match="not a znode tree snapshot"):
        ZnodeTree.restore(b"\x93garbage")


def test_watches_fire_once_and_never_for_a_change_already_seen() -> None:
    server = CoordServer()
    s = server.apply({"op": "open_session", "timeout_ms": 1000})["ok"]
    server.apply({"op": "create", "session": s, "path": "/x", "data": b"1"})
    assert server.read(s, "get", "/x", watch=True)["ok"][0] == b"1"
    assert server.take_notifications(s) == []  # the creation happened before the read
    server.apply({"op": "set", "session": s, "path": "/x", "data": b"2"})
    server.apply({"op": "set", "session": s, "path": "/x", "data": b"3"})
    notes = server.take_notifications(s)
    assert [n["type"] for n in notes] == ["CHANGED"]  # one-shot: the second set fires nothing
    server.read(s, "exists", "/gone", watch=True)
    server.read(s, "get_children", "/", watch=True)
    server.apply({"op": "create", "session": s, "path": "/gone", "data": b""})
    assert sorted(n["type"] for n in server.take_notifications(s)) == ["CHILD", "CREATED"]


def test_the_leader_expires_a_silent_session_and_only_after_its_timeout() -> None:
    server = CoordServer(touch_every_ms=100)
    s = server.apply({"op": "open_session", "timeout_ms": 1000})["ok"]
    assert server.due(0, is_leader=True) == []  # a new leader grants a full timeout
    assert server.due(900, is_leader=True) == []
    server.heard(s)
    touch = server.due(950, is_leader=True)
    assert touch == [{"op": "touch", "sessions": [s]}]
    server.set_clock(950)
    server.apply(touch[0])
    assert server.due(1900, is_leader=True) == []
    assert server.due(1951, is_leader=True) == [{"op": "expire", "target": s}]
    assert server.due(1952, is_leader=False) == []  # followers never expire sessions
