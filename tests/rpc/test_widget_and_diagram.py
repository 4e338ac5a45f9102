"""The semantics widget (driven via .value and .click()) and the message diagram."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.text import Annotation

from distlab.demos.rpc_examples import timeout_outcomes, traced_calls
from distlab.viz.message_diagram import draw_message_diagram
from distlab.widgets.rpc_semantics import RpcSemanticsPanel


def test_panel_shows_duplicates_appearing_with_loss_and_never_at_most_once():
    panel = RpcSemanticsPanel(drop_rate=0.0, operations=10, seed=1)
    assert panel.results["at-least-once"].duplicates == 0
    assert panel.results["at-most-once"].duplicates == 0
    panel.drop_rate.value = 0.4  # the slider re-runs both modes
    assert panel.results["at-least-once"].drop_rate == 0.4
    assert panel.results["at-least-once"].duplicates > 0
    assert panel.results["at-most-once"].duplicates == 0
    assert "<b>0</b>" in panel.table.value
    panel.seed.value = 2
    panel.run_button.click()
    assert panel.results["at-most-once"].seed == 2
    assert panel.results["at-most-once"].executions == 10


def test_timeouts_look_alike_but_only_one_ran():
    request_lost, reply_lost = timeout_outcomes()
    assert (request_lost.error, request_lost.definite, request_lost.executed) == (
        "RpcTimeout",
        True,
        False,
    )
    assert (reply_lost.error, reply_lost.definite, reply_lost.executed) == (
        "RpcTimeout",
        False,
        True,
    )


def test_diagram_draws_an_arrow_per_delivered_message_and_a_cross_per_drop():
    events = traced_calls()
    delivered = sum(1 for e in events if e.kind == "recv")
    dropped = sum(1 for e in events if e.kind == "drop")
    assert dropped == 1
    figure = draw_message_diagram(events)
    axes = figure.axes[0]
    arrows = [text for text in axes.texts if isinstance(text, Annotation)]
    assert len(arrows) == delivered
    assert sum(1 for line in axes.lines if line.get_marker() == "x") == dropped
    assert {t.get_text() for t in axes.texts} >= {"kv", "c1", "c2"}


def test_diagram_draws_the_lost_reply_before_the_retry_that_followed_it():
    """Real-time order: c1 retried only after its reply was lost, so the retry is drawn
    below the cross. (By Lamport time the retry, which no message links to the lost
    reply, gets the smaller timestamp and would be drawn above it.)"""
    events = traced_calls()
    drop = next(e for e in events if e.kind == "drop")
    retry = [e for e in events if e.node == "c1" and e.kind == "send"][-1]
    assert retry.wall_time > drop.wall_time and retry.lamport < drop.lamport
    for order, retry_below in (("real time", True), ("lamport", False)):
        axes = draw_message_diagram(events, order=order).axes[0]
        cross_y = next(line for line in axes.lines if line.get_marker() == "x").get_ydata()[0]
        arrows = [t for t in axes.texts if isinstance(t, Annotation)]
        # The retry's arrow starts on c1's lane (x = 0) and is the last c1 request.
        starts = sorted(a.xyann[1] for a in arrows if a.xyann[0] == 0 and a.xy[0] == 1)
        assert bool(starts[-1] > cross_y) is retry_below, order
