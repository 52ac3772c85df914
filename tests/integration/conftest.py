"""The integration suite over the in-process ``memory://`` backend.

Every test here gets ``pytest.mark.integration``. The backend-agnostic fixtures (``cluster``,
``make_cluster``, ``cluster_name``) come from :mod:`.cluster_fixtures`; this file only says which
manager each node gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sioadapter

from .cluster_fixtures import cluster, cluster_name, make_cluster, pytest_runtest_makereport
from .harness import ManagerFactory

__all__ = [
    "cluster",
    "cluster_name",
    "make_cluster",
    "manager_factory",
    "pytest_collection_modifyitems",
    "pytest_runtest_makereport",
]

HERE = Path(__file__).parent

DEFAULT_REQUESTS_TIMEOUT = 5.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A conftest hook sees every collected item, not only this directory's: filter by path.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


# memory: the classic protocol; memory-rooms: the classic protocol subscribing per room instead
# of by pattern; memory-cluster: the ClusterAdapter protocol with per-room
# channels (the backend declares no patterns); memory-heartbeat: nodes counted by heartbeat
# (the backend declares no subscriber counts).
MEMORY_CONFIGURATIONS = {
    "memory": ("", {}),
    "memory-rooms": ("", {"subscription_mode": "dynamic-private"}),
    "memory-cluster": ("?patterns=false", {}),
    "memory-heartbeat": ("?counts=false", {}),
}


@pytest.fixture(params=list(MEMORY_CONFIGURATIONS))
def manager_factory(request: pytest.FixtureRequest, cluster_name: str) -> ManagerFactory:
    """Managers of one in-process cluster: ``memory://<unique name of this test>``, in each
    protocol configuration the memory backend can exercise."""
    query, config_options = MEMORY_CONFIGURATIONS[request.param]
    url = f"memory://{cluster_name}{query}"

    def factory(index: int, /, **options: Any) -> Any:
        options.setdefault("requests_timeout", DEFAULT_REQUESTS_TIMEOUT)
        return sioadapter.AsyncClusterManager(url, **config_options, **options)

    return factory
