"""Forked processes: a manager built before ``os.fork()`` is a new node in each child.

``gunicorn --preload`` imports the app (and builds its manager) in the master, then forks the
workers; ``multiprocessing`` with the ``fork`` start method does the same. Without care every
child would carry the parent's node uid (and ignore the others' messages as its own) and the
parent's redis-py clients. So each manager is tracked here, weakly, and after a fork, in the
child, :func:`_in_child` calls its ``_after_fork``:

* a manager that was never started gets a new uid everywhere it lives and fresh backend
  connections (``Backend.after_fork``); it starts at its first use, on the child's loop. A
  manager that never started has bound no asyncio object to a loop (asyncio's primitives bind
  to a loop at first use), so nothing of the parent's loop is left in it;
* a manager that was started in the parent (its tasks, futures and connections belong to the
  parent's loop, its local sockets to the parent) refuses every use with ManagerClosedError,
  saying what to do.

The managers also compare ``os.getpid()`` when they start, should a fork bypass the hook.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

__all__ = ["track"]

logger = logging.getLogger("sioadapter")


class Forkable(Protocol):
    def _after_fork(self) -> None: ...


_tracked: weakref.WeakSet[Forkable] = weakref.WeakSet()


def track(manager: Forkable) -> None:
    """Call ``manager._after_fork()`` in every child forked while the manager lives."""
    _tracked.add(manager)


def _in_child() -> None:
    for manager in list(_tracked):
        try:
            manager._after_fork()
        except Exception:  # one broken manager must not break the child's others
            logger.exception("renewing %r after a fork failed", manager)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_in_child)
