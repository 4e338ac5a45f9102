"""distlab.sync: the concurrency primitives every later chapter builds on.

Instrumented versions of what Go's ``sync`` package and channels give a 6.824
student: a `Mutex` that knows its owner and counts contention, a `Cond` bound
to it, a `WaitGroup`, a `Semaphore`, a writer-preferring `RWLock`, bounded
`Channel` objects with `select`, and opt-in lock-order checking that raises
`PotentialDeadlock` the first time two locks are taken in opposite orders.

This package depends on nothing else in distlab (only the standard library),
never starts processes, and never sleeps except while waiting on a primitive.
The RPC server, the cluster runtime and the Raft driver use it; the threads-and-
locks notebook (chapter 02) teaches it.
"""

from .channel import Channel, ChannelClosed, ChannelStatistics, ChannelTimeout, Selected, select
from .cond import Cond
from .lock_order import (
    HeldAcrossBlockingCall,
    LockOrderEdge,
    PotentialDeadlock,
    disable_lock_order_checking,
    enable_lock_order_checking,
    held_lock_names,
    lock_order_checking,
    lock_order_checking_enabled,
    lock_order_edges,
    warn_if_locks_held,
)
from .mutex import LockTimeout, Mutex, MutexStatistics
from .rwlock import RWLock, RWLockStatistics
from .semaphore import Semaphore
from .waitgroup import WaitGroup

__all__ = [
    "Channel",
    "ChannelClosed",
    "ChannelStatistics",
    "ChannelTimeout",
    "Cond",
    "HeldAcrossBlockingCall",
    "LockOrderEdge",
    "LockTimeout",
    "Mutex",
    "MutexStatistics",
    "PotentialDeadlock",
    "RWLock",
    "RWLockStatistics",
    "Selected",
    "Semaphore",
    "WaitGroup",
    "disable_lock_order_checking",
    "enable_lock_order_checking",
    "held_lock_names",
    "lock_order_checking",
    "lock_order_checking_enabled",
    "lock_order_edges",
    "select",
    "warn_if_locks_held",
]
