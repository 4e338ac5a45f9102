"""Fixtures for the real-engine tests: skip with a reason when a server binary is missing.

The ``engines`` marker (real etcd / Redis servers) is registered here as well as in
pyproject.toml, so these tests also run when collected on their own.
"""

from __future__ import annotations

import shutil

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "engines: runs real etcd / Redis servers (skips with a reason if unavailable)"
    )


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(
            f"{binary!r} not found on PATH: install Debian's {package} package "
            "(.ci/system-deps does so on CI when run as root)"
        )
    return path


@pytest.fixture
def etcd_binary() -> str:
    return _need("etcd", "etcd-server")


@pytest.fixture
def redis_binary() -> str:
    pytest.importorskip("redis", reason="the redis (redis-py) client package is not installed")
    return _need("redis-server", "redis-server")
