"""Small, self-contained experiments the chapters run: races, a crawler, speed-up, toy replicas.

Each module is one experiment a notebook calls in a line or two. They use the
library's real primitives (threads, processes, sockets) but keep no state
between calls, so a notebook can re-run them freely.
"""
