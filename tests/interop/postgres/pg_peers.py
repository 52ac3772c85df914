"""The PostgreSQL side of the mixed-cluster interop tests: database, topology, Node emitter.

* :func:`require_postgres_backend` skips while sioadapter has no ``postgresql`` backend.
* :func:`prepare_database` checks that PostgreSQL answers and creates the attachments table
  (``@socket.io/postgres-adapter`` 0.5 never creates it); skips, or fails under ``CI``.
* :func:`pg_topology` is the :class:`~..mixed.Topology` of a cluster on PostgreSQL:
  ``node_pg_server.js`` for the Node server, ``postgresql://`` managers for the Python nodes.
* :func:`formed` waits until every server counts every other one (heartbeats).
* :func:`run_node_pg_emitter` publishes with ``@socket.io/postgres-emitter`` 0.1.

SQL goes through ``node_pg_sql.js`` (the pinned ``pg`` of ``package-lock.json``), so the
fixtures need no Python driver beyond the one the backend brings.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import pytest

from ..harness_node import HERE, _end_process, _unavailable, node_env, to_wire
from ..mixed import MixedCluster, Topology, wait_formed

POSTGRES_URL = os.environ.get("SIOADAPTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""The database of the tests (``SIOADAPTER_PG_URL`` overrides it, as for tests/live/postgres):
trust authentication on loopback."""

TABLE = "socket_io_attachments"
"""The attachments table: both adapters' default name, shared by every test (rows are found
by id, and each adapter's cleanup only removes rows older than 30 s)."""

DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id          bigserial UNIQUE,
    created_at  timestamptz DEFAULT NOW(),
    payload     bytea
)"""
"""The table as @socket.io/postgres-adapter's README tells Node deployments to create it."""

NODE_PG_SERVER_JS = HERE / "node_pg_server.js"
NODE_PG_EMITTER_JS = HERE / "node_pg_emitter.js"
NODE_PG_SQL_JS = HERE / "node_pg_sql.js"

NO_BACKEND = (
    "sioadapter has no PostgreSQL backend yet (no 'postgresql' entry point in "
    "sioadapter.backends): the mixed PostgreSQL clusters need it"
)
MISSING_POSTGRES = (
    "start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test) "
    "or set SIOADAPTER_PG_URL, to run the PostgreSQL interop tests"
)

POOL_MAX = 2
"""The Node server's pg.Pool size: one client LISTENs, one publishes. With more, two of its
messages can take different connections and reach the others out of order, and the suite's
"nothing more will arrive" markers (``MixedCluster.quiet``) rely on each server's order."""

FORM_TIMEOUT = 15.0
"""Bound on a cluster's forming: heartbeatInterval (5 s) and a margin, should a first
announcement be missed."""

SQL_TIMEOUT = 20.0


def require_postgres_backend() -> None:
    """Skip without the backend (also under ``CI``: it was another branch's when this suite
    was written); skip, or fail under ``CI``, without psycopg (the extra)."""
    if not any(ep.name == "postgresql" for ep in entry_points(group="sioadapter.backends")):
        pytest.skip(NO_BACKEND)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed: pip install 'sioadapter[postgres]'")


async def run_sql(node: str, statements: Sequence[str], url: str = POSTGRES_URL) -> list[Any]:
    """Run ``statements`` in order on one connection; return each one's rows (dicts).

    Raises ``ConnectionError`` with PostgreSQL's (or pg's) message when one fails.
    """
    spec = {"postgres": url, "sql": list(statements)}
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_PG_SQL_JS),
        json.dumps(spec),
        cwd=HERE,
        env=node_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), SQL_TIMEOUT)
    except asyncio.TimeoutError:
        await _end_process(process, 0.5)
        raise ConnectionError(f"no answer from PostgreSQL within {SQL_TIMEOUT} s") from None
    if process.returncode != 0:
        raise ConnectionError(stderr.decode(errors="replace").strip())
    return [json.loads(line) for line in stdout.splitlines()]


async def prepare_database(node: str) -> None:
    """Check that PostgreSQL answers and create the attachments table if it is missing.

    Skips (fails under ``CI``) when PostgreSQL does not answer. The advisory lock keeps
    concurrent creations (other test runs on the same database) from colliding.
    """
    try:
        await run_sql(
            node,
            [
                "SELECT pg_advisory_lock(hashtext('sioadapter-interop-ddl'))",
                DDL,
                "SELECT pg_advisory_unlock(hashtext('sioadapter-interop-ddl'))",
            ],
        )
    except ConnectionError as error:
        _unavailable(f"{MISSING_POSTGRES} ({error})")


def pg_topology(url: str = POSTGRES_URL, **node_options: Any) -> Topology:
    """A mixed cluster on PostgreSQL: Node's adapter with ``channelPrefix`` = the key."""
    return Topology(
        mode="postgres",
        python_url=url,
        node_config={"postgres": url, "tableName": TABLE, "poolMax": POOL_MAX, **node_options},
        node_script=NODE_PG_SERVER_JS,
    )


async def formed(mixed: MixedCluster) -> float:
    """Wait until the three servers count each other (heartbeats;
    :func:`~..mixed.wait_formed`)."""
    return await wait_formed(mixed, FORM_TIMEOUT)


async def run_node_pg_emitter(
    node: str, key: str, ops: Sequence[Mapping[str, Any]], url: str = POSTGRES_URL
) -> None:
    """Publish ``ops`` (``node_emitter.js``'s format) with ``@socket.io/postgres-emitter``.

    Returns once the process exited 0, after PostgreSQL answered every query, in the order
    of ``ops``; raises ``AssertionError`` with its stderr otherwise.
    """
    spec = {"postgres": url, "key": key, "tableName": TABLE, "ops": to_wire(list(ops))}
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_PG_EMITTER_JS),
        json.dumps(spec),
        cwd=HERE,
        env=node_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 15.0)
    except asyncio.TimeoutError:
        await _end_process(process, 0.5)
        raise AssertionError("node_pg_emitter.js did not finish within 15 s") from None
    assert process.returncode == 0, f"node_pg_emitter.js failed: {stderr.decode(errors='replace')}"
