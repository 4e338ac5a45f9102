"""distlab.engines: the same consistency experiment on real systems — etcd and Redis.

Chapter 16 of the course. distlab's checker (distlab.check) does not care who produced a
history, so it can judge real databases the way Jepsen does. This package supplies the
rest: start a real cluster on loopback, talk to it, break it, and record what clients saw.

    from distlab.engines import EtcdCluster, RedisReplicaSet, etcd_experiment, redis_experiment
    result = etcd_experiment("serializable", seed=1)
    result.summary.linearizable, result.summary.stale_reads

Modules, each a chapter: base (the adapter interface and EngineError), processes (server
binaries as child processes: kill -9, SIGSTOP), proxy (loopback link proxies: partitions
without root), etcd (3-member cluster + HTTP/JSON client), redis (primary + 2 replicas +
redis-py client, failover by hand), faults (the seeded engine nemesis), workload
(concurrent recorded clients, lost writes, the summary table), experiments (the etcd and
Redis scenarios), zookeeper (a ZooKeeper ensemble for chapter 11, through kazoo),
postgres (two PostgreSQL servers as 2PC participants for chapter 15, through psycopg). Needs the
``etcd`` and ``redis-server`` binaries (Debian packages
etcd-server and redis-server); without them, starting an engine raises ServerError.
"""

from distlab.engines.base import (
    Engine,
    EngineClient,
    EngineError,
    EngineEvent,
    EngineStatistics,
    MemberStatus,
)
from distlab.engines.etcd import EtcdClient, EtcdCluster
from distlab.engines.experiments import (
    ExperimentResult,
    etcd_experiment,
    plot_counterexample,
    redis_experiment,
)
from distlab.engines.faults import EngineNemesis, Fault, NemesisEvent
from distlab.engines.postgres import PostgresPair, check_postgres
from distlab.engines.processes import (
    ServerError,
    ServerProcess,
    check_engines,
    free_ports,
    require_binary,
)
from distlab.engines.proxy import LinkProxy, ProxyStatistics, etcd_peer_identity
from distlab.engines.redis import RedisClient, RedisReplicaSet
from distlab.engines.workload import (
    ClientSpec,
    EngineSummary,
    lost_acknowledged_writes,
    run_clients,
    summarize,
    summary_rows,
    summary_table,
)
from distlab.engines.zookeeper import ZooKeeperEnsemble, check_zookeeper, four_letter_word

__all__ = [
    "ClientSpec",
    "Engine",
    "EngineClient",
    "EngineError",
    "EngineEvent",
    "EngineNemesis",
    "EngineStatistics",
    "EngineSummary",
    "EtcdClient",
    "EtcdCluster",
    "ExperimentResult",
    "Fault",
    "LinkProxy",
    "MemberStatus",
    "NemesisEvent",
    "PostgresPair",
    "ProxyStatistics",
    "RedisClient",
    "RedisReplicaSet",
    "ServerError",
    "ServerProcess",
    "ZooKeeperEnsemble",
    "check_engines",
    "check_postgres",
    "check_zookeeper",
    "etcd_experiment",
    "etcd_peer_identity",
    "four_letter_word",
    "free_ports",
    "lost_acknowledged_writes",
    "plot_counterexample",
    "redis_experiment",
    "require_binary",
    "run_clients",
    "summarize",
    "summary_rows",
    "summary_table",
]
