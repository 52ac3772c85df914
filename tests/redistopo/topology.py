"""Real Redis topologies for tests: standalone (TCP, unix socket, TLS, ACL), Sentinel, Cluster.

Contract
--------
- Every process is a ``redis-server`` this module starts on 127.0.0.1, on a port found free by
  binding port 0 (never one it did not pick), with ``--daemonize yes --pidfile --logfile --dir
  --save '' --appendonly no``, in a temp dir owned by its topology.
- A process is signalled only by the PID its own pidfile gave, and only while that PID is still a
  ``redis-server``: SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT`. Nothing here sends
  ``SHUTDOWN``, runs ``pkill``/``killall``, or talks to a port it did not start.
- Every wait is a bounded poll (interval :data:`POLL_INTERVAL`) of a real readiness condition:
  PING answers; every cluster node says ``cluster_state:ok`` and sees every node connected; the
  sentinel names the master and sees the replica in sync. A wait that times out raises
  :class:`TopologyError` quoting the tail of the logs involved.
- Every topology registers itself in :data:`TOPOLOGIES` before it starts a process; an atexit hook
  (and the fixtures' finalizers) stop whatever is left and remove the temp dirs.
- ``stop()`` is idempotent and final for an object that owns its temp dir (a standalone
  :class:`RedisServer`, a :class:`SentinelSet`, a :class:`RedisClusterSet`): the processes are
  gone and the dir is removed. ``restart()`` / ``kill()`` + ``start()`` keep the port, the dir and
  the arguments.

The ``require_*`` functions turn a missing or too old ``redis-server`` / ``openssl`` into a skip
(or a failure when the ``CI`` environment variable is set).

Layout
------
This module only re-exports the public names (its ``__all__``) of the modules that implement
them, so ``from redistopo.topology import X`` keeps working:

- :mod:`._process`: install checks, ports, PIDs, bounded waits, the registry (and its atexit
  hook), the timing bounds.
- :mod:`._daemon`: one daemonized ``redis-server`` process (launch, PID, stop by PID).
- :mod:`.server`: :class:`RedisServer` and :func:`make_tls_files`.
- :mod:`.sentinel`: :class:`RedisSentinel` and :class:`SentinelSet`.
- :mod:`.cluster`: :class:`RedisClusterSet`.

Patch a name where it is looked up, not here: e.g. ``RedisServer`` picks its ports with
``redistopo.server.free_port``.
"""

from __future__ import annotations

from ._process import (
    HOST,
    MIN_VERSION,
    TOPOLOGIES,
    RedisInstall,
    Topologies,
    TopologyError,
    find_redis_install,
    free_port,
    pid_alive,
    require_openssl,
    require_redis_server,
    wait_until,
)
from .cluster import RedisClusterSet
from .sentinel import RedisSentinel, SentinelSet
from .server import RedisServer, TLSFiles, make_tls_files

__all__ = [
    "HOST",
    "MIN_VERSION",
    "TOPOLOGIES",
    "RedisClusterSet",
    "RedisInstall",
    "RedisSentinel",
    "RedisServer",
    "SentinelSet",
    "TLSFiles",
    "Topologies",
    "TopologyError",
    "find_redis_install",
    "free_port",
    "make_tls_files",
    "pid_alive",
    "require_openssl",
    "require_redis_server",
    "wait_until",
]
