"""Sentinel: a master, one replica and one sentinel monitoring them.

Contract
--------
- :class:`SentinelSet` owns a temp dir and registers in :data:`._process.TOPOLOGIES` before it
  starts a process. :meth:`SentinelSet.start` returns once the sentinel names the master and
  sees the replica in sync (bounded by :data:`._process.SENTINEL_TIMEOUT`), or stops what it
  started and raises :class:`._process.TopologyError` quoting the logs.
- ``stop()`` is idempotent and final: sentinel, replica and master are gone (stopped by PID, the
  sentinel first) and the dir is removed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import redis

from ._daemon import _Daemon
from ._process import (
    HOST,
    SENTINEL_TIMEOUT,
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


class RedisSentinel(_Daemon):
    """One ``redis-server sentinel.conf --sentinel`` monitoring one master.

    The config is written before the first start only: Sentinel rewrites it as it learns
    (replicas, failovers), and a restarted sentinel should resume from that, as in production.
    """

    kind = "redis-sentinel"

    def __init__(
        self,
        workdir: Path,
        *,
        service_name: str,
        master_port: int,
        name: str = "sentinel",
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        super().__init__(workdir, name, None)
        self.service_name = service_name
        self.master_port = master_port
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    @property
    def config_file(self) -> Path:
        return self.dir / f"{self.name}.conf"

    def _prepare(self) -> None:
        if self._port_fixed and self.config_file.exists():
            return
        svc = self.service_name
        self.config_file.write_text(
            f"port {self.port}\n"
            f"bind {HOST}\n"
            "daemonize yes\n"
            f"pidfile {self.pidfile}\n"
            f"logfile {self.logfile}\n"
            f"dir {self.dir}\n"
            f"sentinel monitor {svc} {HOST} {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {svc} {self.down_after_ms}\n"
            f"sentinel failover-timeout {svc} {self.failover_timeout_ms}\n"
        )

    def _command(self) -> list[str]:
        return [_install().server, str(self.config_file), "--sentinel"]

    def _ready(self) -> bool:
        with _quiet_client(host=HOST, port=self.port) as client:
            return bool(client.ping())

    def client(self, **overrides: Any) -> redis.Redis:
        """A sync client to the sentinel itself (for ``SENTINEL ...`` commands)."""
        return redis.Redis(**{"decode_responses": True, "host": HOST, "port": self.port,
                              **overrides})  # fmt: skip

    def start(self) -> RedisSentinel:
        self._start_process()
        return self

    def stop(self) -> None:
        self._terminate()


class SentinelSet:
    """A master, one replica and one sentinel (quorum 1, down-after 1 s, failover-timeout 5 s).

    :meth:`start` returns once the sentinel names the master and lists the replica as an
    in-sync ``slave``: a failover is possible from then on. After :meth:`wait_failover`,
    :attr:`master` is the promoted server and :attr:`replica` the old master (stopped if it was
    killed; starting it again makes the sentinel turn it into a replica).
    """

    def __init__(
        self,
        service_name: str = "mymaster",
        *,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        registry: Topologies | None = TOPOLOGIES,
    ) -> None:
        self.service_name = service_name
        self.dir = _make_topology_dir("sentinel")
        self._registry = registry
        if registry is not None:
            registry.add(self)
        self.master = RedisServer(self.dir / "master", name="master")
        self.replica = RedisServer(self.dir / "replica", name="replica")
        self.sentinel: RedisSentinel | None = None
        self._down_after_ms = down_after_ms
        self._failover_timeout_ms = failover_timeout_ms
        self._closed = False
        self.startup_seconds: float | None = None

    def __repr__(self) -> str:
        return f"<SentinelSet {self.service_name} dir={self.dir}>"

    @property
    def servers(self) -> tuple[RedisServer, RedisServer]:
        return (self.master, self.replica)

    @property
    def sentinel_port(self) -> int:
        if self.sentinel is None:
            raise TopologyError(f"{self!r} is not started")
        return self.sentinel.port

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``[(host, port)]`` for ``redis.asyncio.sentinel.Sentinel``."""
        return [(HOST, self.sentinel_port)]

    @property
    def url(self) -> str:
        """``redis+sentinel://127.0.0.1:SENTINELPORT/0/NAME`` (python-socketio's format)."""
        return f"redis+sentinel://{HOST}:{self.sentinel_port}/0/{self.service_name}"

    @property
    def logs(self) -> list[Path]:
        daemons: list[_Daemon] = [*self.servers, *([self.sentinel] if self.sentinel else [])]
        return [d.logfile for d in daemons]

    def start(self) -> SentinelSet:
        if self._closed:
            raise TopologyError(f"{self!r} was stopped for good")
        started = time.monotonic()
        try:
            self.master.start(["--repl-diskless-sync-delay", "0"])
            self.replica.start(
                ["--replicaof", HOST, str(self.master.port), "--repl-diskless-sync-delay", "0"]
            )
            # The sentinel learns replicas from the master's INFO, which it asks on connect and
            # then every 10 s: start it once the replica is attached, or it may not know the
            # replica for 10 s.
            wait_until(
                self._replica_in_sync,
                timeout=SENTINEL_TIMEOUT,
                what=f"replica {self.replica.port} to sync with master {self.master.port}",
                logs=self.logs,
            )
            self.sentinel = RedisSentinel(
                self.dir / "sentinel",
                service_name=self.service_name,
                master_port=self.master.port,
                down_after_ms=self._down_after_ms,
                failover_timeout_ms=self._failover_timeout_ms,
            )
            self.sentinel.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _replica_in_sync(self) -> bool:
        with _quiet_client(**self.replica.client_kwargs()) as client:
            info = client.info("replication")
        return bool(info.get("master_link_status") == "up")

    def wait_ready(self, timeout: float = SENTINEL_TIMEOUT) -> None:
        """Wait until the sentinel names :attr:`master` and lists :attr:`replica` as an in-sync
        replica that is not down (what it needs to promote it)."""
        wait_until(
            self._sentinel_ready,
            timeout=timeout,
            what=f"sentinel {self.sentinel_port} to see master {self.master.port} "
            f"and replica {self.replica.port}",
            logs=self.logs,
        )

    def _sentinel_ready(self) -> bool:
        assert self.sentinel is not None
        with _quiet_client(host=HOST, port=self.sentinel.port) as client:
            addr = _send(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name)
            if not addr or int(addr[1]) != self.master.port:
                return False
            replicas = _send(client, "SENTINEL", "REPLICAS", self.service_name)
        for flat in replicas:
            # RESP2: each replica is a flat [field, value, field, value, ...] list.
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            if (
                int(fields["port"]) == self.replica.port
                and fields.get("flags") == "slave"  # not s_down, not disconnected
                and fields.get("master-link-status") == "ok"
            ):
                return True
        return False

    def current_master(self) -> tuple[str, int]:
        """The master's address, as the sentinel reports it now."""
        with _quiet_client(host=HOST, port=self.sentinel_port) as client:
            addr = _send(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name)
        if not addr:
            raise TopologyError(f"sentinel {self.sentinel_port} knows no {self.service_name!r}")
        return (str(addr[0]), int(addr[1]))

    def server_on(self, port: int) -> RedisServer:
        for server in self.servers:
            if server.port == port:
                return server
        raise TopologyError(f"{self!r} has no server on port {port}")

    def kill_master(self) -> int:
        """SIGKILL the current master (the sentinel's view) by PID; return its port."""
        port = self.current_master()[1]
        self.server_on(port).kill()
        return port

    def master_state(self) -> dict[str, str]:
        """``SENTINEL MASTER NAME`` as a dict (``ip``, ``port``, ``flags``, ...)."""
        with _quiet_client(host=HOST, port=self.sentinel_port) as client:
            flat = _send(client, "SENTINEL", "MASTER", self.service_name)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def wait_failover(self, old_port: int, timeout: float = 10.0) -> tuple[str, int]:
        """Return the new master's address once the sentinel reports a master other than
        ``old_port`` and that server says ``role:master``. Swaps :attr:`master` and
        :attr:`replica` accordingly.

        "Reports" means both answers a client may ask for: GET-MASTER-ADDR-BY-NAME names the
        promoted replica while the failover is still in progress, but ``SENTINEL MASTERS``
        (what redis-py's ``Sentinel.discover_master`` reads) keeps the old, ``s_down`` master
        until the switch, ~0.1 s later; until then redis-py raises MasterNotFoundError.
        """

        def promoted() -> tuple[str, int] | None:
            host, port = self.current_master()
            if port == old_port:
                return None
            state = self.master_state()
            flags = set(state["flags"].split(","))
            if int(state["port"]) != port or flags & {"s_down", "o_down", "failover_in_progress"}:
                return None
            if self.server_on(port).role() != "master":
                return None
            return (host, port)

        address = wait_until(
            promoted,
            timeout=timeout,
            what=f"sentinel {self.sentinel_port} to fail over from {old_port}",
            logs=self.logs,
        )
        if self.master.port != address[1]:
            self.master, self.replica = self.replica, self.master
        return address

    def stop(self) -> None:
        """Stop the sentinel first (so it does not fail over while the rest stops), then the
        replica, then the master; remove the temp dir."""
        errors: list[BaseException] = []
        for daemon in (self.sentinel, self.replica, self.master):
            if daemon is None:
                continue
            try:
                daemon.stop()
            except Exception as exc:
                errors.append(exc)
        self._closed = True
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._registry is not None:
            self._registry.discard(self)
        if errors:
            raise errors[0]
