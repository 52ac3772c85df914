"""The brokers of the backend benchmarks: where each one is, and what is missing to run it.

Contract:

* :func:`private_nats` starts ``nats-server`` on a free loopback port (with a monitoring port
  for readiness), in a temporary directory, and yields its ``nats://`` URL; on exit, also
  after an error or Ctrl-C, it stops that process by its PID (SIGTERM, then SIGKILL after
  5 s). It never touches the machine's NATS on 4222.
* PostgreSQL and RabbitMQ are the machine's services (private instances would need initdb or
  a RabbitMQ node each run): :data:`POSTGRES_URL` and :data:`AMQP_URL`, overridable by the
  environment variables ``SIOADAPTER_BENCH_POSTGRES_URL`` and ``SIOADAPTER_BENCH_AMQP_URL``.
  Every run uses fresh channel and exchange names, so other users of the services are not
  disturbed (their load does disturb the figures: compare the ratios of one run).
* :func:`missing` says why a contender cannot run (``None`` when it can): the backend's entry
  point is not installed, the raw client library is not, the broker is not reachable. Its
  text is what the results page shows after ``n/a``.
* :func:`shown` is a URL as it may be printed: no password (``sioadapter._redact``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from urllib.parse import urlsplit

from sioadapter._redact import redact_url

from .redis_server import HOST, free_port

BACKENDS = ("redis", "nats", "postgres", "amqp")
"""The backend family's brokers, in the order of the results page."""
SCHEMES = {"redis": "redis", "nats": "nats", "postgres": "postgresql", "amqp": "amqp"}
TITLES = {"redis": "Redis", "nats": "NATS", "postgres": "PostgreSQL", "amqp": "RabbitMQ"}
RAW_CLIENTS = {  # import name, distribution, what the raw client does
    "redis": ("redis", "redis", "redis-py, pipelined PUBLISH / SUBSCRIBE"),
    "nats": ("nats", "nats-py", "nats-py publish / subscribe"),
    "postgres": ("psycopg", "psycopg", "psycopg 3, pipelined pg_notify / LISTEN"),
    "amqp": ("aio_pika", "aio-pika", "aio-pika, direct exchange / exclusive queue"),
}
POSTGRES_URL = os.environ.get(
    "SIOADAPTER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
AMQP_URL = os.environ.get("SIOADAPTER_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def shown(url: str) -> str:
    return redact_url(url)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or default_port), 1.0):
            return True
    except OSError:
        return False


def missing_backend(name: str) -> str | None:
    """Why sioadapter has no backend for this broker here, or ``None``."""
    scheme = SCHEMES[name]
    found = [ep for ep in metadata.entry_points(group="sioadapter.backends") if ep.name == scheme]
    if not found:
        return "backend not installed"
    try:
        found[0].load()
    except ImportError as error:
        return f"backend not installed: {error}"
    return None


def missing_raw(name: str) -> str | None:
    """Why the raw client of this broker cannot run here, or ``None``."""
    module, dist, _ = RAW_CLIENTS[name]
    if importlib.util.find_spec(module) is None:
        return f"{dist} not installed"
    return None


def missing_broker(name: str, url: str | None) -> str | None:
    """Why this broker cannot be used, or ``None`` (``url`` is ``None``: it was not started)."""
    if name == "nats" and shutil.which("nats-server") is None:
        return "nats-server not on PATH"
    if url is None:
        return "broker not started"
    if name == "postgres" and not _reachable(url, 5432):
        return f"no PostgreSQL at {shown(url)}"
    if name == "amqp" and not _reachable(url, 5672):
        return f"no RabbitMQ at {shown(url)}"
    return None


def versions() -> dict[str, str]:
    """Client library and nats-server versions, for the machine table."""
    out = {}
    for _, dist, _ in RAW_CLIENTS.values():
        if dist == "redis":
            continue
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    binary = shutil.which("nats-server")
    if binary is not None:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        out["nats-server"] = done.stdout.strip().removeprefix("nats-server: ") or "?"
    return out


def _healthy(port: int) -> bool:
    try:
        url = f"http://{HOST}:{port}/healthz"
        with urllib.request.urlopen(url, timeout=0.5) as answer:
            return bool(json.loads(answer.read()).get("status") == "ok")
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def private_nats(start_timeout: float = 10.0) -> Iterator[str]:
    """Run a throwaway nats-server; yields ``nats://127.0.0.1:PORT``."""
    binary = shutil.which("nats-server")
    if binary is None:
        raise RuntimeError("nats-server is not on PATH")
    workdir = tempfile.mkdtemp(prefix="sioadapter-bench-nats-")
    port, monitor = free_port(), free_port()
    log = f"{workdir}/nats-server.log"
    args = [binary, "-a", HOST, "-p", str(port), "-m", str(monitor), "-l", log]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(monitor):
            if proc.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(OSError), open(log, errors="replace") as text:
                    raise RuntimeError(f"nats-server did not start:\n{text.read()}")
                raise RuntimeError("nats-server did not start")
            time.sleep(0.05)
        yield f"nats://{HOST}:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
