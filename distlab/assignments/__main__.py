"""Command line: ``python -m distlab.assignments release SRC DST`` and ``... check NOTEBOOK``.

``release`` writes learner notebooks (solutions replaced by hints) from instructor
notebooks; ``check`` runs nbval on one learner notebook and prints a readable
report, exiting non-zero when a check fails. This file only parses arguments;
the work is in `distlab.assignments.release` and `distlab.assignments.checking`.
"""

from __future__ import annotations

import argparse
import sys

from distlab.assignments.checking import DEFAULT_CELL_TIMEOUT_S, NotGradable, check_notebook
from distlab.assignments.release import ReleaseError, release_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m distlab.assignments", description="Release and check course assignments."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    release = commands.add_parser("release", help="write learner notebooks from instructor ones")
    release.add_argument("src", help="an instructor notebook, or a folder of them")
    release.add_argument("dst", help="a folder (or a .ipynb path when SRC is one notebook)")
    check = commands.add_parser("check", help="run a learner notebook's checks (nbval)")
    check.add_argument("notebook", help="the learner's .ipynb")
    check.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULT_CELL_TIMEOUT_S,
        help=f"seconds a cell may run (default {DEFAULT_CELL_TIMEOUT_S})",
    )
    args = parser.parse_args(argv)
    if args.command == "release":
        try:
            written = release_path(args.src, args.dst)
        except (ReleaseError, FileNotFoundError) as error:
            print(f"release failed: {error}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
        return 0
    if args.command == "check":
        try:
            report = check_notebook(args.notebook, cell_timeout_s=args.cell_timeout)
        except FileNotFoundError as error:
            print(f"check failed: {error}", file=sys.stderr)
            return 2
        except NotGradable as error:
            print(f"NOT GRADED: {error}", file=sys.stderr)
            return 2
        print(report.text())
        return 0 if report.passed else 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
