"""The integration suite, unchanged, over PostgreSQL, and the PostgreSQL backend's own tests.

They use the server at 127.0.0.1:5432 (user ``postgres``, database ``test``, trust
authentication), which the machine runs for every session and CI; ``SIOADAPTER_PG_URL`` names
another. Other tests share that server at the same time: each test has its own channel prefix
(``key``, short: a channel name is at most 63 bytes), and tests that need a table of their
own create one under a unique name and drop it. Skips (fails under ``CI``) without psycopg or
without the server.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from integration.harness import ManagerFactory
from redistopo._process import _unavailable

import sioadapter

HERE = Path(__file__).parent
PG_URL = os.environ.get("SIOADAPTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.postgres)


def require_psycopg() -> None:
    """Skip the module (fail under CI) when psycopg is not installed."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg", "psycopg is not installed: pip install 'sioadapter[postgres]'")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The server's URL, once it answered; skips (fails under ``CI``) otherwise."""
    require_psycopg()
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        _unavailable(
            "PostgreSQL",
            f"no PostgreSQL server answers at {PG_URL} ({type(error).__name__}): install "
            "postgresql and start it (user postgres, database test, trust on loopback), or "
            "set SIOADAPTER_PG_URL",
        )
    return PG_URL


def short_key(name: str) -> str:
    """A channel prefix unique to ``name`` and short enough for PostgreSQL's 63-byte channel
    names, with room for a namespace (``key#/some-namespace``)."""
    return "t" + hashlib.sha1(name.encode()).hexdigest()[:15]


@pytest.fixture
def pg_key(cluster_name: str) -> str:
    """This test's own channel prefix."""
    return short_key(cluster_name)


@pytest.fixture
def manager_factory(pg_url: str, pg_key: str) -> ManagerFactory:
    """Managers of one cluster over PostgreSQL, with this test's own key."""

    def factory(index: int, /, **manager_options: Any) -> Any:
        manager_options.setdefault("requests_timeout", 5.0)
        return sioadapter.AsyncClusterManager(pg_url, key=pg_key, **manager_options)

    return factory
