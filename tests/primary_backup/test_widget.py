"""The panel's buttons do what the tests of the protocol do, and its verdict says so."""

from __future__ import annotations

from distlab.widgets import PrimaryBackupPanel


def test_crashing_the_primary_moves_service_to_the_backup_and_loses_nothing() -> None:
    panel = PrimaryBackupPanel(seed=1)
    for _ in range(3):
        panel.request_button.click()
    assert "primary" in panel.cards["n0"].value and "backup" in panel.cards["n1"].value
    panel.crash_button.click()
    assert "crashed" in panel.cards["n0"].value
    panel.request_button.click()  # the client fails over and waits for the backup
    assert "live" in panel.cards["n1"].value
    assert "1,2,3,4," in panel.events.value
    assert (
        "linearizable: True" in panel.verdict.value and "rules broken: none" in panel.verdict.value
    )
    panel.restart_button.click()
    panel.run_button.click()
    assert "backup" in panel.cards["n0"].value  # cloned by the live replica


def test_switching_off_test_and_set_then_cutting_the_channel_shows_split_brain() -> None:
    panel = PrimaryBackupPanel(seed=1)
    panel.test_and_set.value = False  # a fresh run with the rule off
    panel.cut_button.click()
    panel.run_button.click()
    assert "live" in panel.cards["n0"].value and "live" in panel.cards["n1"].value
    assert "At Most One Live Replica" in panel.verdict.value
    panel.test_and_set.value = True
    assert "rules broken: none" in panel.verdict.value  # reset
    panel.cut_button.click()
    panel.run_button.click()
    assert sum("live" in card.value for card in panel.cards.values()) == 1


def test_the_lag_bar_follows_the_backups_replay() -> None:
    panel = PrimaryBackupPanel(seed=2)
    panel.request_button.click()
    panel.run_button.click()
    assert panel.lag.max >= 1 and panel.lag.value == panel.lag.max  # caught up when idle
