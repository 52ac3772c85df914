"""Green threads (gevent, eventlet): how ClusterManager's loop lives among greenlets.

A monkey-patched process has greenlets where the code asks for threads: the cluster's loop
"thread" is a greenlet on the one OS thread the server's greenlets share, and blocking on its
results (a ``concurrent.futures.Future``, a patched Condition underneath) only suspends the
calling greenlet. That is what makes ClusterManager work under gevent and eventlet; two things
need care:

- asyncio keeps "the running loop" per OS thread, and greenlets share it: while the cluster's
  loop greenlet is suspended (in its selector, or anywhere else), every other greenlet would
  see the cluster's loop as running (``asyncio.get_running_loop()`` would return it,
  ``asyncio.run()`` would refuse to start). :func:`keep_running_loop_own` gives the loop's
  greenlet a running loop of its own: swapped in when it is switched to, swapped out when it
  switches away (greenlet's switch trace).
- A green-thread server in a process that was not monkey-patched would have the loop in a real
  OS thread calling gevent or eventlet code that only works on its own thread: such a server
  gets :func:`unpatched_server_error`, never a hang.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "GREEN_MODES",
    "keep_running_loop_own",
    "patched",
    "unpatched_server_error",
]

GREEN_MODES = frozenset({"eventlet", "gevent", "gevent_uwsgi"})
"""python-socketio's async modes whose "threads" are greenlets."""

Tracer = Callable[[str, Any], None]


def patched() -> bool:
    """True when gevent or eventlet has replaced this process's threads with greenlets."""
    # sys.modules, not imports: a process that never imported them is not patched.
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return True
    patcher = sys.modules.get("eventlet.patcher")
    return patcher is not None and bool(patcher.is_monkey_patched("thread"))


def unpatched_server_error(mode: str) -> RuntimeError:
    """The error for a ``mode`` (gevent, eventlet) server in a process that is not patched."""
    patch = "eventlet.monkey_patch()" if mode == "eventlet" else "gevent.monkey.patch_all()"
    return RuntimeError(
        f"sioadapter.ClusterManager with an async_mode={mode!r} server needs a monkey-patched "
        f"process: call {patch} first thing in the program (before other imports), or run "
        f"gunicorn -k {mode.split('_')[0]}, which does it in each worker. Unpatched, the "
        f"cluster's loop would run in an OS thread, which {mode} cannot be called from"
    )


class _OwnRunningLoop:
    """The greenlet switch trace that keeps one greenlet's running loop its own."""

    def __init__(self, owner: Any, chained: Tracer | None) -> None:
        self.owner = owner
        self.chained = chained
        self.inside: asyncio.AbstractEventLoop | None = None  # the owner's, while it is out
        self.outside = asyncio._get_running_loop()  # everyone else's, while the owner runs

    def __call__(self, event: str, args: Any) -> None:
        if event in ("switch", "throw"):
            origin, target = args
            if target is self.owner:
                self.outside = asyncio._get_running_loop()
                asyncio._set_running_loop(self.inside)
            elif origin is self.owner:
                self.inside = asyncio._get_running_loop()
                asyncio._set_running_loop(self.outside)
        if self.chained is not None:
            self.chained(event, args)


def keep_running_loop_own() -> Callable[[], None]:
    """From the greenlet that will run an asyncio loop: make the loop it runs visible to it
    alone. Returns the function that undoes it, for the greenlet to call when its loop ends."""
    import greenlet  # gevent and eventlet both run on it

    tracer = _OwnRunningLoop(greenlet.getcurrent(), greenlet.gettrace())
    greenlet.settrace(tracer)

    def undo() -> None:
        if greenlet.gettrace() is tracer:  # else a later tracer chained ours: leave it in
            greenlet.settrace(tracer.chained)
        asyncio._set_running_loop(tracer.outside)

    return undo
