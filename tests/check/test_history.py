"""Recording histories, and the JSON Lines round trip (docs/HISTORY_FORMAT.md)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from distlab.check import History, Operation, op
from distlab.check.generate import simulate


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 10
        return self.now


def test_recorder_stamps_invoke_and_completion_with_the_injected_clock():
    history = History(clock=FakeClock())
    rec = history.invoke("c1", "put", "x", "1")
    history.ok(rec)
    rec = history.invoke("c1", "get", "x")
    history.ok(rec, "1")
    ops = history.operations()
    assert [(o.invoke, o.complete, o.status) for o in ops] == [(10, 20, "ok"), (30, 40, "ok")]
    assert ops[1].output == "1" and ops[0].value == "1"


def test_fail_and_info_are_recorded_and_pending_ops_count_as_indefinite():
    history = History(clock=FakeClock())
    history.fail(history.invoke("a", "put", "x", "1"))
    history.info(history.invoke("b", "put", "x", "2"))
    history.invoke("c", "append", "x", "3")  # never completes
    ops = history.operations()
    assert [o.status for o in ops] == ["fail", "info", "info"]
    assert [o.indefinite for o in ops] == [False, True, True]
    assert ops[2].complete is None
    stats = history.statistics()
    assert (stats.failed, stats.indefinite, stats.pending, stats.ok) == (1, 1, 1, 0)


def test_a_client_is_sequential_and_misuse_is_named():
    history = History()
    rec = history.invoke("c1", "get", "x")
    with pytest.raises(RuntimeError, match="still outstanding"):
        history.invoke("c1", "put", "x", "1")
    history.ok(rec, "")
    with pytest.raises(RuntimeError, match="not outstanding"):
        history.ok(rec, "")
    with pytest.raises(ValueError, match="needs a value"):
        history.invoke("c1", "put", "x")
    with pytest.raises(ValueError, match="kind"):
        history.invoke("c1", "cas", "x", "1")


def test_recorder_is_thread_safe():
    history = History()

    def client(name: str) -> None:
        for i in range(200):
            rec = history.invoke(name, "put", "x", f"{name}.{i}")
            history.ok(rec)

    threads = [threading.Thread(target=client, args=(f"c{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = history.operations()
    assert len(ops) == 1600
    assert all(o.status == "ok" and o.complete >= o.invoke for o in ops)
    assert sorted(o.id for o in ops) == list(range(1600))


def test_jsonl_events_follow_the_documented_shape():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "get", "x", output="1", start=5, end=12),
            op(3, "put", "x", "2", start=6, end=9, status="info"),
        ]
    )
    lines = history.to_jsonl().splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "history" and header["version"] == 1
    events = [json.loads(line) for line in lines[1:]]
    assert [e["type"] for e in events] == ["invoke", "invoke", "invoke", "info", "ok", "ok"]
    assert [e["index"] for e in events] == list(range(6))
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    get_ok = next(e for e in events if e["type"] == "ok" and e["f"] == "get")
    assert get_ok == {
        "type": "ok",
        "process": 2,
        "f": "get",
        "key": "x",
        "value": "1",
        "time": 12,
        "index": 5,
    }


def _shape(history: History) -> list[tuple]:
    return [
        (o.client, o.kind, o.key, o.value, o.output, o.invoke, o.complete, o.indefinite, o.status)
        for o in history.operations()
    ]


def test_jsonl_round_trip_of_a_generated_history_with_every_outcome(tmp_path):
    history = simulate(
        7, clients=4, operations=300, keys=3, indefinite_fraction=0.1, fail_fraction=0.1
    )
    path = tmp_path / "h.jsonl"
    history.write_jsonl(path)
    back = History.read_jsonl(path)
    assert _shape(back) == _shape(history)
    # And through a file object.
    buffer = io.StringIO(history.to_jsonl())
    assert _shape(History.read_jsonl(buffer)) == _shape(history)


def test_round_trip_keeps_pending_operations_pending():
    history = History(clock=FakeClock())
    history.ok(history.invoke("a", "put", "x", "1"), None)
    history.invoke("b", "get", "x")
    back = History.from_jsonl(history.to_jsonl())
    assert [(o.status, o.complete) for o in back.operations()] == [("ok", 20), ("info", None)]


def test_import_rejects_malformed_lines_with_a_line_number():
    with pytest.raises(ValueError, match="line 2"):
        History.from_jsonl('{"type":"invoke","process":1,"f":"get","key":"x","time":1}\nnot json')
    with pytest.raises(ValueError, match="no open invoke"):
        History.from_jsonl('{"type":"ok","process":1,"f":"get","key":"x","time":1}')
    with pytest.raises(ValueError, match="'f' must be"):
        History.from_jsonl('{"type":"invoke","process":1,"f":"cas","key":"x","time":1}')


def test_from_operations_rejects_overlapping_ops_of_one_client():
    with pytest.raises(ValueError, match="sequential"):
        History.from_operations(
            [op(1, "put", "x", "1", start=0, end=10), op(1, "get", "x", output="", start=5, end=8)]
        )


def test_operation_rejects_completion_before_invocation():
    with pytest.raises(ValueError, match="before its invocation"):
        Operation(0, 1, "get", "x", None, "", invoke=5, complete=4, status="ok")


def test_the_example_in_the_format_document_is_what_the_writer_produces():
    doc = (Path(__file__).parents[2] / "docs" / "HISTORY_FORMAT.md").read_text(encoding="utf-8")
    example = doc.split("## Example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "get", "x", output="1", start=5, end=12),
            op(3, "put", "x", "2", start=6, end=9, status="info"),
        ]
    )
    assert history.to_jsonl().strip() == example.strip()
    assert _shape(History.from_jsonl(example)) == _shape(history)


class FakeRpcError(Exception):
    def __init__(self, definite: bool) -> None:
        super().__init__("fake")
        self.definite = definite


def test_record_wraps_a_client_call_and_classifies_errors_by_definiteness():
    history = History(clock=FakeClock())
    store = {"x": "1"}
    assert history.record("c", "get", "x", None, lambda: store["x"]) == "1"

    def refused():
        raise FakeRpcError(definite=True)

    def timed_out():
        raise FakeRpcError(definite=False)

    def broken():
        raise OSError("connection reset")

    for call in (refused, timed_out, broken):
        with pytest.raises((FakeRpcError, OSError)):
            history.record("c", "put", "x", "2", call)
    assert [(o.kind, o.status, o.output) for o in history.operations()] == [
        ("get", "ok", "1"),
        ("put", "fail", None),
        ("put", "info", None),
        ("put", "info", None),
    ]


def test_record_read_records_a_failed_read_as_fail_however_it_failed():
    history = History(clock=FakeClock())
    assert history.record_read("c", "x", lambda: "1") == "1"

    def timed_out() -> str:
        raise FakeRpcError(definite=False)

    with pytest.raises(FakeRpcError):
        history.record_read("c", "x", timed_out)
    assert [(o.kind, o.key, o.status, o.output) for o in history.operations()] == [
        ("get", "x", "ok", "1"),
        ("get", "x", "fail", None),
    ]
