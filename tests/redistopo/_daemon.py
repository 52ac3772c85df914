"""One daemonized ``redis-server`` process, the base of every node the topologies start.

Contract
--------
- A process is a ``redis-server`` started on 127.0.0.1 with ``--daemonize yes`` and a pidfile
  and logfile in its own dir; its PID is the one its own pidfile gave.
- A start picks a free port (:func:`._process.free_port`), and picks another up to
  :data:`._process.PORT_ATTEMPTS` times when that port was taken before redis-server bound it;
  once a process has listened on a port, later starts keep it. A failed start leaves no process
  behind. A start returns once the process is ready (:meth:`_Daemon._ready`), or raises
  :class:`._process.TopologyError` quoting its log.
- A process is signalled only by that PID, and only while that PID is still a ``redis-server``:
  SIGTERM, then SIGKILL after :data:`._process.STOP_TIMEOUT`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from ._process import (
    LOG_TAIL_LINES,
    POLL_INTERVAL,
    PORT_ATTEMPTS,
    START_TIMEOUT,
    STOP_TIMEOUT,
    TopologyError,
    _is_redis_process,
    _PortTaken,
    _tail,
    free_port,
    pid_alive,
    wait_until,
)


class _Daemon:
    """One daemonized ``redis-server`` process: launch, PID from its pidfile, stop by PID.

    Subclasses say how to launch it (:meth:`_command`) and when it is ready (:meth:`_ready`).
    """

    kind = "redis-server"

    def __init__(self, workdir: Path, name: str, port: int | None) -> None:
        self.name = name
        self.dir = workdir
        self._port = port
        # A port is kept for good once a process listened on it (or the caller chose it).
        self._port_fixed = port is not None
        self._pid: int | None = None
        self._log_offset = 0
        self.startup_seconds: float | None = None
        """How long the last :meth:`start` took, until ready."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} port={self._port} pid={self._pid}>"

    @property
    def pidfile(self) -> Path:
        return self.dir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.dir / f"{self.name}.log"

    @property
    def port(self) -> int:
        if self._port is None:
            raise TopologyError(f"{self!r} has no port yet: start() it first")
        return self._port

    @property
    def pid(self) -> int | None:
        """The PID of the running process, ``None`` when it is not running."""
        if self._pid is not None and not pid_alive(self._pid):
            self._pid = None
        return self._pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.logfile, lines)

    # -- to override

    def _allocate_ports(self) -> None:
        self._port = free_port()

    def _prepare(self) -> None:
        """Write what the launch needs (a config file); called before every launch."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    # -- lifecycle

    def _start_process(self) -> None:
        if self.running:
            raise TopologyError(f"{self!r} is already running")
        started = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if not self._port_fixed:
                self._allocate_ports()
            try:
                self._launch_and_wait()
            except _PortTaken:
                self._terminate()
                if self._port_fixed or attempt == PORT_ATTEMPTS:
                    raise
                continue
            except BaseException:
                # Never leave a half-started process behind a failed start.
                self._terminate()
                raise
            break
        self._port_fixed = True
        self.startup_seconds = time.monotonic() - started

    def _launch_and_wait(self) -> None:
        self._prepare()
        # A SIGKILLed redis leaves its pidfile: a stale PID must not be mistaken for the new one.
        self.pidfile.unlink(missing_ok=True)
        self._log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        command = self._command()
        # --daemonize yes: this returns once the parent forked; config errors come back here.
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=START_TIMEOUT, check=False
        )
        if done.returncode != 0:
            raise TopologyError(
                f"{' '.join(command)} exited with {done.returncode}:\n"
                f"{done.stdout}{done.stderr}\n{self.log_tail()}"
            )
        wait_until(
            self._check_started,
            timeout=START_TIMEOUT,
            what=f"{self.kind} {self.name} on port {self._port} to answer PING",
            logs=[self.logfile],
        )

    def _new_log(self) -> str:
        try:
            with self.logfile.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _check_started(self) -> bool:
        if self._pid is None:
            try:
                self._pid = int(self.pidfile.read_text().strip())
            except (OSError, ValueError):
                # Redis writes the pidfile after binding its ports: until then, only its log
                # says whether it gave up.
                log = self._new_log()
                if "Address already in use" in log:
                    raise _PortTaken(f"{self!r}: port taken\n{self.log_tail()}") from None
                if "aborting" in log or "FATAL" in log:
                    raise TopologyError(f"{self!r} failed to start\n{self.log_tail()}") from None
                return False
        if not pid_alive(self._pid):
            raise TopologyError(f"{self!r} exited during startup\n{self.log_tail()}")
        return self._ready()

    def _terminate(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal our PID (if it is still a redis-server) and wait for it to be gone; escalate
        to SIGKILL after :data:`STOP_TIMEOUT`."""
        pid = self._pid
        if pid is None:
            with contextlib.suppress(OSError, ValueError):
                pid = int(self.pidfile.read_text().strip())
        if pid is not None and pid_alive(pid) and _is_redis_process(pid):
            for signum in (sig, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
                deadline = time.monotonic() + STOP_TIMEOUT
                while pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(POLL_INTERVAL)
                if not pid_alive(pid):
                    break
            else:
                raise TopologyError(f"{self!r} survived SIGKILL for {STOP_TIMEOUT} s")
        self._pid = None
        self.pidfile.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the process by PID (a crash: no clean shutdown) and wait until it is gone."""
        self._terminate(signal.SIGKILL)
