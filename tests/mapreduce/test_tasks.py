"""Worker task execution, the apps, the sequential reference and the corpus (no processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from distlab.mapreduce import (
    Coordinator,
    MapReduceApp,
    corpus_paths,
    cpu_heavy_word_count,
    generate_corpus,
    inverted_index,
    run_sequential,
    word_count,
)
from distlab.mapreduce.apps import words
from distlab.mapreduce.core import MapTask, ReduceTask
from distlab.mapreduce.service import CoordinatorService
from distlab.mapreduce.tasks import (
    TEMP_GLOB,
    partition,
    read_output,
    run_map_task,
    run_reduce_task,
)
from distlab.mapreduce.worker import run_worker


def write_texts(directory: Path, texts: dict[str, str]) -> list[str]:
    paths = []
    for name, text in texts.items():
        (directory / name).write_text(text, encoding="utf-8")
        paths.append(str(directory / name))
    return paths


def run_by_hand(app: MapReduceApp, inputs: list[str], n_reduce: int, work: Path) -> dict:
    for map_id, path in enumerate(inputs):
        run_map_task(app, MapTask(map_id, path, n_reduce, 1), work)
    for reduce_id in range(n_reduce):
        run_reduce_task(app, ReduceTask(reduce_id, len(inputs), 1), work)
    return read_output(work, n_reduce)


def test_words_are_lowercased_runs_of_letters():
    assert words("The cat's 2 dogs, the CAT!") == ["the", "cat", "s", "dogs", "the", "cat"]


def test_word_count_and_index_on_a_tiny_corpus(tmp_path):
    inputs = write_texts(tmp_path, {"a.txt": "the cat. The dog!", "b.txt": "a dog"})
    assert run_sequential(word_count, inputs) == {"a": "1", "cat": "1", "dog": "2", "the": "2"}
    assert run_sequential(inverted_index, inputs) == {
        "a": "1 b.txt",
        "cat": "1 a.txt",
        "dog": "2 a.txt,b.txt",
        "the": "1 a.txt",
    }


def test_partition_is_the_same_in_every_process():
    """Python's hash() is salted per process; the partition function must not be."""
    sample = ["the", "river", "mill", "lantern", "ß", "日本"]
    script = (
        "from distlab.mapreduce.tasks import partition;"
        f"print([partition(w, 7) for w in {sample!r}])"
    )
    seen = set()
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        seen.add(out.strip())
    assert seen == {str([partition(w, 7) for w in sample])}
    assert len({partition(w, 7) for w in sample}) > 1  # it does spread keys


def test_a_map_task_writes_every_bucket_and_each_key_lands_in_its_partition(tmp_path):
    (inputs,) = [write_texts(tmp_path, {"in.txt": "one two three four five six seven"})]
    work = tmp_path / "work"
    work.mkdir()
    emitted = run_map_task(word_count, MapTask(0, inputs[0], 4, 1), work)
    assert emitted == 7
    files = sorted(p.name for p in work.iterdir())
    assert files == ["mr-0-0", "mr-0-1", "mr-0-2", "mr-0-3"]  # empty buckets too, no temps
    total = 0
    for r in range(4):
        for line in (work / f"mr-0-{r}").read_text().splitlines():
            key, value = json.loads(line)
            assert partition(key, 4) == r and value == "1"
            total += 1
    assert total == 7


@pytest.mark.parametrize("app", [word_count, inverted_index], ids=["wc", "index"])
def test_map_then_reduce_on_the_corpus_equals_the_sequential_run(tmp_path, app):
    inputs = [str(p) for p in corpus_paths()[:4]]
    output = run_by_hand(app, inputs, 3, tmp_path)
    assert output == run_sequential(app, inputs)
    assert len(output) > 100


def test_re_executing_tasks_replaces_files_with_identical_bytes(tmp_path):
    inputs = [str(p) for p in corpus_paths()[:2]]
    run_by_hand(word_count, inputs, 2, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    run_map_task(word_count, MapTask(1, inputs[1], 2, 2), tmp_path)  # attempt 2
    run_reduce_task(word_count, ReduceTask(0, 2, 2), tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before
    assert not list(tmp_path.glob(TEMP_GLOB))


def test_a_reduce_without_its_map_outputs_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="map 0 has not written it"):
        run_reduce_task(word_count, ReduceTask(0, 1, 1), tmp_path)


def test_a_reduce_fn_returning_a_number_is_named_as_the_mistake(tmp_path):
    inputs = write_texts(tmp_path, {"in.txt": "x y"})
    bad = MapReduceApp("bad", word_count.map_fn, lambda key, values: len(values))
    run_map_task(bad, MapTask(0, inputs[0], 1, 1), tmp_path)
    with pytest.raises(TypeError, match="reduce_fn must return a str"):
        run_reduce_task(bad, ReduceTask(0, 1, 1), tmp_path)


def test_read_output_rejects_a_key_written_twice(tmp_path):
    (tmp_path / "mr-out-0").write_text("the\t3\n")
    (tmp_path / "mr-out-1").write_text("the\t3\n")
    with pytest.raises(ValueError, match="appears twice"):
        read_output(tmp_path, 2)


def test_the_cpu_heavy_variant_counts_like_word_count(tmp_path):
    inputs = write_texts(tmp_path, {"in.txt": "b a b c b"})
    assert run_sequential(cpu_heavy_word_count(5), inputs) == run_sequential(word_count, inputs)


def test_the_shipped_corpus_is_the_seeded_generator_output():
    paths = corpus_paths()
    assert len(paths) == 8
    texts = generate_corpus()
    assert [p.read_text(encoding="utf-8") for p in paths] == texts
    assert generate_corpus(seed=1) != texts
    assert sum(len(t) for t in texts) < 400_000


def test_two_worker_loops_in_threads_against_the_service_match_the_sequential_run(tmp_path):
    """The whole protocol in one process: service + worker loops, no sockets."""
    inputs = [str(p) for p in corpus_paths()[:5]]
    service = CoordinatorService(Coordinator(inputs, 3))

    def call(method, *args):
        return getattr(service, method.split(".", 1)[1])(*args)

    summaries = []
    threads = [
        threading.Thread(
            target=lambda w=w: summaries.append(run_worker(call, w, word_count, str(tmp_path)))
        )
        for w in ("w0", "w1")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert service.done
    assert sorted(s.reason for s in summaries) == ["exit", "exit"]
    assert sum(s.maps for s in summaries) == 5 and sum(s.reduces for s in summaries) == 3
    assert read_output(tmp_path, 3) == run_sequential(word_count, inputs)


def test_a_worker_loop_reports_a_raising_map_and_the_job_fails_after_retries(tmp_path):
    inputs = write_texts(tmp_path, {"in.txt": "x"})

    def broken_map(filename, contents):
        raise ZeroDivisionError("my bug")

    service = CoordinatorService(Coordinator(inputs, 1, max_task_failures=3))

    def call(method, *args):
        return getattr(service, method.split(".", 1)[1])(*args)

    app = MapReduceApp("broken", broken_map, word_count.reduce_fn)
    summary = run_worker(call, "w0", app, str(tmp_path), sleep=lambda s: None)
    assert (summary.failures, summary.reason) == (3, "exit")
    assert "ZeroDivisionError: my bug" in service.error


def test_over_rpc_the_coordinator_offers_exactly_the_worker_calls_and_plain_data():
    from distlab.rpc import Client, Server

    service = CoordinatorService(Coordinator(["in-0.txt"], 2))
    with Server(host="127.0.0.1", port=0, name="coordinator") as server:
        server.register(service.endpoint(), name="Coordinator")
        ours = sorted(m for m in server.methods() if m.startswith("Coordinator."))
        assert ours == [
            "Coordinator.report_done",
            "Coordinator.report_failed",
            "Coordinator.request_task",
            "Coordinator.statistics",
        ]
        client = Client(server.address, name="w0")
        try:
            task = client.call("Coordinator.request_task", "w0", timeout=5.0)
            assert task == {
                "task_id": 0,
                "input_path": "in-0.txt",
                "n_reduce": 2,
                "attempt": 1,
                "kind": "map",
            }
            assert (
                client.call("Coordinator.report_done", "w0", "map", 0, 1, 1.0, 2.0, timeout=5.0)
                is True
            )
            stats = client.call("Coordinator.statistics", timeout=5.0)
            assert (stats["phase"], stats["maps_done"]) == ("reduce", 1)
        finally:
            client.close()
