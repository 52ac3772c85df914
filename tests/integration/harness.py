"""The cluster harness of the integration suite: real servers and real clients in one loop.

It lives in the package now (``sioadapter.testing._nodes`` and ``sioadapter.testing._cluster``),
where the backend contract kit (`sioadapter.testing.contract`) runs the same kind of cluster
over a third party's backend; this module re-exports it for the suites that import
``integration.harness``.

The manager under test comes from a :class:`ManagerFactory`, so the same suite runs over any
backend: the conftest next to the tests supplies one for ``memory://``; a conftest elsewhere can
supply one for Redis and reuse the fixtures of :mod:`.cluster_fixtures`.
"""

from __future__ import annotations

from sioadapter.testing._cluster import (
    HOUSEKEEPING_COROUTINES,
    LEAK_GRACE,
    QUIET_EVENT,
    Client,
    Cluster,
    ManagerFactory,
    unique_cluster_name,
)
from sioadapter.testing._nodes import WAIT_TIMEOUT, ConnectHook, EventLog, Node, Receipt

__all__ = [
    "HOUSEKEEPING_COROUTINES",
    "LEAK_GRACE",
    "QUIET_EVENT",
    "WAIT_TIMEOUT",
    "Client",
    "Cluster",
    "ConnectHook",
    "EventLog",
    "ManagerFactory",
    "Node",
    "Receipt",
    "unique_cluster_name",
]
