"""Course assignments: learner skeletons checked by the library's harnesses, under nbval.

Each assignment is a notebook in notebooks/assignments/source/ (the instructor's
version, with solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``).
The learner fills in a function or a class; a check cell passes it to one of the
harnesses below, which returns a `Verdict` (one PASS/FAIL line per claim) that
nbval compares with the stored, all-PASS verdict.

=====  ==========================  ============================================
 no.   harness                     what the learner writes
=====  ==========================  ============================================
  1    `bank.check_bank`           a thread-safe bank (Mutex per account)
  2    `kv_rpc.check_kv_server`    an at-most-once KV server behind real RPC
  3    `mapreduce_worker.check_worker`  the MapReduce worker loop, with crashes
  4    `raft_election.check_election`   Raft leader election (`ElectionRaft`)
  5    `raft_log.check_replication`     Raft log replication (`ReplicationRaft`)
  6    `kv_raft.check_kv_raft`     a linearizable KV service on Raft (simulated)
  7    `gfs_reader.check_reader`   a reader that skips padding and drops duplicates (GFS)
  8    `primary_backup.check_primary_backup`  the output rule and test-and-set (`FTReplica`)
  9    `zk_lock.check_zk_lock`     a lock without a herd effect on the ZooKeeper-like service
 10    `craq_reads.check_craq_reads`  CRAQ's read path at every node of a chain
 11    `aurora_recovery.check_aurora_recovery`  Aurora's writer: the VCL and the recovery point
 12    `frangipani_revoke.check_frangipani_revoke`  Frangipani's revoke handler and log replay
=====  ==========================  ============================================

Tools: ``python -m distlab.assignments release SRC DST`` (`release`) writes
learner notebooks; ``python -m distlab.assignments check NOTEBOOK`` (`checking`)
runs nbval on one and explains the result. Harness modules are imported on
demand (``from distlab.assignments.bank import check_bank``), so importing this
package costs nothing.

What this package must never do: print from a harness (cells print the returned
verdict), or make a verdict depend on timing: a correct solution prints the same
lines on every run and every machine.
"""

from distlab.assignments.verdict import CheckResult, Verdict, run_checks

__all__ = ["CheckResult", "Verdict", "run_checks"]
