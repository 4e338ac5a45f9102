"""Multi-host clusters: a TOML config file and the ``python -m distlab node`` command.

On each machine run one node::

    python -m distlab node --config cluster.toml --name n1

The config names every node's ``host:port`` (the same file on every machine), the program as
``"package.module:Class"``, a data directory and, whenever a node listens on a non-loopback
address, a shared secret (the rpc layer authenticates peers with it). See docs/MULTI_HOST.md.

This module only parses and validates the config and runs
:func:`distlab.cluster.node.serve_forever`;
it never spawns processes.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distlab.cluster.program import Address
from distlab.core import derive_seed

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ClusterConfig", "add_arguments", "load_config", "run"]


@dataclass(frozen=True)
class ClusterConfig:
    """A parsed cluster.toml."""

    nodes: dict[str, Address]
    program: str
    data_dir: Path
    secret: str | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def spec(self, name: str) -> dict[str, Any]:
        """The node runtime's spec for node ``name``."""
        if name not in self.nodes:
            raise KeyError(f"no node {name!r} in the config; nodes are {', '.join(self.nodes)}")
        host, port = self.nodes[name]
        return {
            "name": name,
            "host": host,
            "port": port,
            "fixed_port": True,  # peers find us at the configured port, so never move
            "data_dir": str(self.data_dir / name),
            "log_file": str(self.data_dir / f"{name}.log"),
            "secret": self.secret,
            "seed": derive_seed(self.seed, name),  # as Cluster derives it
            "options": self.options,
        }


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def _parse_address(name: str, text: Any) -> Address:
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"node {name}: address must be 'host:port', got {text!r}")
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"node {name}: bad port in {text!r}")
    return host.strip("[]"), int(port)


def load_config(path: str | Path) -> ClusterConfig:
    """Read and validate a cluster config; relative data_dir is relative to the file."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - {"program", "secret", "data_dir", "seed", "nodes", "options"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    if "program" not in raw or "nodes" not in raw:
        raise ValueError(f"{path}: needs 'program = \"module:Class\"' and a [nodes] table")
    nodes = {name: _parse_address(name, text) for name, text in raw["nodes"].items()}
    secret = raw.get("secret")
    exposed = sorted(name for name, (host, _) in nodes.items() if not _is_loopback(host))
    if exposed and not secret:
        raise ValueError(
            f"{path}: nodes {exposed} listen on non-loopback addresses; set a shared "
            f"'secret' so only your nodes can call them"
        )
    data_dir = Path(raw.get("data_dir", "distlab-data"))
    if not data_dir.is_absolute():
        data_dir = path.parent / data_dir
    return ClusterConfig(
        nodes=nodes,
        program=str(raw["program"]),
        data_dir=data_dir,
        secret=secret,
        seed=int(raw.get("seed", 0)),
        options=dict(raw.get("options", {})),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m distlab node``."""
    parser.add_argument("--config", required=True, help="cluster TOML file (see MULTI_HOST.md)")
    parser.add_argument("--name", required=True, help="which node of the config to run")


def run(args: argparse.Namespace) -> int:
    """Run one node until SIGTERM/SIGINT."""
    from distlab.cluster.node import serve_forever

    config = load_config(args.config)
    spec = config.spec(args.name)
    return serve_forever(spec, config.program, dict(config.nodes))
