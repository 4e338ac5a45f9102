"""``python -m distlab node --config cluster.toml --name nX``: one node per process, addresses
from a TOML file. Here the "hosts" are 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distlab.cluster.config import load_config
from distlab.rpc import Client

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def write_config(directory: Path, body: str) -> Path:
    path = directory / "cluster.toml"
    path.write_text(body)
    return path


@pytest.mark.cluster
def test_three_nodes_from_one_config_reach_each_other(tmp_path: Path) -> None:
    nodes = "\n".join(f'n{i} = "{host}:{free_port(host)}"' for i, host in enumerate(HOSTS))
    config_path = write_config(
        tmp_path,
        f'program = "distlab.cluster.programs:Echo"\ndata_dir = "data"\nseed = 5\n'
        f"[nodes]\n{nodes}\n",
    )
    config = load_config(config_path)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "distlab", "node", "--config", str(config_path), "--name", n],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in config.nodes
    ]
    clients = []
    try:
        for name, address in config.nodes.items():
            client = Client(address, name="controller")
            clients.append(client)
            deadline = time.monotonic() + 30
            while True:  # poll until the node is up
                try:
                    assert client.call("Node.ping", timeout=1.0) == name
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        assert clients[0].call("Echo.ping_peer", "n1", 2.0, timeout=10.0)
        assert clients[1].call("Echo.ping_peer", "n2", 2.0, timeout=10.0)
        assert clients[2].call("Echo.ping_peer", "n0", 2.0, timeout=10.0)
        assert clients[2].call("Node.status", timeout=5.0)["fields"] == {"peers": ["n0", "n1"]}
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=30) for process in processes]
        errors = [process.stderr.read().decode() for process in processes]
        for process in processes:
            process.stderr.close()
    assert codes == [0, 0, 0], errors
    log = (tmp_path / "data" / "n1.log").read_text()
    assert "listening on 127.0.0.2" in log and "stopping gracefully" in log


def test_config_validation(tmp_path: Path) -> None:
    exposed = write_config(
        tmp_path, 'program = "m:C"\n[nodes]\nn0 = "10.1.2.3:7000"\nn1 = "127.0.0.1:7001"\n'
    )
    with pytest.raises(ValueError, match=r"non-loopback.*secret"):
        load_config(exposed)
    bad_port = write_config(tmp_path, 'program = "m:C"\n[nodes]\nn0 = "127.0.0.1:http"\n')
    with pytest.raises(ValueError, match="bad port"):
        load_config(bad_port)
    typo = write_config(tmp_path, 'program = "m:C"\nnode = 1\n[nodes]\nn0 = "127.0.0.1:1"\n')
    with pytest.raises(ValueError, match="unknown keys"):
        load_config(typo)
    good = write_config(
        tmp_path,
        'program = "m:C"\nsecret = "s3cret"\ndata_dir = "d"\n'
        '[nodes]\nn0 = "10.1.2.3:7000"\n[options]\nsnapshot_every = 100\n',
    )
    config = load_config(good)
    assert config.nodes == {"n0": ("10.1.2.3", 7000)}
    assert config.data_dir == tmp_path / "d"
    spec = config.spec("n0")
    assert spec["secret"] == "s3cret" and spec["options"] == {"snapshot_every": 100}
    with pytest.raises(KeyError, match="no node 'n7'"):
        config.spec("n7")
