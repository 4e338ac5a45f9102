"""distlab: learn distributed systems by building them and breaking them.

The package is layered; imports point downward only (see README, "Architecture"):

    widgets  ->  systems (kv, replicated, mapreduce, engines: node programs, clients)
             ->  drivers (sim: any core in virtual time; cluster: real processes)
             ->  protocol cores (raft, kv.weak, ...)  ->  check, rpc, storage, sync
             ->  core (the contract every system plugs into: docs/ADDING_A_SYSTEM.md)

`core`, `sync` and `storage` depend on nothing of ours; only `widgets` imports ipywidgets.
Processes are started by `cluster`, the MapReduce job runner, the real-engine launchers
and the parallelism demos, and each cleans up its own.
Import the submodule you need, e.g. ``from distlab.sync import Mutex``.
"""

__version__ = "0.1.0"
