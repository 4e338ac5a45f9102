"""The deterministic machine: same inputs at the same positions, same state -- and the log
carries every input that is not in the program."""

from __future__ import annotations

import random

import pytest

from distlab.primary_backup.machine import (
    LogEntry,
    Machine,
    MachineError,
    ReplayEnvironment,
    compile_request,
)


class Recording:
    """An environment whose readings are written to a list, as the primary logs them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.readings: list[LogEntry] = []

    def clock(self) -> int:
        return self._read("clock", self.rng.randrange(10**6))

    def random(self) -> int:
        return self._read("random", self.rng.randrange(10**6))

    def _read(self, kind: str, number: int) -> int:
        self.readings.append(LogEntry(len(self.readings) + 1, 0, kind, number=number))
        return number


def run(machine: Machine, environment, interrupt_at: int) -> None:
    machine.request("c", 1, "put", "x", "a", index=1)
    machine.idle(interrupt_at)
    machine.interrupt(environment)
    machine.request("c", 2, "append", "x", "b", index=2)


def test_replaying_the_logged_readings_at_the_logged_position_gives_the_same_state() -> None:
    primary, backup = Machine(), Machine()
    recording = Recording(seed=1)
    run(primary, recording, interrupt_at=100)
    run(backup, ReplayEnvironment(iter(recording.readings)), interrupt_at=100)
    assert primary.digest() == backup.digest()
    assert not primary.diff(backup)
    assert primary.user_memory() == {"x": "ab"}


def test_own_readings_or_another_position_make_the_states_differ() -> None:
    primary = Machine()
    run(primary, Recording(seed=1), interrupt_at=100)
    elsewhere = Machine()
    run(elsewhere, Recording(seed=2), interrupt_at=130)
    diff = primary.diff(elsewhere)
    assert {"_clock", "_random", "instructions"} <= set(diff.cells)
    assert "x" not in diff.cells  # the clients' data agree; the machine does not
    assert "_clock" in str(diff)


def test_a_duplicate_request_returns_the_stored_output_and_changes_nothing() -> None:
    machine = Machine()
    assert machine.request("c", 1, "append", "x", "a", index=1) == ""  # writes reply nothing
    assert machine.request("c", 2, "get", "x", "", index=2) == "a"
    before = machine.memory.copy()
    assert machine.request("c", 2, "get", "x", "", index=3) == "a"
    assert machine.memory == before
    assert machine.session("c") == (2, 2, "a")


def test_state_transfer_ships_exactly_the_changed_cells() -> None:
    primary = Machine()
    primary.request("c", 1, "put", "x", "a" * 1000, index=1)
    primary.take_dirty()
    primary.request("c", 2, "append", "x", "b", index=2)
    changes = primary.take_dirty()
    assert dict(changes)["x"] == "a" * 1000 + "b"  # the whole cell, not the "b"
    backup = Machine()
    backup.install(tuple(primary.memory.items()), primary.instructions)
    assert backup.digest() == primary.digest()


@pytest.mark.parametrize(
    ("op", "key", "value", "complaint"),
    [
        ("delete", "x", "", "unknown operation"),
        ("put", "", "v", "empty or reserved"),
        ("put", "_session/c", "v", "reserved"),
        ("put", "x", 3, "must be strings"),
    ],
)
def test_bad_requests_are_refused_clearly(op, key, value, complaint) -> None:
    with pytest.raises(MachineError, match=complaint):
        compile_request(op, key, value)


def test_a_replica_that_ran_ahead_cannot_idle_back() -> None:
    machine = Machine()
    machine.idle(50)
    with pytest.raises(MachineError, match="diverged"):
        machine.idle(10)


def test_replay_refuses_a_reading_of_the_wrong_kind() -> None:
    environment = ReplayEnvironment(iter([LogEntry(1, 0, "random", number=4)]))
    with pytest.raises(MachineError, match="expected a clock reading"):
        Machine().interrupt(environment)


def test_log_entries_check_their_fields() -> None:
    with pytest.raises(MachineError, match="kind"):
        LogEntry(1, 0, "teleport")
    with pytest.raises(MachineError, match="index must be"):
        LogEntry(0, 0, "request")
