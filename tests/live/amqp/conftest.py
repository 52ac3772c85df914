"""The integration suite, unchanged, over RabbitMQ.

Each test of ``tests/integration`` (re-exported by ``test_suite_over_amqp.py``) runs on the
machine's RabbitMQ broker (``127.0.0.1:5672``, user ``guest``; see ``broker.py``), each test
with its own key, so its own exchange: tests sharing the broker never see each other's
traffic. Skips (fails under ``CI``) without a broker or aio-pika, saying what to install.
After each test, the exchanges of its keys are deleted (they are not auto-deleted: see
docs/backends/amqp.md), so the shared broker does not collect one per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.harness import ManagerFactory

import sioadapter

from .broker import MADE_KEYS, delete_exchanges, require_broker

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.amqp)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The broker's URL; skips (fails under ``CI``) without a broker or aio-pika."""
    return require_broker()


@pytest.fixture
def manager_factory(amqp_url: str, cluster_name: str) -> ManagerFactory:
    """Managers of one cluster over RabbitMQ, with this test's own key."""

    def factory(index: int, /, **manager_options: Any) -> Any:
        manager_options.setdefault("requests_timeout", 5.0)
        return sioadapter.AsyncClusterManager(amqp_url, key=cluster_name, **manager_options)

    return factory


@pytest.fixture(autouse=True)
def _delete_the_tests_exchanges(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test: delete ``sioadapter.<key>`` for its ``cluster_name`` and for the keys
    ``broker.unique_key`` made (names no other test uses: a random part in each)."""
    # Taken before the test, so that they are torn down after this fixture.
    names = [request.getfixturevalue(n) for n in ("cluster_name",) if n in request.fixturenames]
    url = request.getfixturevalue("amqp_url") if "amqp_url" in request.fixturenames else None
    MADE_KEYS.clear()
    yield
    keys = names + MADE_KEYS
    MADE_KEYS.clear()
    if keys and url is not None:
        delete_exchanges(url, [f"sioadapter.{k}" for k in keys])
