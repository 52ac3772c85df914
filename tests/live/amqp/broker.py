"""The RabbitMQ broker of the live AMQP suites, and private virtual hosts for fault tests.

Contract
--------
- The broker is the machine's, on ``127.0.0.1:5672`` with RabbitMQ's default ``guest`` user
  (``SIOADAPTER_AMQP_URL`` names another). :func:`require_broker` skips (fails under ``CI``)
  when aio-pika is missing or nothing answers there, saying what to install.
- :func:`unique_key` makes a key no other test uses and remembers it in :data:`MADE_KEYS`;
  :func:`delete_exchanges` deletes exchanges by name (the conftest does, after each test).
- :func:`require_aio_pika_module` skips a test module without aio-pika (fails under ``CI``).
- :class:`PrivateVhost` makes a virtual host of its own with ``rabbitmqctl`` (``guest`` gets
  every permission on it) and deletes it in ``delete()``: a fault test closes the connections
  of its vhost only (``rabbitmqctl close_all_connections -p VHOST``), never another test's
  or another user's of the shared broker. Deleting a vhost deletes what is in it.
- :class:`PrivateBroker` runs a RabbitMQ node of its own (``rabbitmq-server`` from
  ``/usr/lib/rabbitmq/bin``, as root, a node name, AMQP and distribution ports and a data
  directory of its own, no plugins, the default ``guest`` user) for the tests that restart the
  broker: the machine's broker is shared. It registers in ``redistopo._process.TOPOLOGIES``
  before it starts; ``kill()`` SIGKILLs the broker's own PID (read from its PID file) and
  ``start()`` brings it back on the same port with the same data; ``stop()`` ends it and
  removes its directory. With ``tls=True`` it also listens for ``amqps://`` on ``tls_port``,
  with a certificate for 127.0.0.1 from a throwaway CA (``ca_cert``).
  :func:`require_private_broker` skips (fails under ``CI``) where no such node can be
  started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from redistopo._process import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    TOPOLOGIES,
    _ci,
    _unavailable,
    free_port,
    wait_until,
)
from redistopo.server import make_tls_files

HOST, PORT = "127.0.0.1", 5672
URL = os.environ.get("SIOADAPTER_AMQP_URL", f"amqp://guest:guest@{HOST}:{PORT}/")
AIO_PIKA_HINT = "aio-pika is not installed: pip install 'sioadapter[amqp]'"
BROKER_HINT = (
    f"no RabbitMQ broker answers on {HOST}:{PORT}: install and start one "
    "(Debian: apt-get install rabbitmq-server) to run the live AMQP suites"
)
CTL_HINT = "rabbitmqctl not found on PATH (Debian: apt-get install rabbitmq-server)"


MADE_KEYS: list[str] = []
"""The keys :func:`unique_key` made during the test running now."""


def unique_key(label: str) -> str:
    """``label`` and a random part: a cluster key, and so an exchange, of this test only."""
    key = f"{label}-{uuid.uuid4().hex[:10]}"
    MADE_KEYS.append(key)
    return key


def delete_exchanges(url: str, names: list[str]) -> None:
    """Delete the exchanges ``names`` on the broker at ``url`` (missing ones are no error).
    Runs its own event loop in a thread: callers may be inside a running loop or not."""
    import asyncio
    import threading

    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect(url, timeout=5.0)
        try:
            channel = await connection.channel()
            for name in names:
                await channel.exchange_delete(name)  # RabbitMQ: deleting a missing one is ok
        finally:
            await connection.close()

    thread = threading.Thread(target=lambda: asyncio.run(delete()))
    thread.start()
    thread.join(30.0)


def exchange_names(vhost: str = "/") -> set[str]:
    """The names of the exchanges on ``vhost`` now."""
    return set(rabbitmqctl("list_exchanges", "-q", "-p", vhost, "name").split())


def require_aio_pika_module() -> None:
    """At a test module's top: skip the module without aio-pika (fail under ``CI``)."""
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        if _ci():
            pytest.fail(f"aio-pika is required under CI: {AIO_PIKA_HINT}", pytrace=False)
        pytest.skip(AIO_PIKA_HINT, allow_module_level=True)


def require_broker() -> str:
    """The broker's URL; skips (fails under ``CI``) without aio-pika or a broker."""
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        _unavailable("aio-pika", AIO_PIKA_HINT)
    try:
        with socket.create_connection((HOST, PORT), timeout=2.0):
            pass
    except OSError:
        _unavailable("rabbitmq-server", BROKER_HINT)
    return URL


def rabbitmqctl(*args: str, timeout: float = 30.0) -> str:
    """Run ``rabbitmqctl`` with ``args``; its output (AssertionError when it fails)."""
    found = shutil.which("rabbitmqctl")
    if found is None:
        _unavailable("rabbitmqctl", CTL_HINT)
    done = subprocess.run(
        [found, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


class PrivateVhost:
    """A virtual host for one test (see the module docstring)."""

    def __init__(self, label: str) -> None:
        self.name = f"sioadapter-test-{label}-{uuid.uuid4().hex[:8]}"
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        self.url = f"amqp://guest:guest@{HOST}:{PORT}/{quote(self.name, safe='')}"

    def close_connections(self, reason: str = "test") -> None:
        """Close every client connection of this vhost, as an operator would."""
        rabbitmqctl("close_all_connections", "-p", self.name, reason)

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name)


BOOT_TIMEOUT = max(START_TIMEOUT, 60.0)
"""Seconds a private RabbitMQ node may take to boot: about 4 here when idle, far more while
other suites load the machine."""

SERVER_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
"""The broker's own start script (``/usr/sbin/rabbitmq-server`` switches to the rabbitmq user
and its node; this one runs as the caller with the environment given)."""


def require_private_broker() -> Path:
    """The script that starts a private RabbitMQ node; skips (fails under ``CI``) without it
    or when not root (the script writes where root may)."""
    if not SERVER_SCRIPT.exists():
        _unavailable("rabbitmq-server", f"{SERVER_SCRIPT} not found: {CTL_HINT}")
    if os.geteuid() != 0:
        _unavailable("rabbitmq-server", "a private RabbitMQ node is started as root only")
    return SERVER_SCRIPT


class PrivateBroker:
    """A RabbitMQ node of this test's own (see the module docstring)."""

    def __init__(self, label: str, *, tls: bool = False) -> None:
        self.script = require_private_broker()
        self.port = free_port()
        self.dist_port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sioadapter-rabbit-{label}-"))
        self.node = f"sio{label}{uuid.uuid4().hex[:6]}@localhost"
        (self.workdir / "plugins").write_text("[].\n")
        self.url = f"amqp://guest:guest@{HOST}:{self.port}/"
        self.tls_port: int | None = None
        self.ca_cert: Path | None = None
        if tls:  # an amqps:// listener too, with a throwaway CA's certificate for 127.0.0.1
            files = make_tls_files(self.workdir / "tls")
            self.tls_port, self.ca_cert = free_port(), files.ca_cert
            (self.workdir / "rabbitmq.conf").write_text(
                f"listeners.ssl.default = {HOST}:{self.tls_port}\n"
                f"ssl_options.cacertfile = {files.ca_cert}\n"
                f"ssl_options.certfile = {files.server_cert}\n"
                f"ssl_options.keyfile = {files.server_key}\n"
                "ssl_options.verify = verify_none\n"
                "ssl_options.fail_if_no_peer_cert = false\n"
            )
        self._process: subprocess.Popen[bytes] | None = None

    def _environment(self) -> dict[str, str]:
        d = self.workdir
        return {**os.environ, "HOME": str(d),  # its own Erlang cookie
                "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": HOST,
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "plugins"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),  # rabbitmq.conf, if written
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(d / "pid")}  # fmt: skip

    def start(self) -> PrivateBroker:
        TOPOLOGIES.add(self)
        (self.workdir / "pid").unlink(missing_ok=True)
        with (self.workdir / "out.log").open("ab") as out:
            self._process = subprocess.Popen(
                [str(self.script)], env=self._environment(), cwd=self.workdir,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self._listening, timeout=BOOT_TIMEOUT, what=f"RabbitMQ node {self.node}",
                   logs=[self.workdir / "out.log"])  # fmt: skip
        return self

    def _listening(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"RabbitMQ node {self.node} exited: see {self.workdir}/out.log")
        try:
            for port in (self.port, self.tls_port):
                if port is not None:
                    with socket.create_connection((HOST, port), timeout=0.5):
                        pass
        except OSError:
            return False
        return (self.workdir / "pid").exists()

    def _beam_pid(self) -> int | None:
        try:
            return int((self.workdir / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _end(self, sig: signal.Signals) -> None:
        pid = self._beam_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if self._process is not None:
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT)
            self._process = None
        if pid is not None:  # the broker itself, if the script went first
            wait_until(lambda: not _alive(pid), timeout=STOP_TIMEOUT, what=f"PID {pid} to end")

    def kill(self) -> None:
        """SIGKILL the broker (a crash); ``start()`` brings it back with the same data."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)
        TOPOLOGIES.discard(self)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
