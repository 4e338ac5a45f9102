"""Seeded election experiments, their summary and picture, and the slider that shows them."""

from __future__ import annotations

from distlab.raft import RaftConfig
from distlab.sim import ElectionTrial, election_trial, election_trials
from distlab.viz.election_timeouts import draw_election_times, summarize_elections


def config(low: int, high: int) -> RaftConfig:
    return RaftConfig(election_timeout_ticks=(low, high), heartbeat_interval_ticks=5)


def test_same_seed_same_election() -> None:
    assert election_trial(3, config=config(15, 30)) == election_trial(3, config=config(15, 30))


def test_identical_timeouts_never_elect() -> None:
    """Every node stands in the same tick, votes for itself, and no one gets a majority."""
    trials = election_trials(range(5), config=config(15, 15), max_ticks=200)
    assert all(t.ticks_to_leader is None and t.split for t in trials)


def test_spread_makes_split_votes_rarer() -> None:
    narrow = election_trials(range(40), config=config(15, 16), max_ticks=300)
    wide = election_trials(range(40), config=config(15, 30), max_ticks=300)
    assert all(t.ticks_to_leader is not None for t in narrow + wide)
    assert sum(t.split for t in wide) < sum(t.split for t in narrow)
    # A leader needs at least one full timeout plus a vote round trip.
    assert min(t.ticks_to_leader for t in wide) > 15


def test_summary_and_picture() -> None:
    trials = [ElectionTrial(0, 20, 1), ElectionTrial(1, 40, 3), ElectionTrial(2, None, 9)]
    assert summarize_elections(trials, label="x") == (
        "x: median 30 ticks, slowest 40 ticks, split votes in 2/3 runs, no leader in 1"
    )
    assert summarize_elections([ElectionTrial(0, None, 4)]).startswith("no leader in any")
    figure = draw_election_times(trials, max_ticks=100)
    axes = figure.axes[0]
    assert "split votes: 2/3, no leader: 1" in axes.get_title()
    xs, ys = axes.lines[0].get_data()
    assert list(xs) == [0, 20, 40] and ys[-1] == 2 / 3  # the stuck run never counts


def test_slider_reruns_on_change() -> None:
    from distlab.widgets.election_slider import ElectionSlider

    slider = ElectionSlider(low=15, high=30, runs=10, max_ticks=150)
    assert len(slider.last) == 10 and "timeouts 15-30 ticks" in slider.summary.value
    slider.high.value = 15
    assert all(t.ticks_to_leader is None for t in slider.last)
    assert "no leader in any of 10 runs" in slider.summary.value
