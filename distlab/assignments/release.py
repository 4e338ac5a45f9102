"""Release: turn an instructor notebook (with solutions) into the learner's notebook.

What it is: `release_notebook(nb)` returns a copy of a notebook in which every
block of code between a ``### BEGIN SOLUTION`` line and a ``### END SOLUTION``
line is replaced by one line, at the indentation of the BEGIN marker::

    raise NotImplementedError("<hint>")

The hint is the text of the block's ``### HINT:`` lines (joined by spaces), or
`DEFAULT_HINT`. Cells that held a solution lose their outputs and execution
count (nbval does not compare an unrun cell), every other cell keeps its
outputs: the check cells' stored verdicts are what the learner's run is
compared with. `release_path(src, dst)` does this for one file or a folder.

What it must never do: leave a marker or a line of a solution in the output,
or guess when markers do not pair up (it raises `ReleaseError` naming the cell
and the line). It never executes a notebook. It reads and writes the .ipynb
JSON directly, in nbformat's layout (importing nbformat costs seconds).
Where it fits: ``python -m distlab.assignments release SRC DST`` (see
`distlab.assignments.__main__`); the tests in tests/assignments release the
instructor notebooks into a temporary folder and prove the result fails.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "### HINT:"
DEFAULT_HINT = "replace this line with your code"


class ReleaseError(ValueError):
    """The instructor notebook's solution markers are malformed."""


def release_source(source: str, *, where: str = "cell") -> tuple[str, int]:
    """Replace each solution block in one cell's source; return (new source, blocks replaced)."""
    out: list[str] = []
    inside = False
    indent = ""
    hints: list[str] = []
    blocks = 0
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise ReleaseError(f"{where}, line {number}: {BEGIN} inside another solution block")
            inside, hints = True, []
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise ReleaseError(
                    f"{where}, line {number}: a solution block at the top level of a cell "
                    "would make the learner's cell raise when it runs; put it inside a "
                    "function or method body"
                )
        elif stripped.startswith(END):
            if not inside:
                raise ReleaseError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            inside = False
            blocks += 1
            hint = " ".join(hints) or DEFAULT_HINT
            out.append(f"{indent}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})")
        elif inside:
            if stripped.startswith(HINT):
                hints.append(stripped[len(HINT) :].strip())
        else:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out), blocks


def _text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    """A source string as nbformat stores it: a list of lines, each ending in a newline."""
    return text.splitlines(keepends=True)


def release_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """The learner's version of an instructor notebook (a parsed .ipynb; it is not changed)."""
    released = copy.deepcopy(notebook)
    total = 0
    for index, cell in enumerate(released.get("cells", [])):
        where = f"cell {index}"
        source = _text(cell.get("source", ""))
        if cell.get("cell_type") != "code":
            if BEGIN in source or END in source:
                raise ReleaseError(f"{where} is {cell.get('cell_type')}: solutions belong in code")
            continue
        new_source, blocks = release_source(source, where=where)
        if blocks:
            total += blocks
            cell["source"] = _lines(new_source)
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)
    if total == 0:
        raise ReleaseError(f"no {BEGIN} ... {END} block found: nothing to release")
    meta = released.setdefault("metadata", {}).setdefault("distlab", {})
    meta["released"] = True
    meta["checks"] = check_digests(released)
    return released


def check_digests(notebook: dict[str, Any]) -> list[str]:
    """A fingerprint of each check cell (its source and its stored output text).

    The check command compares them with the notebook it checks, so a check cell or
    an expected verdict edited by hand is reported instead of silently trusted.
    """
    from distlab.assignments.checking import check_title
    from distlab.assignments.nbval_report import output_text

    digests = []
    for cell in notebook.get("cells", []):
        source = _text(cell.get("source", ""))
        if cell.get("cell_type") == "code" and check_title(source) is not None:
            payload = json.dumps([source, output_text(cell.get("outputs"))])
            digests.append(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16])
    return digests


def read_notebook(path: Path) -> dict[str, Any]:
    """Parse a .ipynb file (nbformat 4)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        raise ReleaseError(f"{path} is not a version 4 notebook")
    return notebook


def write_notebook(notebook: dict[str, Any], path: Path) -> None:
    """Write a notebook the way nbformat does (indent 1, sorted keys, a final newline)."""
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def release_file(src: Path, dst: Path) -> Path:
    """Release one notebook file to ``dst`` (a file path); return ``dst``."""
    if src.resolve() == dst.resolve():
        raise ReleaseError(f"refusing to overwrite the instructor notebook {src}")
    try:
        released = release_notebook(read_notebook(src))
    except ReleaseError as error:
        raise ReleaseError(f"{src}: {error}") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_notebook(released, dst)
    return dst


def release_path(src: str | Path, dst: str | Path) -> list[Path]:
    """Release a notebook, or every ``*.ipynb`` directly in a folder, into ``dst``.

    ``dst`` is a folder (created if needed), or a file path ending in .ipynb when
    ``src`` is one notebook. Returns the files written.
    """
    src, dst = Path(src), Path(dst)
    if src.is_dir():
        sources = sorted(src.glob("*.ipynb"))
        if not sources:
            raise ReleaseError(f"no notebooks in {src}")
        if dst.suffix == ".ipynb":
            raise ReleaseError(f"{src} is a folder, so the destination must be a folder too")
        return [release_file(path, dst / path.name) for path in sources]
    if not src.is_file():
        raise FileNotFoundError(f"no notebook at {src}")
    target = dst if dst.suffix == ".ipynb" else dst / src.name
    return [release_file(src, target)]
