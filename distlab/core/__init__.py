"""The contract every protocol in distlab plugs into: ids, envelopes, Ready, codec, control.

    from distlab.core import Envelope, Ready, MessageCodec, ClusterControl, derive_seed

A protocol *core* (Raft, the weak replica, the quorum replica, each new chapter's system)
is a plain class: messages and ticks in, one `Ready` out (persist, send, outputs) -- no
sockets, threads or clock. Two drivers run any core: `distlab.sim` (one thread, virtual
time, seeded faults) and `distlab.cluster` (real processes, real sockets, kill -9). Both
offer the same `ClusterControl` (crash, restart, partition, heal, ...), so one scenario,
one nemesis and one panel work on either. docs/ADDING_A_SYSTEM.md shows a system plugging
in.

This package depends on nothing of ours; everything else may depend on it.
"""

from distlab.core.codec import MessageCodec, WireError
from distlab.core.control import ClusterControl, FaultKind, NodeView
from distlab.core.envelope import Envelope
from distlab.core.errors import ProtocolError, RequestFailed, RequestRefused, RequestTimeout
from distlab.core.faces import lazy_attribute
from distlab.core.ids import NodeId, derive_seed
from distlab.core.ready import Core, Ready, Storage
from distlab.core.status import StatusMap, role_label, status_table

__all__ = [
    "ClusterControl",
    "Core",
    "Envelope",
    "FaultKind",
    "MessageCodec",
    "NodeId",
    "NodeView",
    "ProtocolError",
    "Ready",
    "RequestFailed",
    "RequestRefused",
    "RequestTimeout",
    "StatusMap",
    "Storage",
    "WireError",
    "derive_seed",
    "lazy_attribute",
    "role_label",
    "status_table",
]
