"""Primary-backup replication (lecture 4, VMware FT): deterministic replay, the output rule,
and test-and-set against split brain."""
