"""Command line: ``python -m distlab <command>`` (also installed as ``distlab``).

Each subcommand lives in the module that owns the concept; this file only
dispatches, so the package imports nothing heavy until a command needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module, help). Each module exposes ``add_arguments(parser)``
# and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "node": ("distlab.cluster.config", "run one cluster node from a TOML config (multi-host)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="distlab", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        importlib.import_module(module_name).add_arguments(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
