"""StrongVsWeak driven from Python: click Partition, read the labels both sides show.

As in chapter 10, a workload has already run on both clusters with the same seed before the
widget's run: the widget's verdicts must be about its own run only.
"""

from __future__ import annotations

import pytest

from distlab.cluster import Cluster
from distlab.kv.workload import run_workload
from distlab.widgets.strong_vs_weak import StrongVsWeak

pytestmark = pytest.mark.cluster


def test_partition_button_shows_strong_linearizable_and_weak_stale_reads() -> None:
    with (
        Cluster.start(3, service="kv", consistency="strong", seed=11) as strong,
        Cluster.start(3, service="kv", consistency="weak", seed=11) as weak,
    ):
        earlier = {  # the chapter's earlier cell, same seed
            c.chosen["consistency"]: run_workload(c, clients=2, duration_s=1.0, seed=11)
            for c in (strong, weak)
        }
        widget = StrongVsWeak(strong, weak, seed=11, duration_s=3.0)
        assert widget.partition.description == "Partition"
        assert widget.panels["strong"].verdict.value == "linearizable: -"
        assert widget.panels["strong"].timeline.layout.display == "none", "an empty picture"
        widget.partition.click()
        assert widget.partition.disabled, "a run is in progress: the buttons wait"
        widget.wait(timeout=120)
        assert not widget.partition.disabled
        strong_panel, weak_panel = widget.panels["strong"], widget.panels["weak"]
        assert strong_panel.verdict.value == "linearizable: True"
        assert strong_panel.lost.value == "acknowledged writes lost: 0"
        assert strong_panel.stale.value == "stale reads: 0"
        assert weak_panel.verdict.value == "linearizable: False"
        stale = int(weak_panel.stale.value.removeprefix("stale reads: "))
        assert stale == widget.results["weak"].summary.stale_reads > 0
        weak_summary = widget.results["weak"].summary
        assert weak_panel.availability.value == f"ok: {weak_summary.ok} · failed: 0 · indefinite: 0"
        assert weak_panel.converged.value == "converged after heal: True"
        for panel in (strong_panel, weak_panel):
            assert bytes(panel.timeline.value).startswith(b"\x89PNG")
            assert panel.timeline.layout.display is None, "the picture stayed hidden"
            assert panel.latency.value.startswith("latency p50: ")
            assert panel.verdict.style.font_weight == "bold"
        assert strong_panel.verdict.style.text_color == strong_panel.lost.style.text_color
        assert weak_panel.verdict.style.text_color == weak_panel.stale.style.text_color
        assert strong_panel.verdict.style.text_color != weak_panel.verdict.style.text_color
        for mode, result in widget.results.items():  # fresh keys, none of the earlier run's
            assert not set(result.keys) & set(earlier[mode].keys), mode
        assert [e.action for e in widget.results["strong"].faults] == ["isolate-leader", "heal"]
        assert widget.status.value == "done (partitioned and healed)"
