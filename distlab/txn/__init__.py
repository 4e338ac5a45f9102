"""distlab.txn: distributed transactions (分布式事务) -- chapter 15, lecture 12.

Keys are partitioned over shard servers (分片, nodes ``n1 ..``); transactions read and write
across shards under strict two-phase locking (两阶段锁, wait-die against deadlock 死锁) and
commit atomically with two-phase commit (两阶段提交) run by a coordinator (协调者, node
``n0``) with the shards as participants (参与者). Modules, each one idea:

- `locks`: the lock table of one shard (shared / exclusive, wait-die, the early-release switch);
- `shard`: a shard and 2PC participant, a pure core;
- `coordinator`: the coordinator's pure core, its durable decision log, presumed abort;
- `messages`, `errors`: what crosses the network, and clear errors for bad requests;
- `bank`: the shard map and the bank transfer, written once for every backend;
- `simulated`: the seeded World, named invariants, bank sweeps, the blocking experiment;
- `node`, `system`: the same cores in real processes (``Cluster.start(3, service="txn")``);
- `postgres`: the same coordinator driving two real PostgreSQL servers (PREPARE TRANSACTION).

The serializability checker lives in `distlab.check` (`check_serializable`).
"""

from distlab.core import lazy_attribute
from distlab.txn.bank import INITIAL_BALANCE, account, shard_for, transfer
from distlab.txn.coordinator import Coordinator
from distlab.txn.errors import TransactionAborted, TransactionClosed, UnknownTransaction
from distlab.txn.locks import LockTable
from distlab.txn.shard import ShardCore
from distlab.txn.simulated import (
    BankRun,
    BlockedRun,
    SimBackend,
    TxnLab,
    TxnSimSystem,
    blocked_by_coordinator,
    run_bank,
)

__all__ = [
    "INITIAL_BALANCE",
    "BankRun",
    "BlockedOnPostgres",
    "BlockedRun",
    "Coordinator",
    "LockTable",
    "PostgresBank",
    "PostgresBankRun",
    "RealBackend",
    "RealBankRun",
    "ShardCore",
    "SimBackend",
    "TransactionAborted",
    "TransactionClosed",
    "TxnLab",
    "TxnProcess",
    "TxnSimSystem",
    "UnknownTransaction",
    "account",
    "blocked_by_coordinator",
    "blocked_experiment",
    "run_bank",
    "run_bank_postgres",
    "run_bank_real",
    "shard_for",
    "transfer",
]

# The process and PostgreSQL faces load on first use: a node process imports
# `distlab.txn.node` first (spawn), and an eager import here would be circular.
_LAZY = {
    "distlab.txn.node": ("RealBackend", "RealBankRun", "TxnProcess", "run_bank_real"),
    "distlab.txn.postgres": (
        "BlockedOnPostgres",
        "PostgresBank",
        "PostgresBankRun",
        "blocked_experiment",
        "run_bank_postgres",
    ),
}


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, _LAZY, name)
