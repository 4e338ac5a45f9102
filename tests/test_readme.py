"""The README's Python runs as a learner would paste it: as a script, guard and all.

Every ```python block of README.md runs in a fresh interpreter from a temporary folder. And
the mistake the guard prevents fails fast with a clear message instead of hanging.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)

pytestmark = pytest.mark.cluster  # the snippets start worker processes


def run_script(source: str, folder: Path) -> subprocess.CompletedProcess[str]:
    script = folder / "snippet.py"
    script.write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_readme_has_python_to_run() -> None:
    assert BLOCKS, "no ```python block found in README.md"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.splitlines()[0][:40])
def test_each_readme_block_runs_as_a_script(block: str, tmp_path: Path) -> None:
    completed = run_script(block, tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_an_unguarded_script_fails_fast_with_the_reason(tmp_path: Path) -> None:
    unguarded = "from distlab.demos.speedup import measure_speedup\n"
    unguarded += "print(measure_speedup((1, 2), repeats=1).table())\n"
    completed = run_script(unguarded, tmp_path)
    assert completed.returncode != 0
    assert "if __name__ == '__main__':" in completed.stderr, completed.stderr[-2000:]
