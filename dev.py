#!/usr/bin/env python3
"""One entry point for a fresh machine: set up, then open the course or run the tests.

    python3 dev.py course        # create .venv, install distlab, open the course in JupyterLab
    python3 dev.py test          # the same set-up, then lint, types, unit tests, every notebook
    python3 dev.py test -- -k rpc tests/test_rpc_client.py   # extra arguments go to pytest

Both commands are idempotent: the virtual environment is created once, and
`pip install` runs again only when pyproject.toml changes (a stamp file holds
its hash), so a second run starts in about a second.

Only the standard library is used here, because this runs before anything is
installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".distlab-install-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def run(*command: str | Path) -> None:
    """Run a command from the project root; stop with its exit code if it fails."""
    printable = " ".join(str(part) for part in command)
    say(f"$ {printable}")
    completed = subprocess.run([str(part) for part in command], cwd=ROOT)
    if completed.returncode != 0:
        say(f"failed (exit {completed.returncode}): {printable}")
        sys.exit(completed.returncode)


def install_fingerprint() -> str:
    """What the installed environment depends on: the project metadata and the interpreter."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_environment() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 (this script may run on an older python3)
        sys.exit("distlab needs Python 3.10 or newer; this is " + sys.version.split()[0])
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        say("environment up to date (delete .venv to rebuild it)")
        return
    say("installing distlab and its dependencies (first run: a few minutes)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[test,bench]")
    STAMP.write_text(fingerprint)


def course(extra: list[str]) -> None:
    ensure_environment()
    say("opening the course; stop JupyterLab with Ctrl-C")
    os.chdir(ROOT)
    command = [str(BIN / "jupyter"), "lab", "--ip=127.0.0.1", "notebooks/00_welcome.ipynb"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    os.execv(command[0], command + extra)


def test(extra: list[str]) -> None:
    ensure_environment()
    run(BIN / "ruff", "check", "distlab", "tests", "benchmarks", "dev.py")
    run(BIN / "ruff", "format", "--check", "distlab", "tests", "benchmarks", "dev.py")
    run(PYTHON, "-m", "mypy")  # distlab/, configured in pyproject.toml
    run(PYTHON, "-m", "pytest", *extra)


def main(argv: list[str]) -> None:
    commands = {"course": course, "test": test}
    if not argv or argv[0] not in commands:
        sys.exit(__doc__)
    extra = argv[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    commands[argv[0]](extra)


if __name__ == "__main__":
    main(sys.argv[1:])
