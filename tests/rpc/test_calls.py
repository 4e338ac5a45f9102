"""The client's pure protocol core (calls.py): no sockets, threads or clocks in these tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.rpc.calls import (
    DEADLINE_SLACK_S,
    READ_WAIT_S,
    RETRY,
    Attempts,
    CallTable,
    GiveUp,
    RequestIds,
    connection_lost,
    deadline_s,
    outcome_of_reply,
    read_wait_s,
    timed_out,
)
from distlab.rpc.errors import (
    AuthenticationError,
    BadArguments,
    ConnectionLost,
    RemoteError,
    RpcTimeout,
    SessionExpired,
    UnknownMethod,
)


def test_request_ids_count_up_and_remember_the_last():
    ids = RequestIds()
    assert ids.last == 0
    assert [ids.next() for _ in range(3)] == [1, 2, 3]
    assert ids.last == 3


def test_a_call_is_ended_exactly_once():
    table = CallTable()
    table.add(7, "slot-7")
    table.add(8, "slot-8")
    assert len(table) == 2 and table.holds(7, "slot-7") and not table.holds(7, "other")
    assert table.take(7) == "slot-7"  # the reply wins ...
    assert table.take(7) is None  # ... so the deadline finds nothing to fail
    assert sorted(table.slots()) == ["slot-8"]
    assert table.take_any() == "slot-8"
    assert table.take_any() is None and not table


def test_deadlines_are_numbers():
    assert deadline_s(100.0, 0.25) == 100.25


def test_a_reader_blocks_a_bounded_time_and_sets_its_timeout_only_when_it_must():
    # Nothing set yet: a long wait is cut to one READ_WAIT_S slice, a short one kept.
    assert read_wait_s(0.0, 10.0, deadline=True) == READ_WAIT_S
    assert read_wait_s(0.0, 0.01, deadline=True) == 0.01
    # Set already, and close enough: no system call.
    assert read_wait_s(READ_WAIT_S, 10.0, deadline=True) is None
    assert read_wait_s(0.01, 0.0099, deadline=True) is None  # within the slack
    # A caller's deadline is never slept past by more than the slack ...
    assert read_wait_s(READ_WAIT_S, 0.01, deadline=True) == 0.01
    # ... but a background reader's linger may be (it only decides when to go idle).
    assert read_wait_s(READ_WAIT_S, 0.01, deadline=False) is None
    # A tiny timeout left by a caller near its deadline is raised again: no spinning.
    assert read_wait_s(0.0001, 10.0, deadline=True) == READ_WAIT_S
    assert read_wait_s(0.0001, 10.0, deadline=False) == READ_WAIT_S
    assert READ_WAIT_S > DEADLINE_SLACK_S > 0


def test_a_reply_is_the_result_or_the_error_it_names():
    assert outcome_of_reply(True, {"k": 1}) == {"k": 1}
    error = outcome_of_reply(False, ["unknown_method", "UnknownMethod", "no KV.nope", ""])
    assert isinstance(error, UnknownMethod) and error.definite
    remote = outcome_of_reply(False, ["remote", "ValueError", "boom", "tb"])
    assert isinstance(remote, RemoteError) and not remote.definite
    assert remote.type_name == "ValueError"


def test_a_timeout_is_definite_only_when_the_request_never_left():
    assert timed_out("KV.get", "n1", 0.5, sent=False).definite
    maybe = timed_out("KV.get", "n1", 0.5, sent=True)
    assert not maybe.definite and "may have run" in str(maybe)
    assert connection_lost("gone", sent=False).definite
    assert not connection_lost("gone", sent=True).definite


def test_network_failures_are_retried_until_the_retries_run_out():
    attempts = Attempts(retries=2)
    dropped = RpcTimeout("dropped", definite=True)
    assert attempts.after_failure(dropped) is RETRY
    assert attempts.after_failure(ConnectionLost("refused", definite=True)) is RETRY
    decision = attempts.after_failure(dropped)
    assert decision == GiveUp(dropped)  # every attempt certainly did not run: still definite


def test_giving_up_after_an_attempt_that_may_have_run_makes_a_new_indefinite_error():
    attempts = Attempts(retries=1)
    assert attempts.after_failure(RpcTimeout("reply lost", definite=False)) is RETRY
    dropped = RpcTimeout("request dropped", definite=True)
    decision = attempts.after_failure(dropped)
    assert isinstance(decision, GiveUp)
    assert isinstance(decision.error, RpcTimeout) and not decision.error.definite
    assert decision.error is not dropped and decision.error.__cause__ is dropped
    assert dropped.definite  # the caught error is untouched
    assert "earlier attempt may have run" in str(decision.error)


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationError("wrong secret"),
        UnknownMethod("no such method"),
        BadArguments("wrong arity"),
        RemoteError("ValueError", "boom"),
    ],
)
def test_answers_and_refusals_are_never_retried(error):
    assert Attempts(retries=5).after_failure(error) == GiveUp(error)


def test_a_forgotten_session_asks_for_a_new_one():
    expired = SessionExpired("server forgot us")
    assert Attempts(retries=3).after_failure(expired) == GiveUp(expired, renew_session=True)


def test_negative_retries_are_refused():
    with pytest.raises(ValueError, match="retries"):
        Attempts(retries=-1)


FAILURES = st.sampled_from(
    [
        lambda: RpcTimeout("t", definite=True),
        lambda: RpcTimeout("t", definite=False),
        lambda: ConnectionLost("c", definite=True),
        lambda: ConnectionLost("c", definite=False),
        lambda: UnknownMethod("u"),
        lambda: SessionExpired("s"),
    ]
)


@settings(max_examples=200)
@given(retries=st.integers(0, 4), makers=st.lists(FAILURES, min_size=1, max_size=8))
def test_the_final_error_is_definite_only_if_no_attempt_may_have_run(retries, makers):
    attempts = Attempts(retries)
    seen = []
    for make in makers:
        error = make()
        before = error.definite
        seen.append(error)
        decision = attempts.after_failure(error)
        assert error.definite == before  # never mutated
        if decision is not RETRY:
            assert decision.error.definite == all(e.definite for e in seen)
            assert type(decision.error) is type(error)
            return
    assert len(seen) <= retries  # every failure so far was retried
