"""The transactions panel without a browser: buttons click through to the lab."""

from __future__ import annotations

from distlab.widgets import TxnPanel


def test_panel_shows_the_blocked_shard_and_its_recovery() -> None:
    panel = TxnPanel(seed=1, run_ticks=60)
    panel.run_button.click()
    assert "n0 coordinator [up]" in panel.card_text()
    txid = panel.prepare_and_kill()
    panel.run()
    text = panel.card_text()
    assert "n0 coordinator [DOWN]" in text
    assert f"X by {txid}" in text and f"prepared: [{txid}]" in text  # blocked, holding locks
    panel.restart_buttons["n0"].click()
    panel.run()
    assert f"prepared: [{txid}]" not in panel.card_text()
    assert "money: 400 of 400" in panel.verdict_text()
    assert "checker: serializable" in panel.verdict_text()


def test_crash_buttons_take_a_shard_down_and_back() -> None:
    panel = TxnPanel(seed=2, run_ticks=40)
    panel.crash_buttons["n1"].click()
    assert "n1 shard [DOWN]" in panel.cards_view.value
    panel.run()
    panel.restart_buttons["n1"].click()
    panel.run()
    assert "n1 shard [up]" in panel.cards_view.value
    assert "money: 400 of 400" in panel.verdict.value
