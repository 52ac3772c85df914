"""Child processes of the benchmark: one per cluster node, talking JSON lines on stdout.

Contract: :class:`Child` starts a command with its stdout read line by line by a thread (so a
chatty child never blocks) and its stderr kept in a temporary file (shown when it fails).
A child prints ``{"ready": ...}`` once it can take traffic and ``{"result": {...}}`` when done;
:meth:`Child.wait_for` waits for a line with a given key, with a deadline, and raises
:class:`ChildError` (with the child's stderr) when the deadline passes or the child exits first;
:meth:`Child.send` writes one line to its stdin (the warm-up's ``go``, :mod:`benchmarks.warm`).

:class:`Children` is a context manager that stops every child it started, by PID (SIGTERM,
then SIGKILL after 3 s), on exit: after success, errors and Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any


class ChildError(RuntimeError):
    """A node process failed, exited early or did not answer in time."""


class Child:
    """One node process."""

    def __init__(self, name: str, command: Sequence[str], cwd: str | None = None) -> None:
        self.name = name
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("{"):
                continue
            try:
                self._lines.put(json.loads(line))
            except ValueError:
                continue
        self._lines.put(None)  # end of output

    def stderr_text(self, limit: int = 4000) -> str:
        """The last ``limit`` characters of the child's stderr."""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-limit:]

    def wait_for(self, key: str, timeout: float) -> Any:
        """The value of the first line holding ``key`` (other lines are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChildError(
                    f"{self.name}: no {key!r} within {timeout:.0f} s\n{self.stderr_text()}"
                )
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(2)
                raise ChildError(
                    f"{self.name} exited ({self.proc.returncode}) before {key!r}\n"
                    f"{self.stderr_text()}"
                )
            if "error" in line:
                raise ChildError(f"{self.name}: {line['error']}\n{self.stderr_text()}")
            if key in line:
                return line[key]

    def send(self, line: str) -> None:
        """Write ``line`` and a newline to the child's stdin."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as error:  # BrokenPipeError: it exited
            raise ChildError(f"{self.name}: cannot write {line!r}: {error}\n"
                             f"{self.stderr_text()}") from error  # fmt: skip

    def stop(self) -> None:
        """Stop the process by PID: close stdin, SIGTERM (and SIGCONT), SIGKILL after 3 s."""
        proc = self.proc
        if proc.poll() is None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
            except OSError:
                pass
            proc.terminate()
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGCONT)  # a paused (SIGSTOP) node acts on SIGTERM
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3)
        self._stderr.close()


class Children:
    """Starts node processes and stops them all on exit."""

    def __init__(self) -> None:
        self._children: list[Child] = []

    def start(self, name: str, command: Sequence[str], cwd: str | None = None) -> Child:
        child = Child(name, command, cwd)
        self._children.append(child)
        return child

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
