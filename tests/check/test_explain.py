"""Violations explained in words, with the operations that prove them."""

from __future__ import annotations

from distlab.check import History, check_linearizable, op
from distlab.check.generate import inject_stale_reads, simulate


def explain(*ops):
    return check_linearizable(History.from_operations(ops))


def test_stale_read_names_the_read_and_the_write_it_missed():
    result = explain(
        op(1, "put", "x", "1", start=0, end=10),
        op(1, "put", "x", "2", start=11, end=20),
        op(3, "get", "x", output="1", start=21, end=30),
    )
    text = result.explanation
    assert "get(x) by client 3 returned '1' during [21, 30]" in text
    assert "last written by put(x, '1') by client 1 during [0, 10]" in text
    assert "put(x, '2') by client 1 completed at 20 < 21" in text
    assert "should have seen '2' or a later value" in text
    assert {(o.kind, o.client) for o in result.witness} == {("get", 3), ("put", 1)}
    assert len(result.witness) == 3  # the read, the write it missed, the write it saw


def test_lost_write_is_explained_as_reading_the_initial_value():
    result = explain(
        op(1, "put", "x", "1", start=0, end=10),
        op(2, "get", "x", output="", start=15, end=20),
    )
    assert "returned '' during [15, 20]" in result.explanation
    assert "the initial value: nothing wrote it" in result.explanation
    assert "completed at 10 < 15" in result.explanation


def test_reads_going_back_in_time_are_explained():
    result = explain(
        op(1, "put", "x", "1", start=0, end=10),
        op(2, "put", "x", "2", start=0, end=10),
        op(3, "get", "x", output="2", start=11, end=12),
        op(4, "get", "x", output="1", start=13, end=14),
    )
    assert "Reads went back in time" in result.explanation
    assert "client 3 returned '2'" in result.explanation
    assert "client 4 returned '1'" in result.explanation
    assert {o.client for o in result.witness} >= {3, 4}


def test_failed_put_observed_is_explained():
    result = explain(
        op(1, "put", "x", "1", start=0, end=5, status="fail"),
        op(2, "get", "x", output="1", start=50, end=60),
    )
    assert "failed definitely" in result.explanation
    assert [o.status for o in result.witness] == ["ok", "fail"]


def test_value_never_written_is_explained():
    result = explain(op(2, "get", "x", output="zzz", start=0, end=1))
    assert "no write could have produced 'zzz'" in result.explanation


def test_stale_read_after_an_append_is_explained():
    result = explain(
        op(1, "put", "x", "a", start=0, end=5),
        op(1, "append", "x", "b", start=6, end=8),
        op(3, "get", "x", output="a", start=20, end=25),
    )
    assert "append(x, 'b') by client 1 completed at 8 < 20" in result.explanation
    assert "should have seen a value with 'b' appended" in result.explanation


def test_appended_value_with_an_ambiguous_source_is_still_explained():
    # 'ab' could come from put 'ab' or from put 'a' + append 'b': two possible sources.
    result = explain(
        op(1, "put", "x", "a", start=0, end=5),
        op(2, "put", "x", "ab", start=0, end=5),
        op(1, "append", "x", "b", start=6, end=8),
        op(1, "put", "x", "c", start=10, end=12),
        op(3, "get", "x", output="ab", start=20, end=25),
    )
    assert "2 possible sources" in result.explanation
    assert "put(x, 'c') by client 1 completed at 12 < 20" in result.explanation


def test_violation_no_rule_covers_falls_back_to_the_longest_prefix():
    # Both reads follow both puts, so they must agree; neither alone is stale.
    result = explain(
        op(1, "put", "x", "1", start=0, end=10),
        op(2, "put", "x", "2", start=0, end=10),
        op(3, "get", "x", output="1", start=11, end=12),
        op(4, "get", "x", output="2", start=11, end=12),
    )
    assert result.verdict == "violation"
    assert "longest linearizable prefix found has 3 operation(s)" in result.explanation
    assert "no order of the operations that respects real time" in result.explanation
    assert result.witness[0].kind == "get"


def test_generated_stale_read_is_pinpointed():
    history = simulate(11, clients=4, operations=600, keys=2, append_fraction=0.0)
    broken = inject_stale_reads(history, count=1, seed=5)
    changed = [
        b
        for a, b in zip(history.operations(), broken.operations(), strict=True)
        if a.output != b.output
    ]
    result = check_linearizable(broken)
    assert result.verdict == "violation"
    assert "stale read" in result.explanation
    assert changed[0].id in {o.id for o in result.witness}


def test_ok_and_unknown_have_their_own_sentences():
    history = simulate(1, clients=3, operations=200, keys=2)
    assert check_linearizable(history).explanation.startswith("Linearizable")
    assert check_linearizable(history, timeout_s=0).explanation.startswith("Unknown")


# ----------------------------------------------------------------- what a learner reads


def _recorded_stale_read(start_ns: int, key: str = "x") -> History:
    """The stale read above, recorded by a History on a nanosecond clock starting at
    ``start_ns`` (a monotonic clock's numbers, as a real run records them)."""
    times = iter(start_ns + ms * 1_000_000 for ms in (0, 10, 11, 20, 21, 30.5))
    history = History(clock=lambda: int(next(times)), time_unit_ns=1)
    for client, kind, value, output in [
        (1, "put", "1", None),
        (1, "put", "2", None),
        (3, "get", None, "1"),
    ]:
        call = history.invoke(client, kind, key, value)
        history.ok(call, output)
    return history


def test_recorded_times_are_shown_in_ms_since_the_start_of_the_history():
    start_ns = 565_931_547_764
    history = _recorded_stale_read(start_ns)
    assert History().time_unit_ns == 1  # the default clock counts nanoseconds too
    text = check_linearizable(history).explanation
    assert "returned '1' during [21.0, 30.5] ms" in text
    assert "during [0.0, 10.0] ms" in text
    assert "completed at 20.0 < 21.0 ms" in text
    assert str(start_ns)[:6] not in text  # no raw clock readings


def test_times_close_together_get_enough_decimals_to_be_told_apart():
    ops = [
        op(1, "put", "x", "1", start=0, end=10_000),
        op(1, "put", "x", "2", start=11_000, end=20_010_000),
        op(3, "get", "x", output="1", start=20_030_000, end=30_000_000),
    ]
    text = check_linearizable(History.from_operations(ops), time_unit_ns=1).explanation
    assert "completed at 20.01 < 20.03 ms" in text


def test_a_clock_of_unknown_unit_keeps_its_own_numbers():
    times = iter(range(100, 106))
    history = History(clock=lambda: next(times))
    for client, kind, value, output in [(1, "put", "1", None), (1, "put", "2", None)]:
        history.ok(history.invoke(client, kind, "x", value), output)
    history.ok(history.invoke(3, "get", "x"), "1")
    assert history.time_unit_ns is None
    assert "completed at 103 < 104" in check_linearizable(history).explanation


def test_keys_are_named_as_the_learner_named_them():
    history = _recorded_stale_read(7_000_000, key="s8r2.k0")
    result = check_linearizable(history, key_names={"s8r2.k0": "k0"})
    assert result.explanation.startswith("Not linearizable on key 'k0'.")
    assert "get(k0) by client 3" in result.explanation
    assert "s8r2" not in result.explanation
    assert result.violating_keys == ("s8r2.k0",)  # the result itself keeps the stored key
    assert {o.key for o in result.witness} == {"s8r2.k0"}
