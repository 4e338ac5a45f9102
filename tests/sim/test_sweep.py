"""distlab.sim.sweep: the same report on one worker or several; every failure with its seed."""

from __future__ import annotations

import pytest

from distlab.raft import RaftNode
from distlab.sim import SafetyViolation, run_random_schedule, sweep
from distlab.sim.__main__ import main


class ForgetsItsVote(RaftNode):
    """Votes again in the same term: two leaders in one term follow soon enough."""

    def handle_request_vote(self, sender, request):
        self.voted_for = None
        super().handle_request_vote(sender, request)


def test_workers_give_the_same_results_as_one_process() -> None:
    options = dict(nodes=3, ticks=150, fault_rate=0.05)
    alone = sweep(range(40), workers=1, **options)
    together = sweep(range(40), workers=2, chunk=5, **options)
    assert alone.ok and together.ok and together.workers == 2
    assert together.results == alone.results
    assert [r.seed for r in alone.results] == list(range(40))
    assert alone.results[7] == run_random_schedule(7, **options)
    assert "40 schedules, 0 failures" in str(together)


def test_every_failing_seed_is_reported_and_replays() -> None:
    seen: list[tuple[int, int]] = []
    report = sweep(
        range(20),
        workers=1,
        progress=lambda done, total: seen.append((done, total)),
        chunk=4,
        nodes=5,
        ticks=300,
        node_cls=ForgetsItsVote,
    )
    assert not report.ok and report.schedules == 20
    assert len(report.results) + len(report.failures) == 20
    assert seen == [(4, 20), (8, 20), (12, 20), (16, 20), (20, 20)]
    seed, kind, message = report.failures[0]
    assert kind == "SafetyViolation" and f"seed={seed}" in message
    assert f"seed {seed}: SafetyViolation" in str(report)
    with pytest.raises(SafetyViolation):
        run_random_schedule(seed, nodes=5, ticks=300, node_cls=ForgetsItsVote)
    first = sweep(range(20), workers=1, stop_after=1, chunk=1, node_cls=ForgetsItsVote)
    assert len(first.failures) == 1 and first.schedules == first.failures[0][0] + 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="workers"):
        sweep(range(3), workers=0)
    with pytest.raises(TypeError, match="integers"):
        sweep(["1"])


def test_cli_exit_status_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["sweep", "--seeds", "0:30", "--nodes", "3", "--ticks", "100", "--workers", "1"]) == 0
    )
    captured = capsys.readouterr()
    assert "30 schedules, 0 failures" in captured.out
    # Not a terminal (as in CI or a captured cell): no redrawn progress line at all.
    assert "\r" not in captured.err and "schedule" not in captured.err
    with pytest.raises(SystemExit):
        main(["sweep", "--seeds", "zero:ten"])
