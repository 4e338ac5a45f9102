"""distlab.chain: chain replication and CRAQ (lecture 9) -- pure cores, simulator, processes."""
