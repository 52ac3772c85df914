"""A private PostgreSQL server for the fault tests: ``initdb`` in a temporary directory, the
``postgres`` process started on a free loopback port and stopped by its PID.

As root (this machine's sessions and CI), the server runs as the ``postgres`` user, since
PostgreSQL refuses to run as root. Skips (fails under ``CI``) without the binaries.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from redistopo._process import _unavailable, free_port

__all__ = ["PrivateServer", "find_bin_dir"]


def find_bin_dir() -> Path:
    """The directory of ``initdb`` and ``postgres`` (skips without them)."""
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found is None:
        _unavailable("initdb", "initdb not found on PATH: install postgresql (its server part)")
    bin_dir = Path(os.path.realpath(found)).parent
    if not (bin_dir / "postgres").exists():
        _unavailable("postgres", f"no postgres binary next to {found}")
    return bin_dir


class PrivateServer:
    """One throw-away PostgreSQL server (trust authentication, user ``postgres``)."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="sioadapter-pg-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            self._as = {"user": "postgres", "group": "postgres"}
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            [self.bin_dir / "initdb", "-D", self.dir / "data", "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=60, **self._as,
        )  # fmt: skip

    def start(self, timeout: float = 20.0) -> PrivateServer:
        """Start the server and return once it accepts connections."""
        import psycopg

        self.process = subprocess.Popen(
            [self.bin_dir / "postgres", "-D", self.dir / "data", "-p", str(self.port),
             "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "max_connections=40"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **self._as,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the private PostgreSQL on {self.port} did not start"
                    ) from None
                time.sleep(0.05)  # the server has no readiness signal to wait on

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), waited for; SIGKILL if stuck."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def remove(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
