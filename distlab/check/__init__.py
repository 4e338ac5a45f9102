"""distlab.check: record histories and check them — linearizability and weaker measures.

    from distlab.check import History, check_linearizable
    history = History()
    rec = history.invoke("c1", "put", "x", "1"); history.ok(rec)
    check_linearizable(history).verdict        # "ok" | "violation" | "unknown"

Modules, each a chapter: history (recording, JSON Lines), models (the sequential KV spec),
linearizability (the WGL search), explain (violations in words), brute_force (the checker's
checker), staleness (weak-consistency measures), coordination (ZooKeeper's guarantees: linearizable
writes, FIFO client order, fenced locks), generate (seeded simulated histories),
serializability (transactional histories: a dependency graph and Elle's anomaly
classes G0-G2), nemesis (a seeded fault schedule), outcome (acknowledged writes lost,
the one RunSummary and the verdict of a finished run), workload (the one threaded
runner: seeded clients, the nemesis beside them, one History, the verdict). Nothing here
starts a process or opens a socket itself; the nemesis and the workload act on the world
only through the ClusterControl and the clients they are handed.
"""

from distlab.check.brute_force import brute_force_linearizable
from distlab.check.coordination import (
    CoordHistory,
    CoordOp,
    CoordVerdict,
    FencedWrite,
    check_coordination,
    check_fenced_writes,
    to_kv_history,
)
from distlab.check.generate import inject_stale_reads, simulate
from distlab.check.history import History, HistoryStatistics, Operation, PendingCall, op
from distlab.check.linearizability import CheckResult, KeyResult, check_linearizable
from distlab.check.models import KVModel, Model
from distlab.check.nemesis import Fault, Nemesis, NemesisEvent
from distlab.check.outcome import (
    Judgement,
    RunSummary,
    judge_run,
    lost_acknowledged_writes,
    run_numbers,
)
from distlab.check.serializability import (
    Anomaly,
    SerializabilityResult,
    Txn,
    brute_force_serializable,
    check_serializable,
)
from distlab.check.staleness import (
    ReplicaSnapshot,
    StalenessReport,
    StaleRead,
    convergence_time,
    measure_staleness,
)

__all__ = [
    "Anomaly",
    "CheckResult",
    "CoordHistory",
    "CoordOp",
    "CoordVerdict",
    "Fault",
    "FencedWrite",
    "History",
    "HistoryStatistics",
    "Judgement",
    "KVModel",
    "KeyResult",
    "Model",
    "Nemesis",
    "NemesisEvent",
    "Operation",
    "PendingCall",
    "ReplicaSnapshot",
    "RunSummary",
    "SerializabilityResult",
    "StaleRead",
    "StalenessReport",
    "Txn",
    "brute_force_linearizable",
    "brute_force_serializable",
    "check_coordination",
    "check_fenced_writes",
    "check_linearizable",
    "check_serializable",
    "convergence_time",
    "inject_stale_reads",
    "judge_run",
    "lost_acknowledged_writes",
    "measure_staleness",
    "op",
    "run_numbers",
    "simulate",
    "to_kv_history",
]
