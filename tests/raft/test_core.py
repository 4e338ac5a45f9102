"""RaftNode unit tests: feed ticks and messages, assert on take_ready(). No mocks, no network.

A new leader appends a no-op of its term (§8) unless its config says otherwise, so a
leader elected on an empty log holds the no-op at index 1 and the first command at 2.
"""

from __future__ import annotations

import pytest

from distlab.raft import (
    NOOP,
    AppendEntries,
    AppendEntriesReply,
    CommandApplied,
    Envelope,
    HardState,
    InstallSnapshot,
    InstallSnapshotReply,
    LogEntry,
    NotLeader,
    PersistedState,
    Proposed,
    RaftConfig,
    RequestVote,
    RequestVoteReply,
    Role,
    Snapshot,
    SnapshotApplied,
    is_noop,
)


def log_of(*terms: int) -> tuple[LogEntry, ...]:
    return tuple(LogEntry(term, i + 1, f"c{i + 1}") for i, term in enumerate(terms))


def elect(node, voter="n2"):
    """Time the node out and give it one vote (a majority of three)."""
    for _ in range(100):
        node.tick()
        if node.role is Role.CANDIDATE:
            break
    node.receive(voter, RequestVoteReply(term=node.current_term, vote_granted=True))
    assert node.role is Role.LEADER
    node.take_ready()
    return node


# -- elections and votes (§5.2, §5.4.1) ------------------------------------------------------


def test_follower_votes_for_up_to_date_candidate_and_persists_the_vote(make_node):
    node = make_node("n1", peers=["n2", "n3"])
    node.receive("n2", RequestVote(term=1, candidate_id="n2", last_log_index=0, last_log_term=0))
    ready = node.take_ready()
    reply = RequestVoteReply(term=1, vote_granted=True)
    assert ready.messages == [Envelope("n1", "n2", reply)]
    # The vote travels in the same Ready as the reply: the driver writes it first.
    assert ready.hard_state == HardState(current_term=1, voted_for="n2")


def test_follower_refuses_candidate_whose_last_term_is_older(make_node):
    node = make_node(persisted=PersistedState(HardState(2, None), None, log_of(1, 2)))
    # A longer log does not help: §5.4.1 compares last terms first.
    node.receive("n2", RequestVote(term=3, candidate_id="n2", last_log_index=9, last_log_term=1))
    ready = node.take_ready()
    assert ready.messages == [Envelope("n1", "n2", RequestVoteReply(term=3, vote_granted=False))]
    assert ready.hard_state == HardState(3, None)


def test_follower_refuses_shorter_log_with_same_last_term(make_node):
    node = make_node(persisted=PersistedState(HardState(2, None), None, log_of(1, 2, 2)))
    node.receive("n2", RequestVote(term=3, candidate_id="n2", last_log_index=2, last_log_term=2))
    assert node.take_ready().messages[0].message.vote_granted is False
    node.receive("n3", RequestVote(term=3, candidate_id="n3", last_log_index=3, last_log_term=2))
    assert node.take_ready().messages[0].message.vote_granted is True


def test_one_vote_per_term_even_when_asked_again(make_node):
    node = make_node()
    node.receive("n2", RequestVote(term=1, candidate_id="n2", last_log_index=0, last_log_term=0))
    node.receive("n3", RequestVote(term=1, candidate_id="n3", last_log_index=0, last_log_term=0))
    node.receive("n2", RequestVote(term=1, candidate_id="n2", last_log_index=0, last_log_term=0))
    granted = [(e.dst, e.message.vote_granted) for e in node.take_ready().messages]
    assert granted == [("n2", True), ("n3", False), ("n2", True)]


def test_election_timeout_is_randomized_within_bounds_and_starts_an_election(make_node):
    timeouts = set()
    for seed in range(20):
        import random

        from distlab.raft import RaftNode

        node = RaftNode("n1", ["n2", "n3"], rng=random.Random(seed))
        ticks = 0
        while node.role is Role.FOLLOWER:
            node.tick()
            ticks += 1
        timeouts.add(ticks)
        assert 10 <= ticks <= 20
    assert len(timeouts) > 3, "timeouts should differ between nodes (§5.2)"
    ready = node.take_ready()
    assert ready.hard_state == HardState(1, "n1")
    assert sorted(e.dst for e in ready.messages) == ["n2", "n3"]
    assert ready.messages[0].message == RequestVote(1, "n1", 0, 0)


def test_candidate_with_majority_becomes_leader_and_sends_heartbeats(make_node):
    node = elect(make_node())
    assert node.role is Role.LEADER and node.leader_id == "n1"
    for peer in ("n2", "n3"):  # both stored the leader's no-op: nothing left to carry
        node.receive(peer, AppendEntriesReply(node.current_term, True, match_index=1))
    node.take_ready()
    for _ in range(3):
        node.tick()
    messages = node.take_ready().messages
    assert {e.dst for e in messages} == {"n2", "n3"}
    assert all(isinstance(e.message, AppendEntries) and e.message.entries == () for e in messages)


def test_leader_steps_down_on_higher_term(make_node):
    node = elect(make_node())
    node.receive("n3", AppendEntriesReply(term=node.current_term + 1, success=False))
    assert node.role is Role.FOLLOWER
    assert node.take_ready().hard_state == HardState(node.current_term, None)
    assert isinstance(node.propose("x"), NotLeader)


def test_a_leader_that_stepped_down_sends_no_pending_entries(make_node):
    node = elect(make_node())
    for peer in ("n2", "n3"):  # both stored the leader's no-op
        node.receive(peer, AppendEntriesReply(node.current_term, True, match_index=1))
    node.propose("x")
    node.receive("n3", RequestVote(node.current_term + 1, "n3", 5, 5))
    sent = [type(e.message).__name__ for e in node.take_ready().messages]
    assert sent == ["RequestVoteReply"]


def test_candidate_ignores_vote_from_an_old_term(make_node):
    node = make_node()
    while node.role is not Role.CANDIDATE:
        node.tick()
    node.tick()  # still a candidate
    node.receive("n2", RequestVoteReply(term=node.current_term - 1, vote_granted=True))
    assert node.role is Role.CANDIDATE


# -- replication (§5.3) -------------------------------------------------------------------


def test_append_entries_rejects_a_too_short_log_with_its_length(make_node):
    node = make_node(persisted=PersistedState(HardState(3), None, log_of(1, 1)))
    node.receive(
        "n2", AppendEntries(3, "n2", prev_log_index=5, prev_log_term=3, entries=(), leader_commit=0)
    )
    reply = node.take_ready().messages[0].message
    assert reply == AppendEntriesReply(term=3, success=False, conflict_index=3, conflict_term=None)


def test_append_entries_rejects_a_term_mismatch_naming_the_whole_conflicting_term(make_node):
    node = make_node(persisted=PersistedState(HardState(4), None, log_of(1, 2, 2, 2)))
    node.receive(
        "n2", AppendEntries(4, "n2", prev_log_index=4, prev_log_term=3, entries=(), leader_commit=0)
    )
    reply = node.take_ready().messages[0].message
    assert (reply.success, reply.conflict_term, reply.conflict_index) == (False, 2, 2)


def test_append_entries_truncates_a_conflicting_suffix_and_reports_it_for_persistence(make_node):
    node = make_node(persisted=PersistedState(HardState(3), None, log_of(1, 2, 2)))
    new = (LogEntry(3, 2, "x"), LogEntry(3, 3, "y"))
    node.receive("n2", AppendEntries(3, "n2", 1, 1, new, leader_commit=0))
    ready = node.take_ready()
    assert (ready.log_from, ready.entries) == (2, list(new))
    assert ready.messages[0].message == AppendEntriesReply(3, True, match_index=3)


def test_a_delayed_shorter_append_entries_does_not_truncate(make_node):
    node = make_node(persisted=PersistedState(HardState(3), None, log_of(1, 3, 3)))
    node.receive("n2", AppendEntries(3, "n2", 1, 1, (LogEntry(3, 2, "c2"),), leader_commit=0))
    ready = node.take_ready()
    assert ready.log_from is None
    assert node.log.last_index == 3


def test_follower_commits_only_what_the_request_proved(make_node):
    node = make_node(persisted=PersistedState(HardState(2), None, log_of(1, 1, 1)))
    # The leader committed 3, but this request only proves index 1 matches.
    node.receive("n2", AppendEntries(2, "n2", 0, 0, (LogEntry(1, 1, "c1"),), leader_commit=3))
    ready = node.take_ready()
    assert ready.committed == [CommandApplied(1, 1, "c1")]
    node.receive("n2", AppendEntries(2, "n2", 3, 1, (), leader_commit=3))
    assert [c.index for c in node.take_ready().committed] == [2, 3]  # each exactly once


def test_leader_skips_a_whole_conflicting_term_in_one_round(make_node):
    node = make_node(persisted=PersistedState(HardState(5), None, log_of(1, 1, 4, 4, 4)))
    elect(node)
    # Follower has term 2 from index 2 on; the leader holds no term-2 entry.
    node.receive(
        "n2", AppendEntriesReply(node.current_term, False, conflict_index=2, conflict_term=2)
    )
    message = node.take_ready().messages[0].message
    # 6 is the leader's own no-op, appended on its election.
    assert message.prev_log_index == 1 and [e.index for e in message.entries] == [2, 3, 4, 5, 6]


def test_leader_resumes_after_its_own_last_entry_of_the_conflicting_term(make_node):
    node = make_node(persisted=PersistedState(HardState(5), None, log_of(1, 4, 4, 5, 5)))
    elect(node)
    node.receive(
        "n2", AppendEntriesReply(node.current_term, False, conflict_index=2, conflict_term=4)
    )
    message = node.take_ready().messages[0].message
    assert message.prev_log_index == 3


def test_leader_commits_by_majority_and_replicates_the_commit_index(make_node):
    node = elect(make_node())
    term = node.current_term
    for peer in ("n2", "n3"):  # answers to the first AppendEntries: they hold the no-op
        node.receive(peer, AppendEntriesReply(term, True, match_index=1))
    assert node.take_ready().committed == [CommandApplied(1, term, NOOP)]
    assert node.propose("x") == Proposed(index=2, term=term)
    ready = node.take_ready()
    assert ready.entries == [LogEntry(term, 2, "x")]
    assert {e.dst for e in ready.messages} == {"n2", "n3"}
    assert ready.committed == []
    node.receive("n2", AppendEntriesReply(term, True, match_index=2))
    assert node.take_ready().committed == [CommandApplied(2, term, "x")]
    for _ in range(3):
        node.tick()
    assert {e.message.leader_commit for e in node.take_ready().messages} == {2}


def test_a_follower_of_unknown_position_is_probed_not_flooded(make_node):
    node = elect(make_node())  # no replies yet: n2 and n3 may be down or far behind
    for command in "abc":
        node.propose(command)
        assert node.take_ready().messages == []
    for _ in range(3):
        node.tick()
    assert len(node.take_ready().messages) == 2  # one probe each per heartbeat


def test_figure8_leader_never_commits_an_old_term_entry_by_counting(make_node):
    # Index 2 holds an entry of term 2; we lead term 5. A majority storing it is not enough.
    node = make_node(persisted=PersistedState(HardState(4), None, log_of(1, 2)))
    elect(node)
    term = node.current_term
    node.receive("n2", AppendEntriesReply(term, True, match_index=2))
    assert node.commit_index == 0 and node.take_ready().committed == []
    # Once an entry of the current term is on a majority, everything before it commits:
    # the leader's own no-op at 3 is one, so no client command has to come first (§8).
    node.receive("n2", AppendEntriesReply(term, True, match_index=3))
    committed = node.take_ready().committed
    assert [c.index for c in committed] == [1, 2, 3] and is_noop(committed[-1].command)


def test_a_new_leader_appends_a_noop_of_its_term_and_sends_it_at_once(make_node):
    node = make_node(persisted=PersistedState(HardState(4), None, log_of(1, 2)))
    while node.role is not Role.CANDIDATE:
        node.tick()
    node.take_ready()
    node.receive("n2", RequestVoteReply(term=node.current_term, vote_granted=True))
    ready = node.take_ready()
    noop = LogEntry(node.current_term, 3, NOOP)
    # Persisted in the same Ready that sends it, as any entry (the driver writes first).
    assert (ready.log_from, ready.entries) == (3, [noop])
    assert sorted(e.dst for e in ready.messages) == ["n2", "n3"]
    for envelope in ready.messages:
        assert (envelope.message.prev_log_index, envelope.message.entries) == (2, (noop,))
    assert ready.committed == []


def test_without_noop_on_election_a_new_leader_appends_nothing(make_node):
    node = elect(make_node(config=RaftConfig(noop_on_election=False)))
    assert node.log.last_index == 0
    assert node.propose("x") == Proposed(index=1, term=node.current_term)


def test_a_cluster_of_one_commits_its_noop_on_electing_itself():
    import random

    from distlab.raft import RaftNode

    node = RaftNode("solo", [], rng=random.Random(0))
    while node.role is not Role.LEADER:
        node.tick()
    # Delivered on the apply channel like any entry: the driver keeps it from the service.
    assert node.take_ready().committed == [CommandApplied(1, 1, NOOP)]
    assert is_noop(NOOP) and not is_noop({"__raft__": "other"}) and not is_noop("noop")


def test_without_pipelining_each_send_carries_everything_from_next_index(make_node):
    node = elect(make_node(config=RaftConfig(pipeline=False)))
    for peer in ("n2", "n3"):
        node.receive(peer, AppendEntriesReply(node.current_term, True, match_index=1))
    node.take_ready()
    node.propose("a")
    assert all(len(e.message.entries) == 1 for e in node.take_ready().messages)
    node.propose("b")
    # No reply yet, so next_index stayed at 2: "a" goes again, with "b".
    assert all(len(e.message.entries) == 2 for e in node.take_ready().messages)
    assert node.next_index == {"n2": 2, "n3": 2}


def test_a_next_index_outside_the_log_is_reported_to_whoever_set_it(make_node):
    node = elect(make_node())
    node.next_index["n2"] = 0  # as a subclass's broken reply handler might
    with pytest.raises(ValueError, match=r"next_index\['n2'\] is 0, outside 1..2"):
        node.send_append_entries("n2")


def test_propose_on_a_follower_is_refused_with_a_leader_hint(make_node):
    node = make_node()
    node.receive("n3", AppendEntries(1, "n3", 0, 0, (), leader_commit=0))
    assert node.propose("x") == NotLeader(leader_hint="n3")


def test_proposals_between_two_take_ready_calls_are_batched(make_node):
    node = elect(make_node())
    node.receive("n2", AppendEntriesReply(node.current_term, True, match_index=1))
    node.receive("n3", AppendEntriesReply(node.current_term, True, match_index=1))
    node.take_ready()
    for command in "abc":
        node.propose(command)
    messages = node.take_ready().messages
    assert len(messages) == 2
    assert all(len(e.message.entries) == 3 for e in messages)


# -- snapshots (§7) and restarts -----------------------------------------------------------


def test_snapshot_compacts_the_log_and_asks_to_persist_it(make_node):
    node = elect(make_node())
    for command in "abcd":  # at 2..5, after the no-op
        node.propose(command)
    node.receive("n2", AppendEntriesReply(node.current_term, True, match_index=5))
    node.take_ready()
    node.snapshot(3, b"state-3")
    ready = node.take_ready()
    assert ready.snapshot == Snapshot(3, node.current_term, b"state-3")
    assert (node.log.snapshot_index, len(node.log)) == (3, 2)
    with pytest.raises(ValueError, match="beyond the last applied"):
        node.snapshot(9, b"")


def test_leader_sends_install_snapshot_to_a_follower_behind_its_snapshot(make_node):
    node = elect(make_node())
    for command in "abcd":
        node.propose(command)
    node.receive("n2", AppendEntriesReply(node.current_term, True, match_index=4))
    node.take_ready()
    node.snapshot(4, b"state-4")
    node.take_ready()
    for _ in range(3):  # n3 never answered: the next heartbeat probes it, with the snapshot
        node.tick()
    [message] = [e.message for e in node.take_ready().messages if e.dst == "n3"]
    assert message == InstallSnapshot(node.current_term, "n1", 4, node.current_term, b"state-4")
    node.receive("n3", InstallSnapshotReply(node.current_term, 4))
    assert node.match_index["n3"] == 4


def test_follower_installs_snapshot_and_hands_it_to_the_service_once(make_node):
    node = make_node(persisted=PersistedState(HardState(1), None, log_of(1, 1)))
    node.receive("n2", InstallSnapshot(2, "n2", 5, 2, b"state-5"))
    ready = node.take_ready()
    assert ready.snapshot == Snapshot(5, 2, b"state-5")
    assert ready.committed == [SnapshotApplied(5, 2, b"state-5")]
    assert ready.log_from == 6 and ready.entries == []  # the old, conflicting log goes
    assert ready.messages[0].message == InstallSnapshotReply(2, 5)
    assert node.statistics().snapshots_installed == 1
    # An older snapshot arriving late changes nothing.
    node.receive("n2", InstallSnapshot(2, "n2", 3, 1, b"state-3"))
    ready = node.take_ready()
    assert ready.snapshot is None and ready.committed == []
    assert node.log.snapshot_index == 5
    assert node.statistics().snapshots_installed == 1  # not installed, so not counted


def test_follower_keeps_entries_after_a_matching_snapshot(make_node):
    node = make_node(persisted=PersistedState(HardState(1), None, log_of(1, 1, 1, 1)))
    node.receive("n2", InstallSnapshot(1, "n2", 2, 1, b"s"))
    assert (node.log.snapshot_index, node.log.last_index) == (2, 4)


def test_restart_restores_hard_state_log_and_redelivers_the_snapshot(make_node):
    persisted = PersistedState(HardState(7, "n3"), Snapshot(2, 1, b"s2"), log_of(1, 1, 6))
    node = make_node(persisted=persisted)
    assert (node.current_term, node.voted_for) == (7, "n3")
    assert (node.log.snapshot_index, node.log.last_index, node.log.last_term) == (2, 3, 6)
    ready = node.take_ready()
    assert ready.committed == [SnapshotApplied(2, 1, b"s2")]
    assert ready.hard_state is None and ready.log_from is None
    # It remembers its vote: no second vote in term 7.
    node.receive("n2", RequestVote(7, "n2", 9, 9))
    assert node.take_ready().messages[0].message.vote_granted is False


def test_statistics_report_what_widgets_show(make_node):
    node = elect(make_node())
    node.propose("x")  # at 2, after the no-op
    stats = node.statistics()
    assert (stats.role, stats.leader_id, stats.last_log_index, stats.commit_index) == (
        "leader",
        "n1",
        2,
        0,
    )
    assert node.status()["role"] == "leader"


def test_config_rejects_a_heartbeat_slower_than_the_election_timeout():
    with pytest.raises(ValueError, match="heartbeat"):
        RaftConfig(election_timeout_ticks=(5, 10), heartbeat_interval_ticks=5)


def test_receive_rejects_a_non_message(make_node):
    node = make_node()

    class Fake:
        term = 0

    with pytest.raises(TypeError, match="not a Raft message"):
        node.receive("n2", Fake())
