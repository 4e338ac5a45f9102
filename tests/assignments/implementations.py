"""Correct and deliberately broken learner code, to prove each assignment's checks can fail.

The correct Raft classes delegate to the library's own RaftNode rules, so they do
not copy the notebooks' reference solutions (those are checked by nbval when the
instructor notebooks run). Each mutant breaks one rule a check claims to catch.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from distlab.assignments.primary_backup import FTReplica
from distlab.assignments.raft_election import ElectionRaft
from distlab.assignments.raft_log import ReplicationRaft
from distlab.mapreduce.tasks import intermediate_name, output_name, partition
from distlab.primary_backup import Replica
from distlab.raft import AppendEntriesReply, NotLeader, RaftNode, RequestVoteReply, Role
from distlab.sim import KVServer as SimKVServer
from distlab.storage import write_atomic
from distlab.sync import Mutex

# ----------------------------------------------------------------------------- assignment 1


class Bank:
    """Correct: one Mutex per account, taken in account order; total() holds them all."""

    def __init__(self, ledger):
        self.balances = ledger
        self.locks = [Mutex(f"account {i}") for i in range(len(ledger))]

    def _move(self, source, target, amount):
        if self.balances[source] < amount:
            return False
        self.balances[source] = self.balances[source] - amount
        self.balances[target] = self.balances[target] + amount
        return True

    def transfer(self, source, target, amount):
        first, second = sorted((source, target))
        with self.locks[first], self.locks[second]:
            return self._move(source, target, amount)

    def total(self):
        with contextlib.ExitStack() as held:
            for lock in self.locks:
                held.enter_context(lock)
            return sum(self.balances[i] for i in range(len(self.balances)))


class RacyBank(Bank):
    """No locks in transfer: concurrent read-modify-writes overwrite each other."""

    def transfer(self, source, target, amount):
        return self._move(source, target, amount)


class OppositeOrderBank(Bank):
    """Locks source then target: transfers in opposite directions can deadlock."""

    def transfer(self, source, target, amount):
        with self.locks[source], self.locks[target]:
            return self._move(source, target, amount)


class GlobalLockBank(Bank):
    """Correct but coarse: one lock for the whole bank."""

    def __init__(self, ledger):
        super().__init__(ledger)
        self.bank_lock = Mutex("bank")

    def transfer(self, source, target, amount):
        with self.bank_lock:
            return self._move(source, target, amount)

    def total(self):
        with self.bank_lock:
            return sum(self.balances[i] for i in range(len(self.balances)))


class UnlockedTotalBank(Bank):
    """total() adds up without locks: it sees money in flight."""

    def total(self):
        return sum(self.balances[i] for i in range(len(self.balances)))


# ----------------------------------------------------------------------------- assignment 2


class KVServer:
    """Correct: the last (seq, reply) per client; any seq not newer is answered from memory."""

    def __init__(self):
        self.lock = Mutex("kv")
        self.data = {}
        self.last = {}

    def get(self, key):
        with self.lock:
            return self.data.get(key, "")

    def _once(self, client_id, seq, apply):
        with self.lock:
            seen = self.last.get(client_id)
            if seen is not None and seq <= seen[0]:
                return seen[1]
            reply = apply()
            self.last[client_id] = (seq, reply)
            return reply

    def put(self, client_id, seq, key, value):
        def apply():
            self.data[key] = value
            return ""

        return self._once(client_id, seq, apply)

    def append(self, client_id, seq, key, value):
        def apply():
            old = self.data.get(key, "")
            self.data[key] = old + value
            return old

        return self._once(client_id, seq, apply)

    def remembered(self):
        with self.lock:
            return len(self.last)


class NoDedupServer(KVServer):
    """At-least-once: every retry runs again."""

    def _once(self, client_id, seq, apply):
        with self.lock:
            return apply()


class WrongAnswerOnRetryServer(KVServer):
    """Skips a repeat but answers it with the current value instead of the first answer."""

    def _once(self, client_id, seq, apply):
        with self.lock:
            seen = self.last.get(client_id)
            if seen is not None and seq <= seen[0]:
                return self.data.get("k", "")
            reply = apply()
            self.last[client_id] = (seq, reply)
            return reply


class ExactSeqOnlyServer(KVServer):
    """Recognises only the latest seq: a late duplicate of an older request runs again."""

    def _once(self, client_id, seq, apply):
        with self.lock:
            seen = self.last.get(client_id)
            if seen is not None and seq == seen[0]:
                return seen[1]
            reply = apply()
            self.last[client_id] = (seq, reply)
            return reply


class RemembersEverythingServer(KVServer):
    """Correct answers, unbounded memory: one entry per request ever seen."""

    def _once(self, client_id, seq, apply):
        with self.lock:
            if (client_id, seq) in self.last:
                return self.last[(client_id, seq)]
            reply = apply()
            self.last[(client_id, seq)] = reply
            return reply


# ----------------------------------------------------------------------------- assignment 4


class LibraryElection(ElectionRaft):
    """Correct: the library's own election rules."""

    def start_election(self):
        RaftNode.start_election(self)

    def handle_request_vote(self, sender, request):
        RaftNode.handle_request_vote(self, sender, request)

    def handle_request_vote_reply(self, sender, reply):
        RaftNode.handle_request_vote_reply(self, sender, reply)


class ForgetsToPersistVote(LibraryElection):
    """Grants votes but never hands the vote to the driver to persist."""

    def handle_request_vote(self, sender, request):
        voted_before = self.voted_for
        RaftNode.handle_request_vote(self, sender, request)
        if self.voted_for != voted_before and self.current_term == request.term:
            # undo the library's "persist" mark for the vote itself (white-box: the
            # core has no public way to take persist_hard_state() back, nor should it)
            self._hard_state_changed = False


class VotesForEveryone(LibraryElection):
    """Grants every request of the current term: two votes per term, stale logs win."""

    def handle_request_vote(self, sender, request):
        granted = request.term == self.current_term
        if granted:
            self.voted_for = request.candidate_id
            self.persist()
            self.reset_election_timer()
        self.send(sender, RequestVoteReply(term=self.current_term, vote_granted=granted))


class CountsRefusals(LibraryElection):
    """Counts every reply as a vote, granted or not."""

    def handle_request_vote_reply(self, sender, reply):
        if self.role is Role.CANDIDATE:
            self.votes.add(sender)
            if len(self.votes) >= self.majority:
                self.become_leader()


# ----------------------------------------------------------------------------- assignment 5


class LibraryReplication(ReplicationRaft):
    """Correct: the library's own replication rules (with this base's simple sender)."""

    def handle_append_entries(self, sender, request):
        RaftNode.handle_append_entries(self, sender, request)

    def handle_append_entries_reply(self, sender, reply):
        if self.role is not Role.LEADER or reply.term != self.current_term:
            return
        if reply.success:
            if reply.match_index > self.match_index[sender]:
                self.match_index[sender] = reply.match_index
                self.advance_commit_index()
            self.next_index[sender] = max(self.next_index[sender], self.match_index[sender] + 1)
            if self.next_index[sender] <= self.log.last_index:
                self.send_append_entries(sender)
            return
        last = (
            None
            if reply.conflict_term is None
            else self.log.last_index_of_term(reply.conflict_term)
        )
        next_index = reply.conflict_index if last is None else last + 1
        next_index = min(next_index, self.log.last_index + 1)
        self.next_index[sender] = max(next_index, self.match_index[sender] + 1)
        self.send_append_entries(sender)

    def advance_commit_index(self):
        RaftNode.advance_commit_index(self)


class ForgetsToPersistLog(LibraryReplication):
    """Changes the log without telling the driver: a crash loses the entries."""

    def log_changed(self, from_index):
        pass


class CommitsOldTerms(LibraryReplication):
    """Ignores Figure 8: commits whatever a majority stores, whatever its term."""

    def advance_commit_index(self):
        matched = sorted([self.log.last_index, *self.match_index.values()], reverse=True)
        candidate = matched[self.majority - 1]
        if candidate > self.commit_index:
            self.commit_index = candidate


class AcceptsWithoutConsistencyCheck(LibraryReplication):
    """Appends whatever arrives after truncating at prev_log_index, without checking terms."""

    def handle_append_entries(self, sender, request):
        if request.term < self.current_term:
            self.send(sender, AppendEntriesReply(self.current_term, False))
            return
        if self.role is Role.CANDIDATE:
            self.become_follower(request.term)
        self.leader_id = request.leader_id
        self.reset_election_timer()
        prev = request.prev_log_index
        if prev > self.log.last_index:
            self.send(
                sender,
                AppendEntriesReply(
                    self.current_term, False, conflict_index=self.log.last_index + 1
                ),
            )
            return
        if request.entries:
            if prev + 1 <= self.log.last_index and prev + 1 > self.commit_index:
                self.log.truncate_from(prev + 1)
            if prev + 1 > self.log.last_index:
                self.log.append(list(request.entries))
                self.log_changed(prev + 1)
        last_new = prev + len(request.entries)
        if request.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(request.leader_commit, last_new))
        self.send(sender, AppendEntriesReply(self.current_term, True, match_index=last_new))


# ----------------------------------------------------------------------------- assignment 3


def _map_files(app, task, work):
    contents = Path(task["input_path"]).read_text(encoding="utf-8")
    buckets = [[] for _ in range(task["n_reduce"])]
    for key, value in app.map_fn(task["input_path"], contents):
        buckets[partition(key, task["n_reduce"])].append(json.dumps([key, value]) + "\n")
    return buckets


def _groups(task, work):
    groups = {}
    for map_id in range(task["n_map"]):
        text = (work / intermediate_name(map_id, task["task_id"])).read_text(encoding="utf-8")
        for line in text.splitlines():
            key, value = json.loads(line)
            groups.setdefault(key, []).append(value)
    return groups


def _atomic_map(app, task, work):
    for reduce_id, lines in enumerate(_map_files(app, task, work)):
        data = "".join(lines).encode("utf-8")
        write_atomic(work / intermediate_name(task["task_id"], reduce_id), data)


def _atomic_reduce(app, task, work):
    groups = _groups(task, work)
    lines = [f"{key}\t{app.reduce_fn(key, groups[key])}\n" for key in sorted(groups)]
    write_atomic(work / output_name(task["task_id"]), "".join(lines).encode("utf-8"))


def _loop(call, worker_id, app, work_dir, run_map, run_reduce, report_errors=True):
    work = Path(work_dir)
    while True:
        task = call("Coordinator.request_task", worker_id)
        kind = task["kind"]
        if kind == "exit":
            return
        if kind == "wait":
            time.sleep(0.01)
            continue
        ids = (worker_id, kind, task["task_id"], task["attempt"])
        try:
            (run_map if kind == "map" else run_reduce)(app, task, work)
        except Exception as error:
            if not report_errors:
                raise
            call("Coordinator.report_failed", *ids, str(error))
            continue
        call("Coordinator.report_done", *ids, 0.0, 0.0)


def worker(call, worker_id, app, work_dir):
    """Correct: whole files written with write_atomic; user errors reported."""
    _loop(call, worker_id, app, work_dir, _atomic_map, _atomic_reduce)


def _streaming_reduce(app, task, work):
    groups = _groups(task, work)
    with open(work / output_name(task["task_id"]), "w", encoding="utf-8") as out:
        for key in sorted(groups):
            out.write(f"{key}\t{app.reduce_fn(key, groups[key])}\n")


def _streaming_map(app, task, work):
    files = [
        open(work / intermediate_name(task["task_id"], r), "w", encoding="utf-8")  # noqa: SIM115
        for r in range(task["n_reduce"])
    ]
    try:
        contents = Path(task["input_path"]).read_text(encoding="utf-8")
        for key, value in app.map_fn(task["input_path"], contents):
            files[partition(key, task["n_reduce"])].write(json.dumps([key, value]) + "\n")
    finally:
        for handle in files:
            handle.close()


def streaming_worker(call, worker_id, app, work_dir):
    """Writes pairs and lines as they come: a crash leaves a partial file."""
    _loop(call, worker_id, app, work_dir, _streaming_map, _streaming_reduce)


def unreported_errors_worker(call, worker_id, app, work_dir):
    """Lets a user function's exception kill the worker instead of reporting it."""
    _loop(call, worker_id, app, work_dir, _atomic_map, _atomic_reduce, report_errors=False)


def _unsorted_reduce(app, task, work):
    groups = _groups(task, work)
    lines = [f"{key}\t{app.reduce_fn(key, groups[key][:1])}\n" for key in sorted(groups)]
    write_atomic(work / output_name(task["task_id"]), "".join(lines).encode("utf-8"))


def unsorted_values_worker(call, worker_id, app, work_dir):
    """Reduces only each key's first value: wrong counts."""
    _loop(call, worker_id, app, work_dir, _atomic_map, _unsorted_reduce)


# ----------------------------------------------------------------------------- assignment 6


class KVOnRaft(SimKVServer):
    """Correct: every op through the log, one application per (client, seq), leader-loss aware."""

    def setup(self):
        self.data = {}
        self.last = {}
        self.waiting = {}

    def handle_request(self, request_id, command):
        result = self.propose(command)
        if isinstance(result, NotLeader):
            self.reply(request_id, error="wrong leader")
            return
        earlier = self.waiting.pop(result.index, None)
        if earlier is not None:
            self.reply(earlier[0], error="wrong leader")
        self.waiting[result.index] = (request_id, command)

    def execute(self, command):
        seen = self.last.get(command.client_id)
        if seen is not None and command.seq <= seen[0]:
            return seen[1] if command.seq == seen[0] else ""
        if command.op == "put":
            self.data[command.key] = command.value
            result = ""
        elif command.op == "append":
            self.data[command.key] = self.data.get(command.key, "") + command.value
            result = ""
        else:
            result = self.data.get(command.key, "")
        self.last[command.client_id] = (command.seq, result)
        return result

    def apply(self, index, command):
        result = self.execute(command)
        waiting = self.waiting.pop(index, None)
        if waiting is not None:
            request_id, proposed = waiting
            if proposed == command:
                self.reply(request_id, result)
            else:
                self.reply(request_id, error="wrong leader")


class LocalReadsKV(KVOnRaft):
    """Answers gets from its own table whenever it believes it leads: stale under partitions."""

    def handle_request(self, request_id, command):
        if command.op == "get":
            if isinstance(self.propose(command), NotLeader):
                self.reply(request_id, error="wrong leader")
            else:
                self.reply(request_id, self.data.get(command.key, ""))
            return
        super().handle_request(request_id, command)


class NoDuplicateTableKV(KVOnRaft):
    """Applies every committed copy of a retried command."""

    def execute(self, command):
        if command.op == "get":
            return self.data.get(command.key, "")
        if command.op == "put":
            self.data[command.key] = command.value
        else:
            self.data[command.key] = self.data.get(command.key, "") + command.value
        return ""


class TrustsTheIndexKV(KVOnRaft):
    """Answers whoever waits on an index, even if another leader's command landed there."""

    def apply(self, index, command):
        result = self.execute(command)
        waiting = self.waiting.pop(index, None)
        if waiting is not None:
            self.reply(waiting[0], result)


# ----------------------------------------------------------------------------- assignment 7


class LibraryReplica(FTReplica):
    """Correct: the library's own rules."""

    def emit_reply(self, reply):
        Replica.emit_reply(self, reply)

    def release_acknowledged(self):
        Replica.release_acknowledged(self)

    def partner_silent(self):
        Replica.partner_silent(self)

    def arbiter_answered(self, granted, holder):
        Replica.arbiter_answered(self, granted, holder)


class RepliesAtOnce(LibraryReplica):
    """No output rule: every reply leaves as soon as the primary ran the request."""

    def emit_reply(self, reply):
        self.send_reply(reply)


class ReleasesEverythingHeld(LibraryReplica):
    """Any acknowledgement releases every held reply, acknowledged or not."""

    def release_acknowledged(self):
        held, self.held = self.held, []
        for reply in held:
            self.send_reply(reply)


class GoesLiveWithoutAsking(LibraryReplica):
    """Takes a silent partner for a dead one."""

    def partner_silent(self):
        self.go_live()


class IgnoresTheRefusal(LibraryReplica):
    """Asks the arbiter, then goes live whatever it answers."""

    def arbiter_answered(self, granted, holder):
        self.go_live()
