"""The release tool: solutions become hinted stubs, everything else survives unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from distlab.assignments.__main__ import main
from distlab.assignments.release import (
    DEFAULT_HINT,
    ReleaseError,
    release_notebook,
    release_path,
    release_source,
)

SOURCES = Path(__file__).resolve().parents[2] / "notebooks" / "assignments" / "source"

SKELETON = """class Bank:
    def __init__(self, ledger):
        self.balances = ledger
        ### BEGIN SOLUTION
        ### HINT: one lock per account
        self.locks = ["secret-1"]
        ### END SOLUTION

    def total(self):
        ### BEGIN SOLUTION
        return "secret-2"
        ### END SOLUTION"""


def test_each_block_becomes_one_stub_at_the_markers_indentation():
    released, blocks = release_source(SKELETON)
    assert blocks == 2
    assert "secret" not in released and "SOLUTION" not in released and "HINT" not in released
    assert released.splitlines() == [
        "class Bank:",
        "    def __init__(self, ledger):",
        "        self.balances = ledger",
        '        raise NotImplementedError("one lock per account")',
        "",
        "    def total(self):",
        f'        raise NotImplementedError("{DEFAULT_HINT}")',
    ]


def test_stub_runs_and_raises_the_hint():
    released, _ = release_source(SKELETON)
    namespace: dict = {}
    exec(compile(released, "<released>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="one lock per account"):
        namespace["Bank"]([])


def test_hints_with_quotes_stay_valid_python():
    source = (
        'def f():\n ### BEGIN SOLUTION\n ### HINT: use f"x {i}" and \\n\n x = 1\n ### END SOLUTION'
    )
    released, _ = release_source(source)
    namespace: dict = {}
    exec(released, namespace)
    with pytest.raises(NotImplementedError) as caught:
        namespace["f"]()
    assert str(caught.value) == 'use f"x {i}" and \\n'


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    x = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "line 2: ### END SOLUTION without"),
        ("def f():\n  ### BEGIN SOLUTION\n  ### BEGIN SOLUTION\n  ### END SOLUTION", "line 3"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "line 1: a solution block at the top"),
    ],
    ids=["unclosed", "unopened", "nested", "top-level"],
)
def test_malformed_markers_are_refused_with_the_line(source, complaint):
    with pytest.raises(ReleaseError, match=complaint):
        release_source(source, where="cell 3")


def _instructor_notebook() -> nbformat.NotebookNode:
    skeleton = new_code_cell(SKELETON, execution_count=2)
    skeleton.outputs = [new_output("stream", name="stdout", text="solution output\n")]
    check = new_code_cell("# Check: it works\ncheck(Bank)", execution_count=3)
    check.outputs = [new_output("stream", name="stdout", text="PASS  it works\n")]
    return new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("import x", execution_count=1),
            skeleton,
            check,
        ]
    )


def test_release_clears_solution_cells_and_keeps_the_rest(tmp_path):
    notebook = _instructor_notebook()
    original = json.loads(nbformat.writes(notebook))
    released = release_notebook(original)
    assert json.loads(nbformat.writes(notebook)) == original, "the input must not change"
    cells = released["cells"]
    assert cells[0] == original["cells"][0] and cells[1] == original["cells"][1]
    assert cells[2]["outputs"] == [] and cells[2]["execution_count"] is None
    assert cells[3] == original["cells"][3], "check cells keep their expected outputs"
    assert released["metadata"]["distlab"]["released"] is True
    path = tmp_path / "learner.ipynb"
    path.write_text(json.dumps(released), encoding="utf-8")
    nbformat.validate(nbformat.read(path, as_version=4))


def test_markers_in_markdown_and_notebooks_without_solutions_are_refused():
    notebook = json.loads(nbformat.writes(_instructor_notebook()))
    notebook["cells"][0]["source"] = "### BEGIN SOLUTION"
    with pytest.raises(ReleaseError, match="cell 0 is markdown"):
        release_notebook(notebook)
    plain = json.loads(nbformat.writes(new_notebook(cells=[new_code_cell("x = 1")])))
    with pytest.raises(ReleaseError, match="nothing to release"):
        release_notebook(plain)


def test_release_path_handles_folders_files_and_refuses_to_overwrite(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(_instructor_notebook(), src / "a.ipynb")
    nbformat.write(_instructor_notebook(), src / "b.ipynb")
    written = release_path(src, tmp_path / "out")
    assert [path.name for path in written] == ["a.ipynb", "b.ipynb"]
    single = release_path(src / "a.ipynb", tmp_path / "one" / "learner.ipynb")
    assert single == [tmp_path / "one" / "learner.ipynb"]
    assert single[0].read_bytes() == written[0].read_bytes(), "a release is deterministic"
    with pytest.raises(ReleaseError, match="refusing to overwrite"):
        release_path(src / "a.ipynb", src / "a.ipynb")


def test_command_line_release_and_errors(tmp_path, capsys):
    src = tmp_path / "a.ipynb"
    nbformat.write(_instructor_notebook(), src)
    assert main(["release", str(src), str(tmp_path / "out")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["release", str(tmp_path / "missing.ipynb"), str(tmp_path / "out")]) == 2
    assert "no notebook" in capsys.readouterr().err


def test_real_assignments_release_cleanly(tmp_path):
    instructor = sorted(SOURCES.glob("*.ipynb"))
    assert len(instructor) == 13
    for source, learner in zip(instructor, release_path(SOURCES, tmp_path), strict=True):
        before = nbformat.read(source, as_version=4)
        after = nbformat.read(learner, as_version=4)
        nbformat.validate(after)
        assert len(before.cells) == len(after.cells)
        stubs = 0
        for old, new in zip(before.cells, after.cells, strict=True):
            if new.cell_type != "code":
                continue
            compile(new.source, learner.name, "exec")  # the learner's copy is valid Python
            assert "### BEGIN SOLUTION" not in new.source and "### HINT" not in new.source
            stubs += new.source.count("raise NotImplementedError(")
            if old.source.lstrip().startswith("# Check"):
                assert new.source == old.source and new.outputs == old.outputs
                assert "checks passed" in new.outputs[0]["data"]["text/plain"]
        assert stubs >= 1, f"{learner.name} has no stub for the learner to replace"


def test_release_fingerprints_check_cells_so_edits_are_detected(tmp_path):
    from distlab.assignments.checking import CheckReport, _tampered

    src = tmp_path / "a.ipynb"
    nbformat.write(_instructor_notebook(), src)
    (learner,) = release_path(src, tmp_path / "out")
    data = json.loads(learner.read_text(encoding="utf-8"))
    assert len(data["metadata"]["distlab"]["checks"]) == 1
    assert _tampered(learner) == 0
    # The learner's own code changes nothing...
    data["cells"][2]["source"] = "class Bank:\n    pass\n"
    learner.write_text(json.dumps(data), encoding="utf-8")
    assert _tampered(learner) == 0
    # ...but an expected verdict rewritten to match a failing run is noticed.
    data["cells"][3]["outputs"][0]["text"] = "FAIL  it works\n"
    learner.write_text(json.dumps(data), encoding="utf-8")
    assert _tampered(learner) == 1
    report = CheckReport(learner, 0, [], "", tampered=1)
    assert not report.passed
    assert _tampered(src) == 0, "instructor notebooks carry no fingerprints"
