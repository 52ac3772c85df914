"""Backend-agnostic fixtures of the integration suite.

They need one fixture from the conftest that imports them: ``manager_factory``, a
:class:`~.harness.ManagerFactory`. ``tests/integration/conftest.py`` supplies the ``memory://``
one. To run the same tests over another backend, a conftest in another directory imports
everything public here (fixtures and the report hook), defines its own ``manager_factory``
(parametrized to cover several configurations if need be), and a test module there re-exports
the test functions (``from integration.test_broadcast import *``): pytest resolves fixtures by
where a test is collected, so those tests get that directory's factory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pytest

from .harness import Cluster, ManagerFactory, unique_cluster_name

__all__ = ["cluster", "cluster_name", "make_cluster", "pytest_runtest_makereport"]

CALL_FAILED = pytest.StashKey[bool]()
"""Set on each test item: whether its body (the "call" phase) failed."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    # Remember whether the test body failed, so the cluster fixture skips its leak checks
    # then: a test that failed half-way leaves requests pending, and reporting that as well
    # would only bury the real failure.
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def cluster_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses (its node id plus a random suffix), for the backend URL."""
    return unique_cluster_name(request.node.nodeid, uuid.uuid4().hex[:8])


@pytest.fixture
def make_cluster(manager_factory: ManagerFactory) -> Callable[..., Cluster]:
    """``make_cluster(nodes=3, **manager_options)``: a Cluster to use with ``async with``.

    For tests that need manager options other than the ``cluster`` fixture's defaults (a short
    ``requests_timeout``, for instance). Every cluster of a test shares the test's backend
    name, so a test makes one cluster (and does not also use the ``cluster`` fixture).
    """

    def make(nodes: int = 3, **manager_options: Any) -> Cluster:
        return Cluster(manager_factory, nodes, **manager_options)

    return make


@pytest.fixture
async def cluster(
    request: pytest.FixtureRequest, make_cluster: Callable[..., Cluster]
) -> AsyncIterator[Cluster]:
    """Three started nodes with default manager options, torn down and leak-checked after."""
    running = make_cluster(nodes=3)
    await running.start()
    try:
        yield running
    finally:
        await running.aclose(check=not request.node.stash.get(CALL_FAILED, False))
