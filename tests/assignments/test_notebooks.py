"""The assignments end to end: released notebooks fail their checks, solved ones pass.

The instructor notebooks themselves run under nbval in the project's default test
run (testpaths include notebooks/). Here the learner's side is proved: every
notebook released with its stubs untouched FAILS ``python -m distlab.assignments
check``, whose report names the failing checks; a solution with one bug fails
exactly the check that targets that bug; and the instructor's solution passes.
Every notebook whose learner cell rebinds the check function, to print the stored verdict,
fails too (the grading loophole, closed). The check runs start Jupyter kernels (fourteen
nbval runs, three at a time), so they are marked ``slow``: about a minute on an idle
two-core machine, minutes when it is loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from distlab.assignments.release import release_path
from distlab.assignments.verdict import Verdict

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "notebooks" / "assignments" / "source"


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )


def _check(notebook: Path) -> subprocess.CompletedProcess[str]:
    return _run("-m", "distlab.assignments", "check", str(notebook), "--cell-timeout", "120")


def _stored_check_names(notebook: Path) -> list[str]:
    names = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith("# Check"):
            text = "".join(cell["outputs"][0]["data"]["text/plain"])
            names += [line[6:] for line in text.splitlines() if line.startswith("PASS  ")]
    return names


ASSIGNMENTS = [
    "01_bank",
    "02_kv_rpc",
    "03_mapreduce_worker",
    "04_raft_election",
    "05_raft_log",
    "06_kv_raft",
    "07_gfs_reader",
    "08_primary_backup",
    "09_zk_lock",
    "10_craq_reads",
    "11_aurora_recovery",
    "12_frangipani_revoke",
    "13_two_phase_commit",
]


def _self_graded(released: Path, folder: Path) -> Path:
    """A copy of ``released`` with a learner cell, right after the last import, that makes
    each check function return the verdict the instructor's notebook stores (shown as a
    Verdict is: its repr is the text) instead of running the harness."""
    notebook = json.loads(released.read_text(encoding="utf-8"))
    fakes = ["class _Shown(str):\n    def __repr__(self):\n        return str(self)\n"]
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("# Check"):
            function = source.strip().splitlines()[-1].split("(")[0]
            stored = "".join(cell["outputs"][0]["data"]["text/plain"])
            fakes.append(f"{function} = lambda *args, **kwargs: _Shown({stored!r})")
    code = [i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]
    after = max(i for i in code if "import " in "".join(notebook["cells"][i]["source"]))
    fake = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    notebook["cells"].insert(after + 1, {**fake, "source": "\n".join(fakes)})
    folder.mkdir(exist_ok=True)
    target = folder / released.name
    target.write_text(json.dumps(notebook), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Check every released notebook, one buggy solution and one correct one, concurrently."""
    folder = tmp_path_factory.mktemp("released")
    notebooks = {path.stem: path for path in release_path(SOURCES, folder)}
    # A solution with one bug: the vote is granted but never persisted.
    source = json.loads((SOURCES / "04_raft_election.ipynb").read_text(encoding="utf-8"))
    for cell in source["cells"]:
        text = "".join(cell["source"])
        if "self.persist()" in text:
            cell["source"] = text.replace("self.persist()", "pass  # forgot to persist")
    buggy = folder / "buggy" / "04_raft_election.ipynb"
    buggy.parent.mkdir()
    buggy.write_text(json.dumps(source), encoding="utf-8")
    notebooks["buggy"] = buggy
    notebooks["solved"] = SOURCES / "04_raft_election.ipynb"
    # The grading loophole, tried on every assignment: a cell that rebinds the check
    # function to print the stored (all PASS) verdict.
    for name in ASSIGNMENTS:
        notebooks[f"self-graded {name}"] = _self_graded(notebooks[name], folder / "self-graded")
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(notebooks, pool.map(_check, notebooks.values()), strict=True))
    return {name: (notebooks[name], results[name]) for name in notebooks}


def test_instructor_notebooks_store_all_pass_verdicts():
    notebooks = sorted(SOURCES.glob("*.ipynb"))
    assert [path.name[:2] for path in notebooks] == [f"{n:02}" for n in range(1, 14)]
    for notebook in notebooks:
        names = _stored_check_names(notebook)
        assert len(names) >= 5, f"{notebook.name}: only {len(names)} checks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebook_with_untouched_stubs_fails_and_names_every_check(runs, name):
    _, result = runs[name]
    assert result.returncode == 1, result.stdout + result.stderr
    report = result.stdout
    expected = _stored_check_names(SOURCES / f"{name}.ipynb")
    for check in expected:
        assert f"FAIL  {check}\n" in report, f"{check!r} not reported as failed:\n{report}"
    assert "NotImplementedError" in report
    assert report.rstrip().endswith(
        f"RESULT: FAIL -- {len(expected)} of {len(expected)} checks failed"
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_cell_that_rebinds_the_check_function_cannot_grade_itself(runs, name):
    _, result = runs[f"self-graded {name}"]
    assert result.returncode == 1, result.stdout + result.stderr
    expected = _stored_check_names(SOURCES / f"{name}.ipynb")
    for check in expected:  # the real harness ran on the stubs, whatever the fake printed
        assert f"FAIL  {check}\n" in result.stdout, result.stdout
    assert "must not stand in for a check" in result.stdout
    assert "rebinds check_" in result.stdout


@pytest.mark.slow
def test_one_bug_fails_exactly_the_check_that_targets_it(runs):
    _, result = runs["buggy"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert "    FAIL  a vote survives a restart\n" in result.stdout
    assert "call self.persist()" in result.stdout  # the harness's explanation
    assert result.stdout.count("    FAIL  ") == 1, result.stdout
    assert "RESULT: FAIL -- 1 of 8 checks failed" in result.stdout


@pytest.mark.slow
def test_the_instructors_solution_passes_the_check_command(runs):
    _, result = runs["solved"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("RESULT: PASS -- all 8 checks passed")


@pytest.mark.slow
def test_default_run_collects_instructor_notebooks_but_never_released_ones(tmp_path):
    # A copy of notebooks/assignments with a release written inside it, as an instructor might.
    folder = tmp_path / "notebooks" / "assignments"
    (folder / "source").mkdir(parents=True)
    (folder / "conftest.py").write_text(
        (SOURCES.parent / "conftest.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for path in SOURCES.glob("*.ipynb"):
        (folder / "source" / path.name).write_bytes(path.read_bytes())
    release_path(folder / "source", folder / "release")
    result = _run(
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(tmp_path),
        str(tmp_path / "notebooks"),
        cwd=tmp_path,
    )
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert collected, result.stdout + result.stderr
    assert all(
        "/source/" in line or line.startswith("notebooks/assignments/source") for line in collected
    )
    assert any("05_raft_log.ipynb" in line for line in collected)


def test_verdict_type_is_what_the_check_cells_display():
    assert Verdict("t", ()).text() == "t\n0/0 checks passed"
