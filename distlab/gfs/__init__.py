"""GFS (chapter 06, lecture 3): a master, chunkservers, leases, versions and record append.

    from distlab.gfs import GFSClient, classify_file, read_unique

A single master (主节点) keeps only metadata -- the namespace, each chunk's version number
(版本号), and who holds the lease (租约) -- while chunkservers (块服务器) keep the data as
chunk files. Clients push data along a chain of replicas (副本) and ask the primary to
order the mutation; a record append (记录追加) lands at least once, wherever the primary
puts it. The consistency (一致性) this buys is deliberately weak, and `classify_file`
measures it: defined, consistent-but-undefined, and inconsistent regions (the paper's
Table 1).

- `MasterCore`, `ChunkserverCore`: the pure cores (no I/O, no clock);
- `GFSSimSystem`, `run_gfs_simulation`: the cores in the seeded simulator, with the named
  safety checks and the mutants they catch;
- `GFSNode`, `GFSClient`, `GFS`: the cores in real processes (``Cluster.start(4,
  service="gfs")``), and the client library;
- `encode_record`, `scan_records`, `read_unique`: self-describing records and the reader
  that skips padding and drops duplicates;
- `classify_chunk`, `classify_file`: the consistency model, measured.
"""

from distlab.gfs.chunk_store import ChunkStore, CorruptChunk, corrupt_block
from distlab.gfs.chunkserver import ChunkserverCore, ChunkserverReady, ChunkserverStatistics
from distlab.gfs.client import AppendResult, ClientStatistics, GFSClient, GFSError
from distlab.gfs.consistency import ConsistencyReport, Region, classify_chunk, classify_file
from distlab.gfs.experiments import (
    AppendRun,
    StaleDemo,
    TableRow,
    concurrent_appends,
    consistency_table,
    stale_replica_demo,
)
from distlab.gfs.file_server import SingleFileServer
from distlab.gfs.master import MasterCore, MasterReady, MasterState, MasterStatistics
from distlab.gfs.messages import (
    CODEC,
    REAL_CONFIG,
    ChunkLocations,
    GFSConfig,
    MutationResult,
    Refused,
    Retry,
)
from distlab.gfs.records import Record, encode_record, read_unique, scan_records
from distlab.gfs.scaling import ReadPoint, ScalingReport, measure_read_scaling
from distlab.gfs.simulated import (
    SIM_CONFIG,
    GFSSimSystem,
    GrantsBeforeLeaseExpires,
    HandsOutStaleReplicas,
    SimRunSummary,
    run_gfs_simulation,
)

__all__ = [
    "CODEC",
    "GFS",
    "REAL_CONFIG",
    "SIM_CONFIG",
    "AppendResult",
    "AppendRun",
    "ChunkLocations",
    "ChunkStore",
    "ChunkserverCore",
    "ChunkserverReady",
    "ChunkserverStatistics",
    "ClientStatistics",
    "ConsistencyReport",
    "CorruptChunk",
    "GFSClient",
    "GFSConfig",
    "GFSError",
    "GFSNode",
    "GFSSimSystem",
    "GrantsBeforeLeaseExpires",
    "HandsOutStaleReplicas",
    "MasterCore",
    "MasterReady",
    "MasterState",
    "MasterStatistics",
    "MutationResult",
    "ReadPoint",
    "Record",
    "Refused",
    "Region",
    "Retry",
    "ScalingReport",
    "SimRunSummary",
    "SingleFileServer",
    "StaleDemo",
    "TableRow",
    "classify_chunk",
    "classify_file",
    "concurrent_appends",
    "consistency_table",
    "corrupt_block",
    "encode_record",
    "measure_read_scaling",
    "read_unique",
    "run_gfs_simulation",
    "scan_records",
    "stale_replica_demo",
]


def __getattr__(name: str) -> object:
    # The node program and the system load on first use, not with the package: a node
    # process may load distlab/gfs/node.py by its file path, and an eager import here would
    # import that module again, half-made, from inside itself.
    if name == "GFSNode":
        from distlab.gfs.node import GFSNode

        return GFSNode
    if name == "GFS":
        from distlab.gfs.system import GFS

        return GFS
    raise AttributeError(f"module 'distlab.gfs' has no attribute {name!r}")
