"""The 2PC coordinator driving two real PostgreSQL servers: the bank workload judged by the
same checker; the coordinator killed after prepare leaves rows locked in pg_prepared_xacts
until it recovers; a participant server crashed while prepared keeps the prepared state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from distlab.engines.postgres import PostgresPair, check_postgres
from distlab.engines.processes import ServerError
from distlab.storage import DurableLog
from distlab.txn.bank import account, shard_for
from distlab.txn.postgres import PostgresBank, blocked_experiment, run_bank_postgres

pytestmark = [pytest.mark.engines, pytest.mark.cluster]

try:
    check_postgres()
    MISSING = ""
except ServerError as error:
    MISSING = str(error)


@pytest.fixture(scope="module")
def pair() -> Iterator[PostgresPair]:
    if MISSING:
        pytest.skip(f"needs the Debian package postgresql: {MISSING}")
    with PostgresPair() as started:  # once per module: a start costs a few seconds
        yield started


def test_bank_on_postgres_keeps_money_and_is_serializable(pair: PostgresPair) -> None:
    bank = PostgresBank(pair, accounts=4)
    try:
        run = run_bank_postgres(bank, seed=3, clients=3, transfers_per_client=8)
        assert run.total_after == run.total_before == 400
        assert run.committed >= 12
        assert run.check.verdict == "serializable", run.check.explain()
        assert all(not pair.prepared(name) for name in pair.names)
    finally:
        bank.close()


def test_coordinator_killed_after_prepare_leaves_rows_locked_until_recovery(
    pair: PostgresPair,
) -> None:
    bank = PostgresBank(pair, accounts=4)
    try:
        run = blocked_experiment(bank, lock_timeout_ms=500)
        gid = f"distlab-{run.txid}"
        assert run.prepared_while_down == {"pg0": [gid], "pg1": [gid]}
        assert run.stalled_error == "LockNotAvailable"  # the row stayed locked by the orphan
        assert run.resolved == [f"pg0: {gid} aborted", f"pg1: {gid} aborted"]  # presumed abort
        assert run.prepared_after == {"pg0": [], "pg1": []}
        assert run.total_after == 400
    finally:
        bank.close()


def test_a_prepared_participant_survives_its_own_crash_and_applies_the_commit(
    pair: PostgresPair,
) -> None:
    bank = PostgresBank(pair, accounts=4)
    try:
        src = account(0)
        dst = next(
            account(i)
            for i in range(1, 4)
            if shard_for(account(i), pair.names) != shard_for(src, pair.names)
        )
        txn = bank.transfer(src, dst, 10, stop_after_prepare=True)
        gid = f"distlab-{txn.id}"
        victim = shard_for(src, pair.names)
        pair.crash(victim)  # immediate stop: no checkpoint, recovery from the WAL
        pair.restart(victim)
        assert pair.prepared(victim) == [gid]  # still prepared, still deciding nothing
        # Decide commit by hand in the log, as if the coordinator had decided before dying.
        log = DurableLog(bank.log_path)
        log.append(f'["decide", {txn.id}, true, ["pg0", "pg1"]]'.encode())
        log.sync()
        log.close()
        assert sorted(bank.recover_coordinator()) == [
            f"pg0: {gid} committed",
            f"pg1: {gid} committed",
        ]
        balances = bank.balances()
        assert balances[src] == (90, txn.id) and balances[dst] == (110, txn.id)
    finally:
        bank.close()
