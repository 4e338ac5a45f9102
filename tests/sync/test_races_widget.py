"""The CounterRace widget re-runs the race when the slider moves and shows the result."""

from __future__ import annotations

from distlab.widgets.races import CounterRace


def test_slider_reruns_the_race_and_the_label_shows_lost_updates():
    panel = CounterRace(threads=1, increments=100)
    assert panel.last is not None and panel.last.threads == 1
    assert "lost 0" in panel.result.value
    panel.threads.value = 6
    assert panel.last.threads == 6
    assert panel.last.lost_updates > 0
    assert f"lost {panel.last.lost_updates}" in panel.result.value
    assert "expected 600" in panel.result.value


def test_mutex_checkbox_and_run_button():
    panel = CounterRace(threads=5, increments=100)
    panel.use_mutex.value = True
    assert "with Mutex" in panel.result.value and panel.result.value.endswith("lost 0")
    before = panel.last
    panel.run.click()
    assert panel.last is not before and panel.last.locked
