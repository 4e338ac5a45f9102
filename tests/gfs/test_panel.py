"""The GFS panel: its drawing (pure functions) and its buttons on a real cluster."""

from __future__ import annotations

import pytest

from distlab.cluster import Cluster
from distlab.gfs import GFSClient, encode_record
from distlab.widgets import GFSPanel
from distlab.widgets.gfs_panel import chunk_table_html, replica_strip_html


def test_a_replica_strip_shows_records_duplicates_padding_and_garbage() -> None:
    a, b = encode_record("a", b"x" * 20), encode_record("b", b"y" * 20)
    data = a + b"\x01\x02\x03" + b + a + bytes(40)
    strip = replica_strip_html("n1 v2", data, 256, stale=True)
    kinds = [part.split("'")[0] for part in strip.split("data-kind='")[1:]]
    assert kinds == ["record", "not a whole record", "record", "duplicate", "padding"]
    assert "stale" in strip


def test_the_chunk_table_marks_the_primary_and_stale_replicas() -> None:
    row = {"path": "/log", "index": 0, "handle": 1, "version": 3, "replicas": ["n2", "n3"],
           "stale": ["n1"], "primary": "n2"}  # fmt: skip
    text = chunk_table_html([row])
    assert "★ n2" in text and "n1" in text and "v3" in text


@pytest.mark.cluster
def test_buttons_append_crash_and_restart_and_the_replicas_are_drawn() -> None:
    with Cluster.start(4, service="gfs", seed=9, chunk_size=4096, block_size=512) as cluster:
        client = GFSClient(cluster, name="test")
        client.create("/log")
        panel = GFSPanel(cluster, "/log", client=client)
        panel.append_ten.click()
        assert panel.wait_idle(60)
        assert "appended 10 record(s)" in panel.message.value

        def three_replicas_drawn() -> bool:
            # A refresh draws the nodes whose status came back within its 1 s budget; on
            # a loaded machine one may miss it, so look again rather than once.
            panel.refresh()
            return panel.replicas.value.count("class='distlab-gfs-replica'") >= 3

        assert cluster.wait_for(three_replicas_drawn, timeout_s=60)
        assert "data-kind='record'" in panel.replicas.value
        panel.cards["n2"].crash.click()
        assert "data-state='crashed'" in panel.cards["n2"].info.value
        assert panel.cards["n2"].restart.disabled is False
        panel.cards["n2"].restart.click()
        assert "data-state='up'" in panel.cards["n2"].info.value
        panel.append.click()
        assert panel.wait_idle(60)
        assert "appended 1 record(s)" in panel.message.value
