"""A private ``redis-server`` for one benchmark run.

Contract: :func:`private_redis` starts ``redis-server`` on a free loopback port with no
persistence (``--save '' --appendonly no``), in a temporary directory, waits until it answers
PING and yields its URL. On exit, also after an error or Ctrl-C, it stops that process by its
PID (SIGTERM, then SIGKILL after 5 s) and removes the directory. It never touches another Redis.

The pub/sub output buffer limit is lifted (``client-output-buffer-limit pubsub 0 0 0``): a
subscriber that falls behind a sender is measured as slow instead of being disconnected by
Redis in the middle of a run.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port that was free on the loopback interface a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def redis_version() -> str:
    """``redis-server --version``'s ``v=`` field, or ``?``."""
    binary = shutil.which("redis-server")
    if binary is None:
        return "?"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    for word in out.stdout.split():
        if word.startswith("v="):
            return word[2:]
    return "?"


def _ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def private_redis(start_timeout: float = 10.0) -> Iterator[str]:
    """Run a throwaway redis-server; yields ``redis://127.0.0.1:PORT/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    workdir = tempfile.mkdtemp(prefix="sioadapter-bench-redis-")
    port = free_port()
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        workdir,
        "--client-output-buffer-limit",
        "pubsub 0 0 0",
        "--loglevel",
        "warning",
    ]
    log = open(f"{workdir}/redis.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + start_timeout
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                with open(f"{workdir}/redis.log", errors="replace") as text:
                    raise RuntimeError(f"redis-server did not start:\n{text.read()}")
            time.sleep(0.05)
        yield f"redis://{HOST}:{port}/0"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
