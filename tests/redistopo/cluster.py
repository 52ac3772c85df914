"""Cluster: ``size`` masters (no replicas) sharing the 16384 slots, made by ``redis-cli --cluster
create``.

Contract
--------
- :class:`RedisClusterSet` owns a temp dir and registers in :data:`._process.TOPOLOGIES` before
  it starts a process. Each node has its cluster bus on a second free port (``--cluster-port``).
- :meth:`RedisClusterSet.start` returns once every node says ``cluster_state:ok`` and sees every
  node connected (bounded by :data:`._process.CLUSTER_TIMEOUT`), or stops what it started and
  raises :class:`._process.TopologyError` quoting the logs.
- ``stop()`` is idempotent and final: every node is gone (stopped by PID) and the dir is
  removed. :meth:`RedisClusterSet.restart_node` keeps the node's port, dir and node id.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import redis.asyncio.cluster
import redis.cluster

from ._process import (
    CLUSTER_TIMEOUT,
    HOST,
    TOPOLOGIES,
    Topologies,
    TopologyError,
    _install,
    _make_topology_dir,
    _quiet_client,
    _send,
    wait_until,
)
from .server import RedisServer


class RedisClusterSet:
    """``size`` cluster masters (no replicas) sharing the 16384 slots.

    Ready when every node says ``cluster_state:ok`` with all slots served and lists every node
    as connected, with no ``fail``/``pfail``/``handshake`` flag.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        node_timeout_ms: int = 2000,
        registry: Topologies | None = TOPOLOGIES,
    ) -> None:
        if size < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")
        self.dir = _make_topology_dir("cluster")
        self._registry = registry
        if registry is not None:
            registry.add(self)
        self.nodes = [
            RedisServer(
                self.dir / f"node{i}",
                name=f"node{i}",
                cluster=True,
                cluster_node_timeout_ms=node_timeout_ms,
            )
            for i in range(size)
        ]
        self._closed = False
        self.startup_seconds: float | None = None

    def __repr__(self) -> str:
        return f"<RedisClusterSet {len(self.nodes)} nodes dir={self.dir}>"

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.ports]

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3``."""
        return "redis+cluster://" + ",".join(f"{HOST}:{port}" for port in self.ports)

    @property
    def logs(self) -> list[Path]:
        return [node.logfile for node in self.nodes]

    def client(self, **overrides: Any) -> redis.cluster.RedisCluster:
        """A sync cluster client (``decode_responses=True`` unless overridden)."""
        nodes = [
            redis.cluster.ClusterNode(HOST, port)  # type: ignore[no-untyped-call]
            for port in self.ports
        ]
        return redis.cluster.RedisCluster(
            startup_nodes=nodes, **{"decode_responses": True, **overrides}
        )

    def async_client(self, **overrides: Any) -> redis.asyncio.cluster.RedisCluster:
        """An asyncio cluster client (``decode_responses=True`` unless overridden)."""
        nodes = [redis.asyncio.cluster.ClusterNode(HOST, port) for port in self.ports]
        return redis.asyncio.cluster.RedisCluster(
            startup_nodes=nodes, **{"decode_responses": True, **overrides}
        )

    def start(self) -> RedisClusterSet:
        if self._closed:
            raise TopologyError(f"{self!r} was stopped for good")
        started = time.monotonic()
        try:
            for node in self.nodes:
                node.start()
            command = [
                _install().cli, "--cluster", "create",
                *(f"{HOST}:{port}" for port in self.ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ]  # fmt: skip
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CLUSTER_TIMEOUT, check=False
            )
            if done.returncode != 0:
                tails = "\n".join(node.log_tail() for node in self.nodes)
                raise TopologyError(
                    f"{' '.join(command)} exited with {done.returncode}:\n"
                    f"{done.stdout}{done.stderr}\n{tails}"
                )
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def wait_ready(self, timeout: float = CLUSTER_TIMEOUT) -> None:
        """Wait until every node says ``cluster_state:ok``, serves all slots and sees every
        node connected and healthy."""
        clients = [_quiet_client(**node.client_kwargs()) for node in self.nodes]
        try:
            wait_until(
                lambda: all(self._node_ok(client) for client in clients),
                timeout=timeout,
                what=f"cluster {self.ports} to be ok on every node",
                logs=self.logs,
            )
        finally:
            for client in clients:
                client.close()

    def _node_ok(self, client: redis.Redis) -> bool:
        info = _parse_info(_send(client, "CLUSTER", "INFO"))
        if (
            info.get("cluster_state") != "ok"
            or info.get("cluster_slots_ok") != "16384"
            or info.get("cluster_known_nodes") != str(len(self.nodes))
        ):
            return False
        seen: set[int] = set()
        for line in _cluster_nodes_lines(client):
            # <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link-state> <slots>
            fields = line.split()
            flags = set(fields[2].split(","))
            if flags & {"fail", "fail?", "handshake", "noaddr"} or fields[7] != "connected":
                return False
            seen.add(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return seen == set(self.ports)

    def restart_node(self, index: int, *, kill: bool = False) -> RedisServer:
        """Stop node ``index`` (SIGTERM, or SIGKILL with ``kill=True``), start it again on the
        same port with the same ``nodes-PORT.conf`` (it rejoins as the same node, owning the
        same slots), and return once the whole cluster is ok again."""
        node = self.nodes[index]
        if kill:
            node.kill()
        else:
            node.stop()
        node.start()
        self.wait_ready()
        return node

    def owner_of(self, key: str | bytes) -> int:
        """The port of the master that owns ``key``'s slot (CLUSTER KEYSLOT + CLUSTER SLOTS)."""
        with _quiet_client(**self.nodes[0].client_kwargs()) as client:
            slot = int(_send(client, "CLUSTER", "KEYSLOT", key))
            for start, end, (_host, port, *_), *_replicas in _send(client, "CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(port)
        raise TopologyError(f"no node of {self!r} owns slot {slot}")

    def stop(self) -> None:
        """Stop every node (by PID) and remove the temp dir."""
        errors: list[BaseException] = []
        for node in self.nodes:
            try:
                node.stop()
            except Exception as exc:
                errors.append(exc)
        self._closed = True
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._registry is not None:
            self._registry.discard(self)
        if errors:
            raise errors[0]


def _parse_info(raw: Any) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in str(raw).splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _cluster_nodes_lines(client: redis.Redis) -> Iterator[str]:
    text = str(_send(client, "CLUSTER", "NODES"))
    yield from (line for line in text.splitlines() if line.strip())
