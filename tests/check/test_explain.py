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
