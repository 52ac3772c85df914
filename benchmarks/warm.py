"""The warm-up before a measured broadcast run, the same for every contender and every broker.

Why: a cold process is slower than a warm one (Node's JIT compiles hot functions only after
they ran a while; Python fills its caches, connections their buffers), so a short run measures
start-up as much as steady work, and flatters whichever contender warms slowest. An
independent harness found cold Node 2-3x slower than warm.

Contract, driven by :func:`benchmarks.scenarios.broadcast` through each node's config key
``warm`` (broadcasts; 0 or absent: no warm-up, the old behaviour, which other callers keep):

1. The sender emits ``warm`` broadcasts to room1, the same payload through the same code path
   as the measured ones (flat out, also for a fixed-rate run), then a ``warmed`` marker (an
   event ``warmed`` to room ``ctl``; the raw clients publish ``warmed`` on their channel),
   flushes, prints ``{"warmed": true}`` and blocks until it reads a line ``go`` on stdin
   (:func:`wait_go`, bounded).
2. Each receiver counts warm deliveries apart from the measured ones (:class:`Warmup`):
   ``warm x K`` for a room1 receiver, none for a bystander, which learns that the warm phase is
   over from the marker, which every receiver sees. It prints ``{"warmed": true}`` once it has
   the marker and all its warm deliveries; every later delivery is a measured one.
3. The orchestrator waits for every ``warmed`` line (bounded), stops the receivers of a drain
   run (SIGSTOP), and writes ``go``: the measured run (``start`` marker, N broadcasts, ``end``
   marker, the CPU windows) begins after every warm delivery was made, so it counts none.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time

MARKER = "warmed"
"""The raw clients' marker payload (the Socket.IO contenders emit an event of that name)."""


def say_warmed() -> None:
    print(json.dumps({"warmed": True}), flush=True)


class Warmup:
    """A receiver's warm deliveries: ``active`` until the marker and all of them came.

    ``expected`` is ``warm * k`` for a member of room1, 0 for a bystander. Deliveries go to
    :meth:`delivery` while ``active`` (the caller's measured counters never see them), the
    marker to :meth:`mark`; the one of the two that completes the warm-up prints the
    ``warmed`` line.
    """

    def __init__(self, warm: int, k: int, member: bool = True) -> None:
        self.expected = warm * k if member else 0
        self.count = 0
        self.marked = False
        self.active = warm > 0

    def delivery(self) -> None:
        self.count += 1
        if self.marked and self.count >= self.expected:
            self._done()

    def mark(self) -> None:
        self.marked = True
        if self.active and self.count >= self.expected:
            self._done()

    def _done(self) -> None:
        if self.active:
            self.active = False
            say_warmed()


def wait_go(timeout: float) -> None:
    """Block until a line ``go`` arrives on stdin (``select`` then ``os.read``: no buffered
    reader, and cooperative in a process gevent patched); raise after ``timeout`` seconds or
    when stdin closes first (the orchestrator gave up)."""
    fd = sys.stdin.fileno()
    deadline = time.monotonic() + timeout
    text = b""
    while b"\n" not in text:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"no 'go' on stdin within {timeout:.0f} s")
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            chunk = os.read(fd, 256)
            if not chunk:
                raise RuntimeError("stdin closed before 'go'")
            text += chunk
    line = text.split(b"\n", 1)[0].strip()
    if line != b"go":
        raise RuntimeError(f"expected 'go' on stdin, read {line!r}")
