"""How ClusterPanel draws a node, checked from Python (no browser needed, so always run).

A fake cluster stands in for real processes: these tests are about what the cards say
(banner, LEADER badge, Raft fields, the summary line), while test_cluster.py drives real
processes and tests/browser/test_*.py check the same cards in JupyterLab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from distlab.widgets.cluster_panel import ClusterPanel, card_html, summary_html


@dataclass
class FakeStatus:
    name: str
    state: str
    pid: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def raft(role: str, term: int, leader: str | None, log_length: int = 7, commit: int = 6):
    return {
        "role": role,
        "term": term,
        "leader": leader,
        "voted_for": leader,
        "log_length": log_length,
        "commit_index": commit,
    }


class FakeCluster:
    """Records the calls a panel makes; crash/restart flip the reported state."""

    def __init__(self, statuses: dict[str, FakeStatus]) -> None:
        self.statuses = statuses
        self.names = list(statuses)
        self.calls: list[tuple[str, ...]] = []
        self.broken = False

    def status(self, timeout_s: float = 1.0) -> dict[str, FakeStatus]:
        if self.broken:
            raise RuntimeError("the cluster is closed")
        return dict(self.statuses)

    def crash(self, name: str) -> None:
        self.calls.append(("crash", name))
        self.statuses[name] = FakeStatus(name, "crashed")

    def restart(self, name: str) -> None:
        self.calls.append(("restart", name))
        self.statuses[name] = FakeStatus(name, "up", 99, raft("follower", 5, None))


def visible_text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).strip()


def test_a_crashed_card_says_crashed_in_red_and_shows_no_process() -> None:
    markup = card_html("n1", "crashed", None, {}, raft("leader", 3, "n1"))
    text = visible_text(markup)
    assert "✖ CRASHED" in text and "down" in text
    assert "data-state='crashed'" in markup and "background:#c62828" in markup
    assert "pid" not in text
    assert "was leader, term 3" in text  # what the learner just killed
    assert "distlab-leader-badge" not in markup


def test_a_leader_card_has_the_badge_and_raft_fields_in_figure_2_order() -> None:
    markup = card_html("n2", "up", 4242, raft("leader", 4, "n2", log_length=12, commit=11))
    text = visible_text(markup)
    assert "distlab-leader-badge" in markup and "★ LEADER" in text and "● UP" in text
    order = [text.index(label) for label in ("term 4", "leader n2", "log length 12")]
    assert order == sorted(order)
    assert "commit index 11" in text and "voted for n2" in text and "pid 4242" in text
    assert "log_length" not in text  # readable names, not identifiers


def test_followers_and_other_programs_get_no_leader_badge() -> None:
    follower = card_html("n0", "up", 1, raft("follower", 4, "n2"))
    assert "distlab-leader-badge" not in follower and "follower" in visible_text(follower)
    kv = card_html("n0", "up", 1, {"keys": 3, "durable": True, "log_records": 3})
    assert "role" not in visible_text(kv) and "durable yes" in visible_text(kv)
    assert "log records 3" in visible_text(kv)
    paused = card_html("n0", "paused", 1, raft("leader", 4, "n0"))
    assert "PAUSED" in visible_text(paused)


def test_the_summary_names_the_leaders_of_live_nodes_only() -> None:
    statuses = {
        "n0": FakeStatus("n0", "up", 1, raft("follower", 4, "n2")),
        "n1": FakeStatus("n1", "crashed"),
        "n2": FakeStatus("n2", "up", 3, raft("leader", 4, "n2")),
    }
    assert "2 of 3 nodes up · leader: n2 (term 4)" in visible_text(summary_html(statuses))
    statuses["n2"] = FakeStatus("n2", "crashed")
    assert "no leader right now" in visible_text(summary_html(statuses))
    statuses["n0"] = FakeStatus("n0", "up", 1, raft("leader", 5, "n0"))
    statuses["n1"] = FakeStatus("n1", "up", 2, raft("leader", 3, "n1"))
    # Both say "leader"; n1's term is older than one another node has seen: it is stale.
    assert "leaders: n0 (term 5), n1 (term 3, stale)" in visible_text(summary_html(statuses))
    plain = {"n0": FakeStatus("n0", "up", 1, {"keys": 0})}
    assert visible_text(summary_html(plain, "10:00:00")) == "1 of 1 nodes up · as of 10:00:00"


def test_a_stale_leader_reads_as_stale_next_to_the_current_one() -> None:
    current = card_html("n0", "up", 1, raft("leader", 2, "n0"), highest_term=2)
    stale = card_html("n2", "up", 3, raft("leader", 1, "n2"), highest_term=2)
    assert "★ LEADER · term 2" in visible_text(current) and "data-stale='no'" in current
    assert "distlab-leader-badge" in current
    assert "LEADER · STALE · term 1" in visible_text(stale) and "data-stale='yes'" in stale
    assert "distlab-leader-badge" not in stale and "distlab-stale-leader-badge" in stale
    assert "has seen term 2" in stale  # the badge's tooltip says why
    follower = card_html("n1", "up", 2, raft("follower", 2, "n0"), highest_term=2)
    assert "follower · term 2" in visible_text(follower)


def test_the_simulators_field_names_read_like_a_real_nodes() -> None:
    core_fields = {"node_id": "n1", "role": "follower", "current_term": 3, "leader_id": "n0",
                   "log_length": 4, "commit_index": 4}  # fmt: skip
    text = visible_text(card_html("n1", "up", None, core_fields))
    assert "term 3" in text and "leader n0" in text and "node id" not in text
    assert "current term" not in text and "leader id" not in text


def test_buttons_redraw_the_card_and_errors_land_on_the_panel() -> None:
    cluster = FakeCluster(
        {
            "n0": FakeStatus("n0", "up", 1, raft("leader", 2, "n0")),
            "n1": FakeStatus("n1", "up", 2, raft("follower", 2, "n0")),
        }
    )
    panel = ClusterPanel(cluster)
    card = panel.cards["n0"]
    assert card.layout.border == "1px solid #bdbdbd" and card.restart.disabled
    card.crash.click()
    assert cluster.calls == [("crash", "n0")]
    assert "CRASHED" in card.info.value and card.layout.border == "3px solid #c62828"
    assert card.crash.disabled and card.pause.disabled and not card.restart.disabled
    assert "was leader, term 2" in visible_text(card.info.value)
    assert "no leader right now" in panel.summary.value
    cluster.statuses["n1"] = FakeStatus("n1", "up", 2, raft("leader", 3, "n1"))
    panel.refresh_button.click()
    assert "distlab-leader-badge" in panel.cards["n1"].info.value
    assert "leader: n1 (term 3)" in panel.summary.value
    card.restart.click()
    assert cluster.calls[-1] == ("restart", "n0") and "● UP" in card.info.value
    cluster.broken = True
    panel.refresh_button.click()  # must not raise inside a button callback
    assert "the cluster is closed" in panel.message.value
