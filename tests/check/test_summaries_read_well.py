"""What a learner reads when a summary is printed: labelled lines, no 17-digit floats."""

from __future__ import annotations

import re

from IPython.lib.pretty import pretty

from distlab.check import History, measure_staleness, op
from distlab.check.outcome import RunSummary

LONG_FLOAT = re.compile(r"\d\.\d{4,}")


def _summary(**changes) -> RunSummary:
    fields = dict(
        system="distlab",
        consistency="weak",
        operations=1589,
        ok=1589,
        failed=0,
        indefinite=0,
        verdict="violation",
        linearizable=False,
        acknowledged_writes_lost=0,
        stale_reads=98,
        stale_rate=0.6875602700096431,
        latency_p50_ms=1.9123456,
        latency_p99_ms=64.81234567,
        throughput_ops_s=353.1234567,
        faults=2,
        converged=True,
        convergence_s=0.412345678,
    )
    return RunSummary(**{**fields, **changes})


def test_a_printed_run_summary_is_labelled_and_rounded():
    text = str(_summary())
    assert not LONG_FLOAT.search(text), text
    assert "stale reads: 98 (68.8% of the reads matched to a write)" in text
    assert "latency p50 1.9 ms · p99 64.8 ms · 353 ops/s" in text
    assert "linearizable: False" in text
    assert "replicas converged after the heal: True (0.41 s after the heal)" in text
    assert pretty(_summary()) == text  # what a cell ending in a summary shows


def test_a_summary_leaves_out_what_was_not_measured():
    text = str(_summary(converged=None, convergence_s=None, linearizable=None))
    assert "converged" not in text
    assert "linearizable: unknown" in text
    assert "convergence_s" not in repr(_summary(converged=None, convergence_s=None))


def test_a_printed_staleness_report_is_rounded():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(1, "put", "x", "2", start=11, end=20),
            op(3, "get", "x", output="1", start=21, end=30),
            op(3, "get", "x", output="2", start=31, end=33),
            op(2, "get", "x", output="2", start=34, end=40),
        ]
    )
    report = measure_staleness(history)
    text = str(report)
    assert not LONG_FLOAT.search(text), text
    assert text.startswith("1 stale of 3 reads matched to a write (33.3%)")
    assert pretty(report) == text
