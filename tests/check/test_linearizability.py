"""The WGL checker on hand-made histories whose verdict is known by reasoning."""

from __future__ import annotations

import itertools

import pytest

from distlab.check import History, KVModel, brute_force_linearizable, check_linearizable, op
from distlab.check.generate import inject_stale_reads, simulate


def verdict(*ops, **kwargs) -> str:
    history = History.from_operations(ops)
    result = check_linearizable(history, **kwargs)
    # Every hand-made history is small enough to confirm by brute force as well.
    assert brute_force_linearizable(history) == (result.verdict == "ok"), result.explanation
    return result.verdict


def test_empty_history_and_sequential_history_are_linearizable():
    assert verdict() == "ok"
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=1),
            op(1, "get", "x", output="1", start=2, end=3),
            op(1, "append", "x", "2", start=4, end=5),
            op(1, "get", "x", output="12", start=6, end=7),
        )
        == "ok"
    )


def test_get_of_a_missing_key_returns_empty_string():
    assert verdict(op(1, "get", "x", output="", start=0, end=1)) == "ok"
    # None from a completed get means it read nothing: the empty value (HISTORY_FORMAT.md).
    assert verdict(op(1, "get", "x", output=None, start=0, end=1)) == "ok"
    assert verdict(op(1, "get", "x", output="1", start=0, end=1)) == "violation"


def test_stale_read_is_a_violation():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=10),
            op(1, "put", "x", "2", start=11, end=20),
            op(3, "get", "x", output="1", start=21, end=30),
        )
        == "violation"
    )


def test_lost_write_is_a_violation():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "get", "x", output="", start=15, end=20),
        )
        == "violation"
    )


def test_reads_going_back_in_time_are_a_violation():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "put", "x", "2", start=0, end=10),
            op(3, "get", "x", output="2", start=11, end=12),
            op(4, "get", "x", output="1", start=13, end=14),
        )
        == "violation"
    )


@pytest.mark.parametrize("seen", ["1", "2"])
def test_concurrent_writes_may_take_effect_in_either_order(seen):
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "put", "x", "2", start=5, end=15),
            op(3, "get", "x", output=seen, start=16, end=20),
            op(3, "get", "x", output=seen, start=21, end=25),
        )
        == "ok"
    )


def test_read_concurrent_with_a_write_may_see_old_or_new():
    for seen in ["", "1"]:
        assert (
            verdict(
                op(1, "put", "x", "1", start=0, end=10),
                op(2, "get", "x", output=seen, start=5, end=8),
            )
            == "ok"
        )


def test_touching_intervals_count_as_concurrent():
    # put completes at 10 and the get is invoked at 10: they overlap, so the old value is fine.
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "get", "x", output="", start=10, end=12),
        )
        == "ok"
    )


def test_indefinite_put_that_a_later_read_observes_is_ok():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=5, status="info"),
            op(2, "get", "x", output="1", start=50, end=60),
        )
        == "ok"
    )


def test_indefinite_put_never_observed_is_ok():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=5, status="info"),
            op(2, "get", "x", output="", start=50, end=60),
            op(2, "get", "x", output="", start=70, end=80),
        )
        == "ok"
    )


def test_indefinite_put_may_take_effect_long_after_the_client_gave_up():
    # First reads see nothing, a later one sees the timed-out put: legal, its completion is +inf.
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=5, status="info"),
            op(2, "get", "x", output="", start=50, end=60),
            op(2, "get", "x", output="1", start=70, end=80),
        )
        == "ok"
    )


def test_indefinite_put_cannot_take_effect_before_it_was_invoked():
    assert (
        verdict(
            op(2, "get", "x", output="1", start=0, end=10),
            op(1, "put", "x", "1", start=20, end=25, status="info"),
        )
        == "violation"
    )


def test_indefinite_put_cannot_be_seen_then_unseen():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=5, status="info"),
            op(2, "get", "x", output="1", start=50, end=60),
            op(2, "get", "x", output="", start=70, end=80),
        )
        == "violation"
    )


def test_failed_put_that_a_read_observes_is_a_violation():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=5, status="fail"),
            op(2, "get", "x", output="1", start=50, end=60),
        )
        == "violation"
    )


def test_indefinite_append_observed_inside_a_later_value():
    assert (
        verdict(
            op(1, "put", "x", "a", start=0, end=5),
            op(2, "append", "x", "b", start=6, end=8, status="info"),
            op(1, "append", "x", "c", start=10, end=12),
            op(3, "get", "x", output="abc", start=20, end=25),
        )
        == "ok"
    )
    assert (
        verdict(
            op(1, "put", "x", "a", start=0, end=5),
            op(2, "append", "x", "b", start=6, end=8, status="info"),
            op(1, "append", "x", "c", start=10, end=12),
            op(3, "get", "x", output="acb", start=20, end=25),
            op(3, "get", "x", output="ac", start=30, end=35),
        )
        == "violation"
    )


def test_indefinite_get_constrains_nothing():
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=5),
            op(2, "get", "x", start=10, end=20, status="info"),
        )
        == "ok"
    )


def test_keys_are_independent_but_each_must_be_linearizable():
    ok_x = [op(1, "put", "x", "1", start=0, end=5), op(2, "get", "x", output="1", start=6, end=9)]
    bad_y = [op(3, "put", "y", "1", start=0, end=5), op(4, "get", "y", output="", start=6, end=9)]
    history = History.from_operations(ok_x + bad_y)
    result = check_linearizable(history)
    assert result.verdict == "violation"
    assert result.keys["x"].verdict == "ok" and result.keys["y"].verdict == "violation"
    assert result.violating_keys == ("y",)
    assert result.linearizable is False


def test_generated_correct_history_is_ok_and_injected_stale_read_is_found():
    history = simulate(3, clients=5, operations=2000, keys=4)
    assert check_linearizable(history, timeout_s=120).verdict == "ok"
    broken = inject_stale_reads(history, count=1, seed=3)
    result = check_linearizable(broken, timeout_s=120)
    assert result.verdict == "violation"
    changed = [
        a
        for a, b in zip(history.operations(), broken.operations(), strict=True)
        if a.output != b.output
    ]
    assert len(changed) == 1
    assert result.violating_keys == (changed[0].key,)


def test_generated_history_with_many_indefinite_ops_is_ok():
    history = simulate(
        5, clients=5, operations=2000, keys=4, indefinite_fraction=0.3, fail_fraction=0.1
    )
    assert check_linearizable(history, timeout_s=120).verdict == "ok"


def test_without_memoization_the_verdict_is_the_same():
    history = simulate(4, clients=4, operations=300, keys=3)
    assert check_linearizable(history, memoize=False, timeout_s=120).verdict == "ok"
    broken = inject_stale_reads(history, count=1, seed=1)
    assert check_linearizable(broken, memoize=False, timeout_s=120).verdict == "violation"


def test_an_exhausted_budget_answers_unknown_never_ok():
    history = simulate(1, clients=5, operations=2000, keys=2)
    result = check_linearizable(history, timeout_s=0.0)
    assert result.verdict == "unknown"
    assert result.linearizable is None
    assert "Unknown" in result.explanation


def hard_history(n: int) -> History:
    """n concurrent timed-out appends, all seen by one read, then the empty value again.

    Not linearizable (values never shrink without a put), but proving it means trying
    every order of the appends: factorial in n.
    """
    ops = [op(c, "append", "x", f"<{c}>", start=0, end=1, status="info") for c in range(n)]
    everything = "".join(f"<{c}>" for c in range(n))
    ops.append(op(99, "get", "x", output=everything, start=5, end=6))
    ops.append(op(99, "get", "x", output="", start=7, end=8))
    return History.from_operations(ops)


@pytest.mark.parametrize("memoize", [True, False])
def test_a_hard_search_with_a_tiny_budget_is_unknown(memoize):
    result = check_linearizable(hard_history(14), timeout_s=0.05, memoize=memoize)
    assert result.verdict == "unknown"
    assert result.keys["x"].steps > 0


def test_the_small_hard_history_is_proved_a_violation():
    history = hard_history(5)
    assert check_linearizable(history, timeout_s=60).verdict == "violation"
    assert brute_force_linearizable(history) is False


def test_model_is_pluggable():
    class Counter(KVModel):
        """put adds its value as an integer; get returns the sum."""

        def init(self):
            return 0

        def step(self, state, o):
            if o.kind == "get":
                return (o.status != "ok" or int(o.output) == state), state
            return True, state + int(o.value)

    ops = [
        op(1, "put", "c", "2", start=0, end=1),
        op(2, "put", "c", "3", start=0, end=1),
        op(3, "get", "c", output="5", start=2, end=3),
    ]
    assert check_linearizable(History.from_operations(ops), model=Counter()).verdict == "ok"


def test_a_duplicate_indefinite_put_is_not_forced_to_happen():
    # Two timed-out puts write "1"; only the first needs to have happened for the read of "1".
    # Forcing the second one (invoked after put "2" completed) would wrongly refute this.
    assert (
        verdict(
            op(1, "put", "x", "1", start=0, end=10, status="info"),
            op(2, "put", "x", "2", start=18, end=22),
            op(3, "get", "x", output="1", start=20, end=30),
            op(4, "put", "x", "1", start=25, end=26, status="info"),
            op(3, "get", "x", output="2", start=40, end=50),
        )
        == "ok"
    )


def test_an_indefinite_put_of_the_initial_value_is_not_forced_to_happen():
    assert (
        verdict(
            op(1, "put", "x", "", start=30, end=31, status="info"),
            op(2, "put", "x", "2", start=0, end=5),
            op(2, "get", "x", output="", start=10, end=35),
            op(3, "get", "x", output="2", start=40, end=50),
        )
        == "violation"
    )
    assert (
        verdict(
            op(1, "put", "x", "", start=30, end=31, status="info"),
            op(2, "get", "x", output="", start=10, end=35),
            op(3, "put", "x", "2", start=32, end=33),
            op(3, "get", "x", output="2", start=40, end=50),
        )
        == "ok"
    )


def test_one_long_key_needs_no_recursion():
    # 6,000 operations on a single key: a recursive search would exceed Python's stack.
    history = simulate(8, clients=4, operations=6000, keys=1)
    result = check_linearizable(history, timeout_s=120)
    assert result.verdict == "ok"
    assert result.keys["k0"].operations == 6000


def test_a_linearizable_key_comes_with_its_witness_order():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "put", "x", "2", start=5, end=15),  # concurrent with put 1
            op(3, "get", "x", output="1", start=16, end=20),  # so put 2 went first
            op(4, "put", "x", "3", start=21, end=22, status="fail"),  # never happened
            op(5, "append", "x", "4", start=21, end=23, status="info"),  # nobody saw it
            op(3, "put", "y", "9", start=0, end=1),
        ]
    )
    result = check_linearizable(history)
    assert result.verdict == "ok"
    by_id = {o.id: o for o in history}
    order = [by_id[i] for i in result.keys["x"].prefix]
    assert [o.describe() for o in order] == ["put(x, '2')", "put(x, '1')", "get(x) -> '1'"]
    # The order replays legally and respects real time (a completed op precedes later ones).
    model, state = KVModel(), KVModel().init()
    for o in order:
        legal, state = model.step(state, o)
        assert legal, o
    for earlier, later in itertools.pairwise(order):
        assert not (later.complete is not None and later.complete < earlier.invoke)
    assert [by_id[i].describe() for i in result.keys["y"].prefix] == ["put(y, '9')"]
