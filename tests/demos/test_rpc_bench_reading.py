"""The sentences under chapter 03's benchmark follow the run's own figures."""

from __future__ import annotations

from distlab.demos import read_rpc_bench

MET = {"distlab_vs_raw_echo": 0.72, "distlab_vs_xmlrpc": 9.5, "threads8_vs_1": 1.17}


def test_a_ratio_below_its_target_is_named_and_explained():
    text = read_rpc_bench({**MET, "distlab_vs_raw_echo": 0.58, "cpu_distlab_vs_raw_echo": 1.9})
    assert "58% as many calls per second as the bare socket echo, below its target of 60%" in text
    assert "not as a fault" in text and "--pin split" in text
    assert "CPU time per call was 1.9× the echo's" in text


def test_ratios_that_meet_their_targets_say_so():
    text = read_rpc_bench(MET)
    assert "72% as many calls per second" in text and "meets its target of at least 60%" in text
    assert "9.5× as fast, which meets the target of 5×" in text
    assert "1.17× the calls per second of one thread" in text and "below" not in text


def test_every_ratio_below_target_is_reported():
    text = read_rpc_bench(
        {"distlab_vs_raw_echo": 0.3, "distlab_vs_xmlrpc": 4.0, "threads8_vs_1": 0.8}
    )
    assert "which misses the target of 5×" in text
    assert "only 0.80× the calls per second of one thread, below the target of 1×" in text
