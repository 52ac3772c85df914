"""The backend contract kit: sioadapter's cluster suite, run against your backend's URL.

A package that provides a backend (an entry point in the ``sioadapter.backends`` group) checks
it with the same scenarios sioadapter checks its own backends with: every cluster operation
through real python-socketio servers (uvicorn on loopback ports) and real
``socketio.AsyncClient`` clients, and the guarantees of `sioadapter.backends.base` on raw
backends. In the package's test suite::

    from sioadapter.testing.contract import BackendContract

    class TestMyBroker(BackendContract):
        url = "mybroker://127.0.0.1:7000"
        unreachable_url = "mybroker://127.0.0.1:1"
        bad_urls = ["mybroker://127.0.0.1:notaport"]

pytest collects the inherited checks as ``TestMyBroker::test_...``. The URL and the backend
options are fixtures too (``sioadapter_backend_url``, ``sioadapter_backend_options``): override
them in the class to take them from a fixture of yours (a broker started for the session), or
parametrize them to run every check over several configurations. The settings (class
attributes) are those of `ContractBase`.

Each check is a plain (synchronous) test that runs its scenario in an event loop of its own,
bounded by ``scenario_timeout``: the kit works with pytest-asyncio in any mode, with anyio, or
with neither. Every check uses a channel prefix (``key``) of its own, so checks can share a
broker with other tests. It needs the ``[testing]`` extra (uvicorn, aiohttp):
``pip install 'sioadapter[testing]'``.

`BackendChecks` and `ClusterChecks` are the two halves, for a suite that wants one only.
"""

from __future__ import annotations

from ._backend import BackendChecks
from ._delivery import DeliveryChecks
from ._requests import RequestChecks
from ._setup import ContractBase, ContractSetup, scenario
from ._sync import SyncServerChecks

__all__ = [
    "BackendChecks",
    "BackendContract",
    "ClusterChecks",
    "ContractBase",
    "ContractSetup",
    "scenario",
]


class ClusterChecks(DeliveryChecks, RequestChecks, SyncServerChecks):
    """Every cluster operation, over three real servers with real clients on the backend:
    broadcasts to everyone, rooms and except rooms, binary and large payloads, client acks
    and broadcast acks across nodes, fetch_sockets and remote sockets, sockets_join /
    sockets_leave / disconnect_sockets, server-side emits and calls, server_count and the
    other queries, a node leaving, the emitters (async and sync), malformed messages, and
    a sync server (``socketio.Server`` with a ``ClusterManager``) among async ones."""


class BackendContract(BackendChecks, ClusterChecks):
    """The whole kit: subclass it as ``Test...`` and set ``url`` (see the module docstring)."""
