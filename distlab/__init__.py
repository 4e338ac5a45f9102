"""distlab: learn distributed systems by building them and breaking them.

The package is layered; imports point downward only (see README, "Architecture"):

    widgets  ->  cluster / sim  ->  protocol cores (raft, kv, mapreduce, ...)
             ->  rpc  ->  storage  ->  sync

`sync` and `storage` depend on nothing of ours, only `widgets` imports
ipywidgets, and only `cluster` (and the parallelism demos) spawn processes.
Import the submodule you need, e.g. ``from distlab.sync import Mutex``.
"""

__version__ = "0.1.0"
