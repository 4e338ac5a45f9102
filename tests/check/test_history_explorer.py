"""HistoryExplorer (chapter 9's widget) without a browser: per-key verdicts, the witness order
of a linearizable key, the counterexample of a broken one, and the dropdown driving them."""

from __future__ import annotations

import pytest

from distlab.check import History, KVModel, check_linearizable, inject_stale_reads, op, simulate
from distlab.widgets import HistoryExplorer
from distlab.widgets.history_explorer import key_html, key_view


def mixed_history() -> History:
    """Key x is linearizable (with a failed and an unobserved timed-out write); y has a
    stale read."""
    return History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "put", "x", "2", start=5, end=15),
            op(3, "get", "x", output="1", start=16, end=20),
            op(4, "put", "x", "3", start=21, end=22, status="fail"),
            op(5, "append", "x", "4", start=21, end=23, status="info"),
            op(1, "put", "y", "1", start=11, end=20),
            op(1, "put", "y", "2", start=21, end=30),
            op(2, "get", "y", output="1", start=31, end=35),
        ]
    )


def test_a_linearizable_key_shows_a_legal_real_time_order_and_what_was_left_out():
    view = key_view(mixed_history(), "x")
    assert view.verdict == "ok" and view.linearizable is True
    assert [o.describe() for o in view.order] == ["put(x, '2')", "put(x, '1')", "get(x) -> '1'"]
    model, state = KVModel(), KVModel().init()
    for operation in view.order:
        legal, state = model.step(state, operation)
        assert legal, operation
    assert {o.describe() for o in view.left_out} == {
        "put(x, '3') failed",
        "append(x, '4') (indefinite)",
    }
    text = view.text()
    assert "key 'x': 5 operations, linearizable" in text
    assert "   1. put(x, '2') by client 2 during [5, 15]" in text
    assert "failed definitely, so it did not happen" in text
    assert "need not have happened" in text


def test_a_broken_key_shows_the_counterexample_and_its_operations():
    view = key_view(mixed_history(), "y")
    assert view.verdict == "violation" and view.linearizable is False
    assert view.order == ()
    assert {o.describe() for o in view.witness} == {"get(y) -> '1'", "put(y, '2')", "put(y, '1')"}
    text = view.text()
    assert text.startswith("key 'y': 3 operations, NOT linearizable")
    assert "stale read" in text
    assert "data-verdict='violation'" in key_html(view)


def test_each_key_agrees_with_the_whole_history_check():
    history = inject_stale_reads(simulate(seed=3, clients=6, operations=600, keys=4), 4, seed=3)
    whole = check_linearizable(history)
    for key, verdict in whole.key_verdicts.items():
        assert key_view(history, key).verdict == verdict, key


def test_unknown_when_the_budget_runs_out():
    hard = History.from_operations(
        [op(c, "append", "x", f"<{c}>", start=0, end=1, status="info") for c in range(14)]
        + [
            op(99, "get", "x", output="".join(f"<{c}>" for c in range(14)), start=5, end=6),
            op(99, "get", "x", output="", start=7, end=8),
        ]
    )
    view = key_view(hard, "x", timeout_s=0.05)
    assert view.verdict == "unknown" and view.linearizable is None
    assert "budget" in view.text()


def test_the_dropdown_labels_keys_opens_on_a_violation_and_redraws_on_a_choice():
    explorer = HistoryExplorer(mixed_history())
    assert [label for label, _ in explorer.key.options] == [
        "x · 5 ops · linearizable",
        "y · 3 ops · NOT linearizable",
    ]
    assert explorer.key.value == "y" and explorer.view.verdict == "violation"
    assert "counterexample" in explorer.verdict.value
    red_figure = explorer.figure
    explorer.key.value = "x"  # what the dropdown does when a learner picks x
    assert explorer.view.key == "x" and explorer.view.verdict == "ok"
    assert "distlab-witness-order" in explorer.verdict.value
    assert explorer.figure is not red_figure
    assert explorer.select("y").verdict == "violation"


def test_wrong_keys_and_empty_histories_are_clear_errors():
    with pytest.raises(ValueError, match="no operation on key 'z'"):
        key_view(mixed_history(), "z")
    with pytest.raises(ValueError, match="no operation on key 'z'"):
        HistoryExplorer(mixed_history(), key="z")
    with pytest.raises(ValueError, match="no operations"):
        HistoryExplorer(History())
