"""Private ``nats-server`` processes for the live NATS suites: one server, or a cluster.

Contract
--------
- :class:`NatsServer` runs ``nats-server`` on a loopback client port found free
  (``redistopo._process.free_port``), with a monitoring port for readiness, optionally with a
  user and password or a token, optionally as a member of a cluster (routes on loopback ports). It
  registers in ``redistopo._process.TOPOLOGIES`` before it starts, so nothing outlives the
  session; ``stop()`` signals its own PID (SIGTERM, then SIGKILL) and is idempotent; ``kill()``
  then ``start()`` bring it back on the same ports.
- :class:`NatsCluster` is three such servers routed to each other; ``start()`` returns once
  every one of them reports its two routes.
- :func:`require_nats_server` skips (fails under ``CI``) when ``nats-server`` is missing;
  :func:`require_nats_py_module` does the same for a test module when nats-py is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from redistopo._process import (
    HOST,
    START_TIMEOUT,
    STOP_TIMEOUT,
    TOPOLOGIES,
    _ci,
    _unavailable,
    free_port,
    wait_until,
)

INSTALL_HINT = (
    "install nats-server 2.9+ (Debian: apt-get install nats-server) to run the live NATS suites"
)


NATS_PY_HINT = "nats-py is not installed: pip install 'sioadapter[nats]'"


def require_nats_py_module() -> None:
    """At a test module's top: skip the module without nats-py (fail under ``CI``)."""
    try:
        import nats  # noqa: F401
    except ImportError:
        if _ci():
            pytest.fail(f"nats-py is required under CI: {NATS_PY_HINT}", pytrace=False)
        pytest.skip(NATS_PY_HINT, allow_module_level=True)


def require_nats_server() -> str:
    """The ``nats-server`` binary; else skip (fail when ``CI`` is set)."""
    found = shutil.which("nats-server")
    if found is None:
        _unavailable("nats-server", f"nats-server not found on PATH: {INSTALL_HINT}")
    return found


def _monitor(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://{HOST}:{port}/{path}", timeout=1.0) as answer:
        return json.loads(answer.read())


class NatsServer:
    """One ``nats-server`` process. ``url`` is ``nats://[user:password@]127.0.0.1:PORT``."""

    def __init__(
        self,
        name: str,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        cluster_port: int | None = None,
        routes: list[int] = (),  # type: ignore[assignment]
    ) -> None:
        self.name = name
        self.port = free_port()
        self.monitor_port = free_port()
        self.user, self.password, self.token = user, password, token
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"natsservers-{name}-"))
        self.log = self.workdir / "nats-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = (
            f"{self.user}:{self.password}@" if self.user else f"{self.token}@" if self.token else ""
        )
        return f"nats://{auth}{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _command(self) -> list[str]:
        command = [require_nats_server(), "-a", HOST, "-p", str(self.port),
                   "-m", str(self.monitor_port), "-n", self.name, "-l", str(self.log)]  # fmt: skip
        if self.user:
            command += ["--user", self.user, "--pass", str(self.password)]
        if self.token:
            command += ["--auth", self.token]
        if self.cluster_port is not None:
            command += ["--cluster_name", "sioadapter-test",
                        "--cluster", f"nats://{HOST}:{self.cluster_port}"]  # fmt: skip
            if self.routes:
                command += ["--routes", ",".join(f"nats://{HOST}:{p}" for p in self.routes)]
        return command

    def start(self) -> NatsServer:
        TOPOLOGIES.add(self)
        self._process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_until(self._healthy, timeout=START_TIMEOUT, what=f"nats-server {self.name}",
                   logs=[self.log])  # fmt: skip
        return self

    def _healthy(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"nats-server {self.name} exited: see {self.log}")
        return bool(_monitor(self.monitor_port, "healthz").get("status") == "ok")

    def routes_up(self) -> int:
        """How many routes to other cluster members this server has now."""
        return int(_monitor(self.monitor_port, "routez").get("num_routes", 0))

    def kill(self) -> None:
        """SIGKILL this server's process (the ports stay reserved for ``start()``)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(STOP_TIMEOUT)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT)
            self._process = None
        TOPOLOGIES.discard(self)
        shutil.rmtree(self.workdir, ignore_errors=True)


class NatsCluster:
    """Three ``nats-server`` processes routed to each other on loopback ports."""

    def __init__(self, name: str = "cluster", size: int = 3) -> None:
        ports = [free_port() for _ in range(size)]
        self.servers = [
            NatsServer(f"{name}-{i}", cluster_port=port, routes=[p for p in ports if p != port])
            for i, port in enumerate(ports)
        ]

    def start(self) -> NatsCluster:
        for server in self.servers:
            server.start()
        expected = len(self.servers) - 1
        for server in self.servers:
            wait_until(lambda s=server: s.routes_up() >= expected, timeout=START_TIMEOUT,
                       what=f"the routes of {server.name}", logs=[server.log])  # fmt: skip
        return self

    def url(self, first: int = 0) -> str:
        """All servers, the ``first``-th first (nats-py randomizes unless told not to)."""
        order = self.servers[first:] + self.servers[:first]
        return "nats://" + ",".join(f"{HOST}:{s.port}" for s in order)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
