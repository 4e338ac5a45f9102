"""The GFS cores, fed messages and ticks, judged by what their `Ready` says (STYLE.md §6)."""

from __future__ import annotations

import random

from distlab.core import Envelope
from distlab.gfs import (
    ChunkLocations,
    ChunkserverCore,
    GFSConfig,
    MasterCore,
    MasterState,
    MutationResult,
    Refused,
    Retry,
)
from distlab.gfs.chunkserver import ChunkMeta
from distlab.gfs.messages import (
    ApplyMutation,
    ChunkReport,
    DeleteChunk,
    Grant,
    GrantAck,
    Heartbeat,
    MutationAck,
)

CONFIG = GFSConfig(chunk_size=256, block_size=64, replicas=2, lease_ticks=10,
                   max_message_delay_ticks=3, heartbeat_ticks=2, dead_after_ticks=8)  # fmt: skip
SERVERS = ["n1", "n2", "n3"]


def master_with_live_servers(state: MasterState | None = None) -> MasterCore:
    master = MasterCore("n0", SERVERS, CONFIG, random.Random(1), state)
    for server in SERVERS:
        master.receive(server, Heartbeat(()))
    master.take_ready()
    return master


def granted(master: MasterCore, path: str = "/f") -> ChunkLocations:
    """Create ``path``, ask for a lease on its first chunk, confirm the grant everywhere."""
    if path not in master.state.files:
        assert master.create(path) is None
    assert isinstance(master.lookup(path, 0, for_mutation=True, allocate=True), Retry)
    ready = master.take_ready()
    grants = [e for e in ready.messages if isinstance(e.message, Grant)]
    for envelope in grants:
        master.receive(envelope.dst, GrantAck(envelope.message.handle, envelope.message.version))
    answer = master.lookup(path, 0, for_mutation=True)
    assert isinstance(answer, ChunkLocations)
    return answer


def test_granting_a_lease_persists_the_new_version_before_telling_the_replicas() -> None:
    master = master_with_live_servers()
    master.create("/f")
    assert isinstance(master.lookup("/f", 0, for_mutation=True, allocate=True), Retry)
    ready = master.take_ready()
    assert ["version", 1, 1, sorted(g.dst for g in ready.messages), 0] in ready.log_records
    assert ready.must_persist
    grants = [envelope.message for envelope in ready.messages]
    assert len(grants) == CONFIG.replicas and all(isinstance(g, Grant) for g in grants)
    assert {g.version for g in grants} == {1} and len({g.primary for g in grants}) == 1


def test_clients_get_the_lease_only_once_every_replica_confirmed_the_version() -> None:
    master = master_with_live_servers()
    master.create("/f")
    master.lookup("/f", 0, for_mutation=True, allocate=True)
    grants = [e for e in master.take_ready().messages]
    master.receive(grants[0].dst, GrantAck(1, 1))
    assert isinstance(master.lookup("/f", 0, for_mutation=True), Retry)
    master.receive(grants[1].dst, GrantAck(1, 1))
    answer = master.lookup("/f", 0, for_mutation=True)
    assert isinstance(answer, ChunkLocations) and answer.version == 1


def test_the_master_names_no_new_primary_before_the_old_lease_expires() -> None:
    master = master_with_live_servers()
    first = granted(master)
    for _ in range(CONFIG.master_lease_ticks - 1):
        master.tick()
        for server in SERVERS:
            master.receive(server, Heartbeat((ChunkReport(first.handle, 1, 0),)))
    assert master.lease_holder(first.handle) == (first.primary, 1)
    master.tick()
    assert master.lease_holder(first.handle) is None  # only now may another be named
    master.take_ready()
    assert isinstance(master.lookup("/f", 0, for_mutation=True), Retry)
    versions = {e.message.version for e in master.take_ready().messages}
    assert versions == {2}


def test_a_restarted_master_waits_out_any_lease_before_granting() -> None:
    state = MasterState()
    for record in (["create", "/f"], ["chunk", "/f", 1], ["version", 1, 3, ["n1", "n2"], 2]):
        state.apply(record)
    master = MasterCore("n0", SERVERS, CONFIG, random.Random(1), state)
    for server in ("n1", "n2"):
        master.receive(server, Heartbeat((ChunkReport(1, 3, 10),)))
    answer = master.lookup("/f", 0, for_mutation=True)
    assert isinstance(answer, Retry) and "restarted" in answer.reason
    for _ in range(CONFIG.master_lease_ticks):
        master.tick()
        for server in ("n1", "n2"):
            master.receive(server, Heartbeat((ChunkReport(1, 3, 10),)))
    master.take_ready()
    master.lookup("/f", 0, for_mutation=True)
    assert any(isinstance(e.message, Grant) for e in master.take_ready().messages)


def test_a_replica_with_an_old_version_is_stale_never_handed_out_and_deleted() -> None:
    master = master_with_live_servers()
    chunk = granted(master)
    stale = next(s for s in SERVERS if s not in chunk.replicas)
    master.receive(stale, Heartbeat((ChunkReport(chunk.handle, 0, 0),)))
    assert Envelope("n0", stale, DeleteChunk(chunk.handle, 1)) in master.take_ready().messages
    answer = master.lookup("/f", 0)
    assert isinstance(answer, ChunkLocations) and stale not in answer.replicas


def test_namespace_and_versions_survive_a_restart_replica_locations_do_not() -> None:
    master = master_with_live_servers()
    chunk = granted(master)
    records = list(master.take_ready().log_records)
    records = [r for r in records]  # what the driver appended to the operation log
    state = MasterState.recover(None, [["create", "/f"], ["chunk", "/f", 1], *records,
                                       ["version", 1, 1, list(chunk.replicas), 0]])  # fmt: skip
    restarted = MasterCore("n0", SERVERS, CONFIG, random.Random(2), state)
    assert restarted.files() == ["/f"] and restarted.state.versions == {1: 1}
    assert isinstance(restarted.lookup("/f", 0), Retry)  # no chunkserver has reported yet
    again = MasterState.recover(state.to_plain(), [])
    assert again == state


def test_bad_master_requests_are_refused_with_a_reason() -> None:
    master = master_with_live_servers()
    assert isinstance(master.create("relative"), Refused)
    master.create("/f")
    assert "already exists" in master.create("/f").reason  # type: ignore[union-attr]
    assert "no such file" in master.lookup("/nope", 0).reason  # type: ignore[union-attr]
    assert "no chunk 3" in master.lookup("/f", 3).reason  # type: ignore[union-attr]


# -- the chunkserver ------------------------------------------------------------------------------


def chunkserver(name: str = "n1", version: int = 1, length: int = 0) -> ChunkserverCore:
    core = ChunkserverCore(name, "n0", CONFIG, random.Random(1), {7: ChunkMeta(version, length)})
    core.take_ready()  # the boot heartbeat
    return core


def make_primary(core: ChunkserverCore, secondaries: tuple[str, ...] = ("n2",)) -> None:
    core.receive("n0", Grant(7, 2, 1, core.node_id, secondaries, CONFIG.lease_ticks, False))
    ready = core.take_ready()
    assert ready.versions == ((7, 2),)
    assert Envelope(core.node_id, "n0", GrantAck(7, 2)) in ready.messages
    assert core.holds_lease(7)


def test_the_primary_picks_the_offset_writes_then_forwards_in_serial_order() -> None:
    core = chunkserver(length=40)
    make_primary(core)
    core.store_pushed("d1", b"x" * 10)
    core.store_pushed("d2", b"y" * 10)
    core.append("r1", 7, 2, "d1")
    core.append("r2", 7, 2, "d2")
    ready = core.take_ready()
    assert [(w.offset, w.data) for w in ready.writes] == [(40, b"x" * 10), (50, b"y" * 10)]
    forwarded = [e.message for e in ready.messages]
    assert [(m.serial, m.offset) for m in forwarded] == [(1, 40), (2, 50)]
    assert ready.outputs == []  # nobody is told "done" before the secondary applied it
    core.receive("n2", MutationAck(7, 2, 2, True, ""))
    core.receive("n2", MutationAck(7, 2, 1, True, ""))
    assert core.take_ready().outputs == [
        MutationResult("r2", True, 50, False, ""),
        MutationResult("r1", True, 40, False, ""),
    ]


def test_a_record_that_does_not_fit_pads_the_chunk_and_the_client_moves_on() -> None:
    core = chunkserver(length=CONFIG.chunk_size - 20)
    make_primary(core, secondaries=())
    core.store_pushed("d", b"z" * 30)
    core.append("r", 7, 2, "d")
    ready = core.take_ready()
    assert ready.writes[0].offset == CONFIG.chunk_size - 20 and ready.writes[0].data == bytes(20)
    (result,) = ready.outputs
    assert result.chunk_full and not result.ok


def test_a_record_larger_than_a_quarter_chunk_is_refused() -> None:
    core = chunkserver()
    make_primary(core, secondaries=())
    core.store_pushed("big", b"b" * (CONFIG.max_record_size + 1))
    core.append("r", 7, 2, "big")
    (result,) = core.take_ready().outputs
    assert not result.ok and "quarter chunk" in result.reason


def test_a_secondary_applies_in_serial_order_and_skips_a_gap_that_never_fills() -> None:
    core = chunkserver(version=2)
    core.store_pushed("a", b"a")
    core.store_pushed("b", b"b")
    core.receive("n3", ApplyMutation(7, 2, 2, "write", 1, "b"))
    assert core.take_ready().writes == ()  # serial 1 first
    for _ in range(CONFIG.gap_timeout_ticks):
        core.tick()
    ready = core.take_ready()
    assert [w.data for w in ready.writes] == [b"b"]
    assert MutationAck(7, 2, 2, True, "") in [e.message for e in ready.messages]
    core.receive("n3", ApplyMutation(7, 2, 1, "write", 0, "a"))  # too late: refused
    assert [e.message.ok for e in core.take_ready().messages] == [False]


def test_a_stale_replica_refuses_mutations_and_reads_at_the_current_version() -> None:
    core = chunkserver(version=1)
    core.store_pushed("d", b"d")
    core.receive("n3", ApplyMutation(7, 3, 1, "write", 0, "d"))
    (ack,) = [e.message for e in core.take_ready().messages]
    assert not ack.ok and "v1" in ack.reason
    answer = core.readable(7, 3, 0)
    assert isinstance(answer, Refused) and "stale" in answer.reason


def test_a_primary_whose_lease_ran_out_refuses_to_order_mutations() -> None:
    core = chunkserver()
    make_primary(core, secondaries=())
    for _ in range(CONFIG.lease_ticks):
        core.tick()
    assert not core.holds_lease(7)
    core.store_pushed("d", b"d")
    core.append("r", 7, 2, "d")
    (result,) = core.take_ready().outputs
    assert not result.ok and "no lease" in result.reason


def test_a_grant_for_a_version_it_skipped_is_ignored() -> None:
    core = chunkserver(version=1)
    core.receive("n0", Grant(7, 5, 4, "n1", (), CONFIG.lease_ticks, False))
    assert not core.has_ready() or core.take_ready().versions == ()
    assert core.chunks[7].version == 1 and not core.holds_lease(7)


def test_a_late_report_from_before_a_completed_grant_never_rolls_the_version_back() -> None:
    master = master_with_live_servers()
    chunk = granted(master)  # every replica confirmed version 1: mutations may follow
    for _ in range(CONFIG.master_lease_ticks):
        master.tick()
    stale_report = Heartbeat(())  # sent by a replica before it had created the chunk
    for replica in chunk.replicas:
        master.receive(replica, stale_report)
    assert master.state.versions[chunk.handle] == 1


def test_a_grant_nobody_received_is_rolled_back_after_a_restart() -> None:
    state = MasterState()
    for record in (["create", "/f"], ["chunk", "/f", 1], ["version", 1, 2, ["n1", "n2"], 1]):
        state.apply(record)
    master = MasterCore("n0", SERVERS, CONFIG, random.Random(1), state)
    for _ in range(CONFIG.master_lease_ticks):  # a delayed grant would have arrived by now
        master.tick()
    for server in ("n1", "n2"):
        master.receive(server, Heartbeat((ChunkReport(1, 1, 30),)))
    assert master.state.versions[1] == 1  # no replica has version 2: it never completed
    answer = master.lookup("/f", 0)
    assert isinstance(answer, ChunkLocations) and answer.replicas == ("n1", "n2")
