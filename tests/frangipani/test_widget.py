"""The Frangipani panel, driven from Python: a revoke shows, a crash is recovered, and the
no-write-back switch makes the verdict say what the checker saw."""

from __future__ import annotations

from distlab.widgets import FrangipaniPanel


def test_a_read_on_the_other_workstation_revokes_and_sees_the_write() -> None:
    panel = FrangipaniPanel(seed=1)
    panel.value.value = "v1"
    panel.write_button.click()
    assert "dirty" in panel.cards["n1"].value
    panel.workstation.value = "n2"
    panel.read_button.click()
    assert "read /a -&gt; &#x27;v1&#x27;" in panel.answer.value
    assert "revoke /a (wanted by n2)" in panel.events.value
    assert "writes back 1 block" in panel.events.value
    panel.crash_button.click()
    assert "crashed" in panel.cards["n2"].value
    panel.workstation.value = "n1"
    panel.value.value = "v2"
    panel.write_button.click()  # waits for n2's lease: recovery, then the lock
    assert "recoveries: 1" in panel.lock_table.value
    assert "linearizable: True" in panel.verdict.value
    panel.path.value = "/missing"
    panel.read_button.click()
    assert "no such file /missing" in panel.answer.value


def test_without_write_back_the_checker_reports_a_stale_read() -> None:
    panel = FrangipaniPanel(seed=1)
    panel.write_back.value = False  # a fresh run with the broken protocol
    panel.value.value = "v1"
    panel.write_button.click()
    panel.workstation.value = "n2"
    panel.read_button.click()
    assert "&#x27;v0&#x27;" in panel.answer.value  # stale: v1 was never written back
    assert "linearizable: False" in panel.verdict.value


def test_a_cut_off_workstation_stops_trusting_its_cache_before_its_locks_move() -> None:
    from distlab.frangipani import FrangipaniLab

    lab = FrangipaniLab(seed=2)
    lab.create("n1", "/a", "v0")
    lab.sync("n1")
    assert lab.read("n1", "/a") == "v0"  # n1 holds /a, cached
    lab.isolate("n1")
    lab.write("n2", "/a", "v1")  # waits for n1's lease to run out: recovery, then the lock
    assert lab.server()["recoveries"] == 1
    try:
        lab.do("n1", "read", "/a", max_ticks=200)
    except TimeoutError:
        pass  # cut off, lease gone: no answer rather than a stale one
    else:
        raise AssertionError("a cut-off workstation answered from its cache after its lease")
    lab.heal()
    assert lab.read("n1", "/a") == "v1"  # refused as expired, it started over and read anew
    assert lab.verdict() == "ok"
