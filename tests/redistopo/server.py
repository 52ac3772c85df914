"""A standalone ``redis-server`` (TCP, unix socket, TLS, ACL, cluster node) and its TLS files.

Contract
--------
- :class:`RedisServer` runs with ``--save '' --appendonly no`` on a port found free (a TLS
  server listens on that port with TLS only). Standalone it owns a temp dir and registers in
  :data:`._process.TOPOLOGIES` before it starts a process; its ``stop()`` is idempotent and
  final: the process is gone and the dir is removed. Inside a topology (``workdir`` given) the
  topology owns dir and registration. ``restart()`` / ``kill()`` + ``start()`` keep the port,
  the dir and the arguments.
- :func:`make_tls_files` writes a throwaway CA and a server certificate for 127.0.0.1.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
import redis.asyncio

from ._daemon import _Daemon
from ._process import (
    HOST,
    TOPOLOGIES,
    Topologies,
    TopologyError,
    _install,
    _make_topology_dir,
    _quiet_client,
    free_port,
)

# ---------------------------------------------------------------------------------------------
# TLS


@dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def make_tls_files(directory: Path | str) -> TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 (CN and ``subjectAltName
    IP:127.0.0.1``), valid for 2 days, in ``directory``. EC P-256 keys: ~50 ms in all, where RSA
    key generation alone can take a second."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TopologyError("openssl not found on PATH")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(out / "ca.crt", out / "ca.key", out / "server.crt", out / "server.key")
    ext = out / "server.ext"
    ext.write_text(_SERVER_EXTENSIONS)
    csr = out / "server.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        # The CA carries the extensions strict verifiers (Python 3.13+ VERIFY_X509_STRICT) want.
        [openssl, "req", "-x509", *ec, "-keyout", str(files.ca_key), "-out", str(files.ca_cert),
         "-days", "2", "-subj", "/CN=redistopo test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=hash"],
        [openssl, "req", "-new", *ec, "-keyout", str(files.server_key), "-out", str(csr),
         "-subj", f"/CN={HOST}"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(files.ca_cert),
         "-CAkey", str(files.ca_key), "-set_serial", str(secrets.randbits(63)),
         "-days", "2", "-out", str(files.server_cert), "-extfile", str(ext)],
    ]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise TopologyError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    csr.unlink()
    ext.unlink()
    return files


# ---------------------------------------------------------------------------------------------
# redis-server


class RedisServer(_Daemon):
    """One ``redis-server``.

    Standalone (``workdir=None``) it owns a temp dir, registers in ``registry`` and
    :meth:`stop` removes the dir (final). Inside a topology (``workdir`` given) the topology owns
    dir and registration, and ``stop()`` then ``start()`` works.

    ``tls=True`` makes a CA and a server certificate in ``DIR/tls`` (:func:`make_tls_files`);
    a :class:`TLSFiles` uses those files. ``acl_user=(name, password)`` adds that user with every
    right and turns the ``default`` user off. ``cluster=True`` runs it as a cluster node (state in
    ``DIR/nodes-PORT.conf``, bus on a second free port).
    """

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        name: str = "redis",
        port: int | None = None,
        unix_socket: bool = False,
        tls: TLSFiles | bool = False,
        acl_user: tuple[str, str] | None = None,
        debug: bool = False,
        cluster: bool = False,
        cluster_node_timeout_ms: int = 2000,
        registry: Topologies | None = TOPOLOGIES,
    ) -> None:
        self._owns_dir = workdir is None
        directory = _make_topology_dir(name) if workdir is None else Path(workdir)
        super().__init__(directory, name, port)
        self._registry = registry if self._owns_dir else None
        if self._registry is not None:
            self._registry.add(self)
        self._closed = False
        self._extra_args: list[str] = []
        self.unix_socket = unix_socket
        self.acl_user = acl_user
        self.debug = debug
        self.cluster = cluster
        self.cluster_node_timeout_ms = cluster_node_timeout_ms
        self._bus_port: int | None = None
        self.tls: TLSFiles | None
        try:
            self.tls = make_tls_files(directory / "tls") if tls is True else (tls or None)
        except BaseException:
            self.stop()
            raise

    # -- addresses

    @property
    def unix_path(self) -> Path:
        if not self.unix_socket:
            raise TopologyError(f"{self!r} has no unix socket (unix_socket=True)")
        return self.dir / "redis.sock"

    def _userinfo(self) -> str:
        if self.acl_user is None:
            return ""
        user, password = self.acl_user
        return f"{quote(user, safe='')}:{quote(password, safe='')}@"

    @property
    def url(self) -> str:
        """``redis://[user:password@]127.0.0.1:PORT/0``, ``rediss://`` with TLS (clients also
        need :attr:`ssl_ca_certs`)."""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{self._userinfo()}{HOST}:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """``unix://[user:password@]/DIR/NAME.sock?db=0``."""
        return f"unix://{self._userinfo()}{self.unix_path}?db=0"

    @property
    def ssl_ca_certs(self) -> str | None:
        """The CA file that verifies this server's certificate (``None`` without TLS)."""
        return str(self.tls.ca_cert) if self.tls else None

    @property
    def cluster_bus_port(self) -> int:
        if self._bus_port is None:
            raise TopologyError(f"{self!r} is not a started cluster node")
        return self._bus_port

    @property
    def nodes_conf(self) -> Path:
        return self.dir / f"nodes-{self.port}.conf"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis`` / ``redis.asyncio.Redis`` over TCP."""
        kwargs: dict[str, Any] = {"host": HOST, "port": self.port}
        if self.tls:
            kwargs.update(ssl=True, ssl_ca_certs=str(self.tls.ca_cert))
        if self.acl_user:
            kwargs.update(username=self.acl_user[0], password=self.acl_user[1])
        return kwargs

    def client(self, **overrides: Any) -> redis.Redis:
        """A sync client for inspecting the server (``decode_responses=True`` unless
        overridden). The caller closes it."""
        return redis.Redis(**{"decode_responses": True, **self.client_kwargs(), **overrides})

    def async_client(self, **overrides: Any) -> redis.asyncio.Redis:
        """An asyncio client (``decode_responses=True`` unless overridden)."""
        return redis.asyncio.Redis(
            **{"decode_responses": True, **self.client_kwargs(), **overrides}
        )

    def role(self) -> str:
        """``master`` or ``slave``, from INFO replication."""
        with _quiet_client(**self.client_kwargs()) as client:
            return str(client.info("replication")["role"])

    # -- lifecycle

    def _allocate_ports(self) -> None:
        self._port = free_port()
        if self.cluster:
            # --cluster-port (7.0+) instead of the implicit PORT+10000, which may be taken
            # or out of range: both ports come from bind(0).
            self._bus_port = free_port()

    def _command(self) -> list[str]:
        install = _install()
        args = [
            install.server,
            "--bind", HOST,
            "--daemonize", "yes",
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        if self.tls:
            args += [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.server_cert),
                "--tls-key-file", str(self.tls.server_key),
                "--tls-ca-cert-file", str(self.tls.ca_cert),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            args += ["--port", str(self.port)]
        if self.unix_socket:
            args += ["--unixsocket", str(self.unix_path), "--unixsocketperm", "700"]
        if self.acl_user:
            user, password = self.acl_user
            args += ["--user", user, "on", f">{password}", "~*", "&*", "+@all"]
            args += ["--user", "default", "off"]
        if self.debug:
            args += ["--enable-debug-command", "local"]
        if self.cluster:
            args += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.nodes_conf),
                "--cluster-node-timeout", str(self.cluster_node_timeout_ms),
                "--cluster-port", str(self.cluster_bus_port),
            ]  # fmt: skip
        return args + self._extra_args

    def _ready(self) -> bool:
        with _quiet_client(**self.client_kwargs()) as client:
            return bool(client.ping())

    def start(self, extra_args: Sequence[str] | None = None) -> RedisServer:
        """Launch on this server's port (a free one the first time) and return once PING
        answers. ``extra_args`` are appended to the command line and kept for later starts;
        ``None`` reuses the previous ones."""
        if self._closed:
            raise TopologyError(f"{self!r} was stopped for good (its temp dir is gone)")
        if extra_args is not None:
            self._extra_args = list(extra_args)
        self._start_process()
        return self

    def restart(self) -> RedisServer:
        """SIGTERM, wait until gone, start again on the same port with the same arguments."""
        self._terminate()
        return self.start()

    def stop(self) -> None:
        """SIGTERM (SIGKILL after a bound) and wait until the process is gone. A standalone
        server also removes its temp dir and cannot start again."""
        self._terminate()
        if self._owns_dir:
            self._closed = True
            shutil.rmtree(self.dir, ignore_errors=True)
            if self._registry is not None:
                self._registry.discard(self)
