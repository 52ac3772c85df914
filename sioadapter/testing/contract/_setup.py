"""What every check of the contract kit is given: the backend under test, how to build its
parts, and the runner that gives each check an event loop of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import pytest

from ...async_manager import AsyncClusterManager
from ...backends import backend_from_url
from ...backends.base import Backend
from ...emitter import AsyncEmitter, Emitter
from .._cluster import Cluster

__all__ = ["ContractBase", "ContractSetup", "scenario"]

#: Manager options the emitter understands too (it must speak the nodes' protocol).
_EMITTER_OPTIONS = ("protocol", "subscription_mode", "signing_keys", "max_message_size")


@dataclass
class ContractSetup:
    """The backend under test, for one check: builds backends, managers, clusters, emitters.

    Everything a check builds shares ``key``, a name no other test uses, so checks running at
    the same time on one broker never see each other's traffic.

    Attributes:
        url: the backend URL (``sioadapter_backend_url``).
        options: backend keyword options, given to ``backend_from_url``, to every manager and
            to the emitters (``sioadapter_backend_options``).
        manager_options: further manager keyword options (``requests_timeout``,
            ``subscription_mode``...), given to every manager.
        key: this check's own channel prefix (the managers' and emitters' ``key``).
        wait_timeout: bound, in seconds, on each wait for something to arrive.
    """

    url: str
    options: dict[str, Any]
    key: str
    manager_options: dict[str, Any] = field(default_factory=dict)
    wait_timeout: float = 5.0

    def backend(self, **options: Any) -> Backend:
        """A new backend, not connected: ``backend_from_url(url, **options)``."""
        return backend_from_url(self.url, **{**self.options, **options})

    def channel(self, name: str) -> str:
        """A channel name of this check's own (``key#name``)."""
        return f"{self.key}#{name}"

    def manager(self, **options: Any) -> AsyncClusterManager:
        """A new, unstarted manager of this check's cluster."""
        merged = {"requests_timeout": 5.0, **self.manager_options, **options}
        return AsyncClusterManager(self.url, key=self.key, **self.options, **merged)

    def cluster(self, nodes: int = 3, **manager_options: Any) -> Cluster:
        """``nodes`` real servers (use with ``async with``), each with a manager of this cluster."""

        def factory(index: int, /, **options: Any) -> AsyncClusterManager:
            return self.manager(**{**manager_options, **options})

        return Cluster(factory, nodes)

    def _emitter_options(self) -> dict[str, Any]:
        chosen = {k: v for k, v in self.manager_options.items() if k in _EMITTER_OPTIONS}
        return {**self.options, **chosen}

    def async_emitter(self) -> AsyncEmitter:
        """An `AsyncEmitter` on the URL, into this check's cluster (``aclose()`` it)."""
        return AsyncEmitter(self.url, key=self.key, **self._emitter_options())

    def sync_emitter(self) -> Emitter:
        """A sync `Emitter` on the URL, into this check's cluster (``close()`` it)."""
        return Emitter(self.url, key=self.key, **self._emitter_options())

    def secrets(self, extra: Sequence[str] = ()) -> list[str]:
        """The URL's password, if it has one, and ``extra``: strings no repr or error shows."""
        found = [s for s in extra if s]
        password = urlsplit(self.url).password
        if password:
            found.append(password)
        return found


Check = TypeVar("Check")


def scenario(
    body: Callable[[Check, ContractSetup], Awaitable[None]],
) -> Callable[[Check, ContractSetup], None]:
    """Turn ``async def test_x(self, sioadapter_contract)`` into a plain test function.

    The coroutine runs in an event loop of its own (``asyncio.run``), bounded by the class's
    ``scenario_timeout``: the kit needs no async plugin (pytest-asyncio in any mode, anyio, or
    none), and a check's servers and tasks never outlive it.
    """

    def run(self: Check, sioadapter_contract: ContractSetup) -> None:
        limit = float(getattr(self, "scenario_timeout", 60.0))

        async def bounded() -> None:
            # Not wait_for: a TimeoutError of the check itself (a RequestTimeoutError is one)
            # must be reported as it is, not as the check's time running out.
            task = asyncio.ensure_future(body(self, sioadapter_contract))
            done, _ = await asyncio.wait({task}, timeout=limit)
            if not done:
                task.cancel()
                await asyncio.wait({task})  # its cleanup (servers, clients) runs first
                raise AssertionError(f"{body.__name__} did not finish within {limit} s")
            task.result()

        asyncio.run(bounded())

    run.__name__ = body.__name__
    run.__qualname__ = body.__qualname__
    run.__doc__ = body.__doc__
    run.__module__ = body.__module__
    return run


class ContractBase:
    """Settings and fixtures shared by the checks; see `BackendContract` for how to use them.

    Every setting is a class attribute a subclass overrides. The URL and the backend options
    are also fixtures (``sioadapter_backend_url``, ``sioadapter_backend_options``), so a
    subclass can compute them from its own fixtures (a broker started for the session).
    """

    #: The backend URL; or override the ``sioadapter_backend_url`` fixture.
    url: ClassVar[str | None] = None
    #: Backend keyword options (``backend_from_url(url, **options)``, managers, emitters).
    options: ClassVar[Mapping[str, Any]] = {}
    #: Further keyword options for every manager (``subscription_mode``, ``protocol``...).
    manager_options: ClassVar[Mapping[str, Any]] = {}
    #: A URL of this scheme where no broker answers: ``connect`` must raise BackendError.
    #: None skips that check (an in-process backend has nothing to be unreachable).
    unreachable_url: ClassVar[str | None] = None
    #: Options for the backend built from ``unreachable_url`` (a short connect timeout).
    unreachable_options: ClassVar[Mapping[str, Any]] = {}
    #: URLs of this scheme that ``from_url`` must refuse with ValueError.
    bad_urls: ClassVar[Sequence[str]] = ()
    #: Strings no repr and no error message may show (the URL's password is added).
    secrets: ClassVar[Sequence[str]] = ()
    #: Size in bytes of the large payload sent through the backend and across the cluster.
    large_payload_size: ClassVar[int] = 512 * 1024
    #: Bound, in seconds, on each wait for a message or an event.
    wait_timeout: ClassVar[float] = 5.0
    #: Bound, in seconds, on a backend's reconnection after `sever`.
    reconnect_timeout: ClassVar[float] = 15.0
    #: Bound, in seconds, on a whole check.
    scenario_timeout: ClassVar[float] = 60.0

    async def sever(self, backend: Backend) -> None:
        """Drop ``backend``'s connection to the broker, as a network failure would, and return
        (the backend must then reconnect and resubscribe by itself). Override it to enable the
        reconnection check (Redis: ``CLIENT KILL``; PostgreSQL: ``pg_terminate_backend``);
        by default it raises NotImplementedError and that check is skipped."""
        raise NotImplementedError

    @pytest.fixture
    def sioadapter_backend_url(self) -> str:
        """The URL under test: the class's ``url``."""
        if self.url is None:
            pytest.fail(
                f"{type(self).__name__}: set url = 'scheme://...' on the class, or override "
                "the sioadapter_backend_url fixture"
            )
        return self.url

    @pytest.fixture
    def sioadapter_backend_options(self) -> dict[str, Any]:
        """The backend options under test: the class's ``options``."""
        return dict(self.options)

    @pytest.fixture
    def sioadapter_contract(
        self,
        sioadapter_backend_url: str,
        sioadapter_backend_options: dict[str, Any],
    ) -> ContractSetup:
        """This check's `ContractSetup`, with a ``key`` of its own."""
        # Short: some brokers bound channel names (PostgreSQL: 63 bytes) and the key is only
        # their prefix. The test's id is in pytest's report already.
        key = f"sio-kit-{uuid.uuid4().hex[:12]}"
        return ContractSetup(
            url=sioadapter_backend_url,
            options=dict(sioadapter_backend_options),
            key=key,
            manager_options=dict(self.manager_options),
            wait_timeout=self.wait_timeout,
        )
