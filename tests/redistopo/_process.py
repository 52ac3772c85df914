"""Shared machinery of the topologies: install checks, ports, PIDs, bounded waits, the registry.

Contract
--------
- :func:`free_port` hands out a loopback port found free by binding port 0, never the same one
  twice in this process; nothing here ever picks a port it did not get that way.
- :func:`pid_alive` counts a zombie as dead; :func:`_is_redis_process` tells whether a PID is
  still a ``redis-server`` (the only processes the topologies signal).
- Every wait is :func:`wait_until`: a bounded poll (interval :data:`POLL_INTERVAL`) of a real
  readiness condition that raises :class:`TopologyError` quoting the tail of the logs involved
  when it times out. The ``*_TIMEOUT`` constants are the bounds the topology modules use.
- :data:`TOPOLOGIES` is the registry every top-level topology joins before it starts a process;
  an atexit hook (registered on import, effective only in the importing process) stops whatever
  is left.
- :func:`require_redis_server` / :func:`require_openssl` turn a missing or too old
  ``redis-server`` / ``openssl`` into a skip (or a failure when the ``CI`` environment variable
  is set); :func:`_install` raises :class:`TopologyError` instead, for code that launches.
- :func:`_quiet_client` / :func:`_send` are the fail-fast RESP2 client and raw command sender
  every readiness poll and inspection uses.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
MIN_VERSION = (7, 0)
"""Sharded pub/sub (SSUBSCRIBE/SPUBLISH), ``&`` channel ACLs and ``--cluster-port`` are 7.0."""

POLL_INTERVAL = 0.02
"""Seconds between two readiness checks (the brief's bound is 50 ms)."""
START_TIMEOUT = 10.0
"""Bound on one process answering PING after launch (it takes ~20 ms here)."""
STOP_TIMEOUT = 5.0
"""Bound on a process exiting after SIGTERM before it gets SIGKILL (and after SIGKILL)."""
CLUSTER_TIMEOUT = 20.0
"""Bound on a cluster becoming ok: ~2.1 s here, Redis holds a fresh master FAIL for 2 s."""
SENTINEL_TIMEOUT = 15.0
"""Bound on the sentinel learning master and replica (~0.3 s here)."""
PORT_ATTEMPTS = 3
"""A port found free can be taken before redis binds it: pick another this many times."""
LOG_TAIL_LINES = 25

INSTALL_HINT = (
    "install redis-server 7+ (Debian: apt-get install redis-server) to run the live Redis suites"
)

T = TypeVar("T")


class TopologyError(RuntimeError):
    """A process did not start, stop or become ready in time; the message quotes its log."""


class _PortTaken(TopologyError):
    """The port picked as free was taken before redis-server could bind it."""


# ---------------------------------------------------------------------------------------------
# Availability


@dataclass(frozen=True)
class RedisInstall:
    server: str
    cli: str
    version: tuple[int, int, int]


def _ci() -> bool:
    # CI=true/1/yes (GitHub, GitLab, ...) means a missing server is an error, not a skip; an
    # explicit CI=false/0 does not.
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(tool: str, problem: str) -> NoReturn:
    if _ci():
        pytest.fail(f"{tool} is required under CI: {problem}", pytrace=False)
    pytest.skip(problem)


def find_redis_install(path: str | None = None) -> RedisInstall | str:
    """The ``redis-server`` / ``redis-cli`` found on ``path`` (default: ``$PATH``), or a sentence
    saying what is missing and what to install."""
    server = shutil.which("redis-server", path=path)
    cli = shutil.which("redis-cli", path=path)
    if server is None or cli is None:
        missing = "redis-server" if server is None else "redis-cli"
        return f"{missing} not found on PATH: {INSTALL_HINT}"
    out = subprocess.run(
        [server, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if found is None:
        return f"cannot read the version of {server} ({out.strip()!r}): {INSTALL_HINT}"
    version = (int(found[1]), int(found[2]), int(found[3]))
    if version[:2] < MIN_VERSION:
        shown = ".".join(map(str, version))
        return f"{server} is {shown}, sharded pub/sub and cluster tests need 7.0+: {INSTALL_HINT}"
    return RedisInstall(server, cli, version)


@functools.cache
def _cached_install(path: str | None) -> RedisInstall | str:
    return find_redis_install(path)


def _install() -> RedisInstall:
    found = _cached_install(os.environ.get("PATH"))
    if isinstance(found, str):
        raise TopologyError(found)
    return found


def require_redis_server() -> RedisInstall:
    """The local Redis 7+ install; else ``pytest.skip`` (``pytest.fail`` when ``CI`` is set)."""
    found = _cached_install(os.environ.get("PATH"))
    if isinstance(found, str):
        _unavailable("redis-server", found)
    return found


def require_openssl() -> str:
    """The ``openssl`` binary (for :func:`make_tls_files`); else skip, or fail under ``CI``."""
    found = shutil.which("openssl")
    if found is None:
        _unavailable(
            "openssl",
            "openssl not found on PATH: install openssl (Debian: apt-get install openssl) "
            "to run the TLS Redis suites",
        )
    return found


# ---------------------------------------------------------------------------------------------
# Ports, processes, polling

_issued_ports: set[int] = set()
_issued_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on now, never one this process handed out before.

    The kernel may hand the same port to two ``bind(0)`` calls when nothing listens in between;
    remembering what was issued keeps the nodes of one topology apart.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        with _issued_lock:
            if port not in _issued_ports:
                _issued_ports.add(port)
                return port


def _proc_state(pid: int) -> str | None:
    """The state letter of ``/proc/PID/stat`` (``None``: no such process, ``""``: no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if Path("/proc/self").exists() else ""
    except OSError:
        return ""
    # comm may hold spaces and parentheses: the state is the first field after the last ")".
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process. A zombie counts as dead: a daemonized redis-server is
    reparented to whatever PID 1 is, which may be slow (or fail) to reap it."""
    state = _proc_state(pid)
    if state is None:
        return False
    if state:
        return state not in ("Z", "X", "x")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_redis_process(pid: int) -> bool:
    # Guards against signalling a recycled PID: ours are all redis-server binaries.
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return not Path("/proc/self").exists() and pid_alive(pid)
    except OSError:
        return pid_alive(pid)
    return comm.startswith("redis")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"--- {path}: unreadable ({exc})"
    return f"--- last lines of {path}:\n" + "\n".join(text.splitlines()[-lines:])


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    logs: Sequence[Path] = (),
) -> T:
    """Poll ``check`` every :data:`POLL_INTERVAL` until it returns something truthy, for at most
    ``timeout`` seconds. Redis and socket errors count as "not yet"; a :class:`TopologyError`
    from ``check`` stops the wait at once. On timeout, raise :class:`TopologyError` quoting the
    last error and the tails of ``logs``."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
        except (redis.RedisError, OSError) as exc:
            result, last_error = None, exc
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            tails = "".join(f"\n{_tail(log)}" for log in logs)
            raise TopologyError(
                f"timed out after {timeout:.1f} s waiting for {what}{detail}{tails}"
            )
        time.sleep(POLL_INTERVAL)


def _quiet_client(**kwargs: Any) -> redis.Redis:
    """A client for readiness polls and inspection inside this package.

    It fails fast instead of redis-py's default retries and 5 s timeouts, and speaks RESP2
    so that raw replies have one shape. Commands are sent as separate words (``"CLUSTER",
    "INFO"``) so redis-py's response callbacks (keyed by ``"CLUSTER INFO"``) leave them raw.
    """
    return redis.Redis(
        protocol=2,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        **kwargs,
    )


def _send(client: redis.Redis, *args: Any) -> Any:
    """``execute_command`` (untyped in redis-py) with a raw reply (see :func:`_quiet_client`)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------------------------------------
# Registry


class _Stoppable(Protocol):
    def stop(self) -> None: ...


class Topologies:
    """Everything started and not yet stopped, so nothing outlives the test session.

    Top-level objects register themselves before they start a process (so a half-started
    topology is still cleaned up) and unregister in ``stop()``. :meth:`stop_all` runs at exit,
    only in the process that created the registry: a forked child exiting must not stop its
    parent's servers.
    """

    def __init__(self) -> None:
        self._items: dict[int, _Stoppable] = {}
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()

    def add(self, item: _Stoppable) -> None:
        with self._lock:
            self._items[id(item)] = item

    def discard(self, item: _Stoppable) -> None:
        with self._lock:
            self._items.pop(id(item), None)

    def active(self) -> list[_Stoppable]:
        with self._lock:
            return list(self._items.values())

    def stop_all(self) -> list[BaseException]:
        """Stop everything still registered, newest first; return the errors (after trying all)."""
        if os.getpid() != self._owner_pid:
            return []
        errors: list[BaseException] = []
        for item in reversed(self.active()):
            try:
                item.stop()
            except Exception as exc:
                errors.append(exc)
            finally:
                self.discard(item)
        return errors


TOPOLOGIES = Topologies()
atexit.register(TOPOLOGIES.stop_all)


def _make_topology_dir(prefix: str) -> Path:
    # Unix socket paths are limited to ~107 bytes: stay in a short temp dir.
    base = tempfile.gettempdir()
    if len(base) > 60 and Path("/tmp").is_dir():
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=f"redistopo-{prefix}-", dir=base))
