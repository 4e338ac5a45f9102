"""distlab.frangipani: workstations that cache a shared file system and never see stale data.

Chapter 14 (lecture 11). Modules, in reading order: ``service`` (the shared virtual disk and
the lock server as one deterministic state machine, with crash recovery), ``workstation``
(a write-back cache under locks, a write-ahead log, the revoke handler), ``simulated`` (the
seeded simulator, named invariants, mutants and a checked workload), ``lab`` (one simulated
system to poke at by hand), ``node`` and
``system`` (the service replicated on Raft in real processes, workstations driving it),
``client`` (file operations on chosen workstations, recorded in a history),
``experiments`` (private files against a shared file: what lock traffic costs).
"""

from distlab.frangipani.client import FileSystemError, FrangipaniClient
from distlab.frangipani.experiments import SharingRow, measure_sharing
from distlab.frangipani.lab import FrangipaniLab
from distlab.frangipani.service import ROOT, FrangipaniService, check_path
from distlab.frangipani.simulated import (
    ForgetsToReplay,
    FrangipaniSim,
    ReplaysOldEntries,
    SimRun,
    SkipsTheLog,
    run_workload,
)
from distlab.frangipani.workstation import Completion, Workstation, locks_for

__all__ = [
    "ROOT",
    "Completion",
    "FileSystemError",
    "ForgetsToReplay",
    "FrangipaniClient",
    "FrangipaniLab",
    "FrangipaniService",
    "FrangipaniSim",
    "ReplaysOldEntries",
    "SharingRow",
    "SimRun",
    "SkipsTheLog",
    "Workstation",
    "check_path",
    "locks_for",
    "measure_sharing",
    "run_workload",
]
