"""EnginePanel (chapter 16's widget) without a browser: it refuses cleanly when a server is
missing, shows a finished experiment's row and a HistoryExplorer on its history, reports a
failed run on the panel, and (marked ``engines``) runs a real Redis experiment."""

from __future__ import annotations

import pytest

from distlab.check import check_linearizable, inject_stale_reads, measure_staleness, simulate
from distlab.engines import ExperimentResult, summarize
from distlab.widgets import EnginePanel
from distlab.widgets.engine_panel import EngineExperiment, missing_engines

NOT_INSTALLED = "distlab-no-such-server"


def simulated_experiment(seed: int) -> ExperimentResult:
    """An experiment result computed from a seeded simulated history with stale reads
    injected (what the panel shows does not depend on who produced the history)."""
    history = inject_stale_reads(simulate(seed=seed, clients=4, operations=300, keys=2), 3, seed)
    check = check_linearizable(history)
    staleness = measure_staleness(history)
    summary = summarize(
        "simulated", "stale reads injected", history, check, staleness, [], elapsed_s=1.0, faults=0
    )
    return ExperimentResult(summary, history, check, staleness, [], {}, [], notes="no server")


def test_a_missing_server_disables_run_and_says_how_to_install_it() -> None:
    calls: list[int] = []
    table = {"ghost": EngineExperiment("needs a server", (NOT_INSTALLED,), calls.append)}
    panel = EnginePanel(table)
    assert panel.run_button.disabled
    assert f"not installed: {NOT_INSTALLED}" in panel.status.value
    assert panel.run() is None and calls == []  # never started
    assert panel.explorer is None and panel.result.value == ""
    assert "not installed: redis_no_such_client" in missing_engines((), ("redis_no_such_client",))


def test_run_shows_the_row_and_explores_the_history() -> None:
    table = {
        "simulated": EngineExperiment("a simulated run", ("python3",), simulated_experiment),
        "ghost": EngineExperiment("needs a server", (NOT_INSTALLED,), simulated_experiment),
    }
    panel = EnginePanel(table, seed=4)
    assert not panel.run_button.disabled and "ready" in panel.status.value
    panel.run_button.click()
    result = panel.last
    assert result is not None and result.summary.linearizable is False
    assert "done in" in panel.status.value and "NOT linearizable" in panel.status.value
    assert "stale reads injected" in panel.result.value and ">NO<" in panel.result.value
    assert panel.explorer is not None and panel.explorer_box.children == (panel.explorer,)
    assert panel.explorer.view.verdict == "violation"  # opened on the counterexample
    assert panel.explorer.result is result.check
    panel.choice.value = "ghost"
    assert panel.run_button.disabled and "cannot run here" in panel.status.value


def test_a_failing_experiment_is_reported_on_the_panel() -> None:
    def broken(seed: int) -> ExperimentResult:
        raise RuntimeError(f"server would not start (seed {seed})")

    panel = EnginePanel({"broken": EngineExperiment("broken", ("python3",), broken)}, seed=2)
    assert panel.run() is None
    assert "RuntimeError: server would not start (seed 2)" in panel.status.value
    assert not panel.run_button.disabled  # the learner may try again


def test_unknown_experiment_names_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="no experiment named 'mongo'"):
        EnginePanel(experiment="mongo")
    with pytest.raises(ValueError, match="at least one experiment"):
        EnginePanel({})


@pytest.mark.engines
def test_the_panel_runs_a_real_redis_failover(redis_binary: str) -> None:
    panel = EnginePanel(experiment="redis-cut", seed=1)
    result = panel.run()
    assert result is not None, panel.status.value
    assert result.summary.linearizable is False
    assert result.summary.acknowledged_writes_lost > 0
    assert panel.explorer is not None and panel.explorer.view.verdict == "violation"
