"""What a learner should read from one run of benchmarks/rpc_bench.py (chapter 03).

The benchmark prints ratios and the targets they are held to. A ratio below its target
with no word about it leaves a learner guessing whether the RPC layer is broken or the
machine was busy. `read_rpc_bench(ratios)` turns the ratios of *this* run into sentences:
what each one compares, whether it met its target, and what that means.

Pure: takes the ``ratios`` dict of the benchmark's JSON line, returns text; never runs,
times or prints anything.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["RPC_BENCH_TARGETS", "read_rpc_bench"]

RPC_BENCH_TARGETS = {"distlab_vs_raw_echo": 0.6, "distlab_vs_xmlrpc": 5.0, "threads8_vs_1": 1.0}
"""The targets benchmarks/rpc_bench.py states (calls per second, as a ratio)."""


def read_rpc_bench(ratios: Mapping[str, float]) -> str:
    """Sentences about one run's ratios (see the module docstring)."""
    raw = ratios["distlab_vs_raw_echo"]
    target = RPC_BENCH_TARGETS["distlab_vs_raw_echo"]
    cpu = ratios.get("cpu_distlab_vs_raw_echo")
    cpu_text = (
        f" Its CPU time per call was {cpu:.1f}× the echo's (steadier than calls per second "
        "when the machine is busy)."
        if cpu is not None
        else ""
    )
    if raw >= target:
        lines = [
            f"distlab made {raw:.0%} as many calls per second as the bare socket echo, which "
            f"meets its target of at least {target:.0%}: request ids, the reader thread and "
            f"method dispatch cost little next to the round trip itself.{cpu_text}"
        ]
    else:
        lines = [
            f"distlab made {raw:.0%} as many calls per second as the bare socket echo, below "
            f"its target of {target:.0%} in this run. The echo is a floor that does nothing "
            "but echo; what distlab adds (request ids, a reader thread on each side, method "
            "dispatch, a watchdog for slow handlers) costs thread hand-overs, and with client and "
            "server sharing one CPU (--pin same), or other programs running, each hand-over "
            f"waits longer. So read it as overhead a busy machine makes visible, not as a "
            f"fault: run the benchmark again on an idle machine, or with --pin split, to see "
            f"the ratio the target is set for.{cpu_text}"
        ]
    xml = ratios["distlab_vs_xmlrpc"]
    xml_target = RPC_BENCH_TARGETS["distlab_vs_xmlrpc"]
    verdict = "meets" if xml >= xml_target else "misses"
    lines.append(
        f"Against the standard library's xmlrpc (a new HTTP request per call) distlab was "
        f"{xml:.1f}× as fast, which {verdict} the target of {xml_target:g}×."
    )
    threads = ratios["threads8_vs_1"]
    if threads >= RPC_BENCH_TARGETS["threads8_vs_1"]:
        lines.append(
            f"Eight threads sharing one client made {threads:.2f}× the calls per second of one "
            "thread: concurrent calls share the connection without waiting for each other's "
            "replies."
        )
    else:
        lines.append(
            f"Eight threads sharing one client made only {threads:.2f}× the calls per second "
            "of one thread, below the target of 1×: on a busy CPU their hand-overs cost more "
            "than overlapping the round trips saves."
        )
    return "\n".join(lines)
