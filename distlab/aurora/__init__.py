"""distlab.aurora: Amazon Aurora's quorum storage across availability zones (lecture 10).

The log is the database (日志即数据库): a single writer ships only redo log records (重做日志)
to six storage nodes (存储节点), two in each of three availability zones (可用区); a
transaction commits on a write quorum (仲裁 quorum) of four, a recovery reads a read quorum
of three. Page shipping, the mirrored baseline, runs in the same code for comparison.

- `distlab.aurora.core`: the pure cores (`Writer`, `StorageNode`);
- `distlab.aurora.simulated`: the seeded simulator, its named safety checks, the
  availability table and the measurements;
- `distlab.aurora.node`: the same cores in real processes (`Cluster.start(7, service="aurora")`);
- `distlab.aurora.scenarios`: real runs broken on purpose (`crash_zones`) and measured.
"""

from typing import Any

from distlab.aurora.core import (
    PAGE_BYTES,
    Committed,
    ReadDone,
    ReadFailed,
    Recovered,
    Refused,
    StorageNode,
    Timing,
    Writer,
    check_quorums,
)
from distlab.aurora.messages import CODEC, LogRecord
from distlab.aurora.simulated import (
    AVAILABILITY,
    FAULTS,
    STORAGE,
    WRITER,
    ZONES,
    AuroraRun,
    AuroraSimSystem,
    AuroraWorkload,
    Availability,
    Measurement,
    QuorumReadDemo,
    aurora_world,
    availability,
    measure,
    quorum_read_demo,
    run_aurora,
)
from distlab.core import lazy_attribute

# These names load on first use, not with the package: a node process may load the node
# program by its file path, and importing it back from here would be circular
# (`distlab.core.faces` says more).
_LAZY = {
    "distlab.aurora.node": ("AuroraClient", "AuroraRefused", "AuroraTimeout", "set_slow"),
    "distlab.aurora.scenarios": (
        "RealMeasurement",
        "RealRun",
        "crash_zones",
        "durable_lsns",
        "measure_real",
        "wait_open",
    ),
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)


__all__ = [
    "AVAILABILITY",
    "CODEC",
    "FAULTS",
    "PAGE_BYTES",
    "STORAGE",
    "WRITER",
    "ZONES",
    "AuroraClient",
    "AuroraRefused",
    "AuroraRun",
    "AuroraSimSystem",
    "AuroraTimeout",
    "AuroraWorkload",
    "Availability",
    "Committed",
    "LogRecord",
    "Measurement",
    "QuorumReadDemo",
    "ReadDone",
    "ReadFailed",
    "RealMeasurement",
    "RealRun",
    "Recovered",
    "Refused",
    "StorageNode",
    "Timing",
    "Writer",
    "aurora_world",
    "availability",
    "check_quorums",
    "crash_zones",
    "durable_lsns",
    "measure",
    "measure_real",
    "quorum_read_demo",
    "run_aurora",
    "set_slow",
    "wait_open",
]
