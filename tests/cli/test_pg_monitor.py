"""``sioadapter monitor postgresql://...``: a PostgreSQL cluster's traffic, decoded.

Two python-socketio nodes of ``tests/integration/harness.py`` on the real PostgreSQL of
tests/live/postgres (127.0.0.1:5432, trust, database ``test``), with a channel prefix of this
test's own; the monitor runs as a subprocess, as in test_cluster_tools.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from integration.harness import Cluster
from live.postgres.conftest import pg_url, short_key

import sioadapter

from .test_cluster_tools import fields, finish, start, started_monitor

__all__ = ["pg_url"]  # the fixture, imported for the tests below

pytestmark = [pytest.mark.timeout(90), pytest.mark.postgres]


async def test_the_monitor_decodes_a_postgres_clusters_traffic(pg_url: str) -> None:
    key = short_key(uuid.uuid4().hex)

    def factory(index: int, /, **options: Any) -> Any:
        options.setdefault("requests_timeout", 5.0)
        return sioadapter.AsyncClusterManager(pg_url, key=key, **options)

    async with Cluster(factory, nodes=2) as cluster:
        red = await cluster.client(0)
        blue = await cluster.client(1)
        await cluster.join_locally(red, "red")
        await cluster.join_locally(blue, "blue")
        node0 = cluster.nodes[0]
        types = ["--type", "Broadcast", "--type", "FetchSockets", "--type", "FetchSocketsResponse"]
        everything, said = await started_monitor(pg_url, "--key", key, *types, "--count", "4")
        in_blue, _ = await started_monitor(pg_url, "--key", key, "--room", "blue", "--count", "2")
        assert f"on {key}#/" in said

        await node0.sio.emit("paint", "blue!", to="blue")  # NOTIFY
        assert await blue.wait_for("paint") == [("blue!",)]
        big = "x" * 9000  # past the 8000-byte threshold: through socket_io_attachments
        await node0.sio.emit("poster", {"text": big, "raw": b"\x00\xff"}, to="blue")
        assert (await blue.wait_for("poster"))[0][0]["text"] == big
        # The monitors publish nothing: the nodes count each other only, and their requests
        # do not wait for a monitor.
        assert await node0.mgr.server_count() == 2
        assert len(await node0.mgr.fetch_sockets()) == 2  # request + 1 answer

        code, out, err = await finish(everything)
        assert code == 0, err
        lines = [fields(line) for line in out.splitlines()]
        sizes = [size(line) for line in out.splitlines()]
        assert [(f["kind"], f["type"]) for f in lines] == [
            ("main", "Broadcast"),
            ("main", "Broadcast"),
            ("main", "FetchSockets"),
            ("main", "FetchSocketsResponse"),
        ], out
        paint, poster, fetch, answer = lines
        assert (paint["rooms"], paint["event"], paint["from"]) == ("blue", "paint", node0.mgr.uid)
        assert (poster["event"], poster["from"]) == ("poster", node0.mgr.uid)
        assert sizes[1] > 9000, out  # the row's bytes, not the header's
        assert fetch["request"] == answer["request"]
        assert (answer["from"], answer["sockets"]) == (cluster.nodes[1].mgr.uid, "1")
        assert all(f["nsp"] == "/" for f in lines)

        code, out, err = await finish(in_blue)
        assert code == 0, err
        assert [fields(line)["event"] for line in out.splitlines()] == ["paint", "poster"]


async def test_the_redis_mode_is_refused_on_postgres_and_no_password_is_shown(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:S3cretPW@", 1)
    code, out, err = await finish(await start("monitor", url, "--mode", "sharded"))
    assert (code, out) == (2, "")
    assert "--mode is the Redis pub/sub mode" in err
    code, out, err = await finish(await start("monitor", url, "--key", "k" * 70, "--count", "1"))
    assert code == 2 and "63" in err, err
    assert "S3cretPW" not in err


def size(line: str) -> int:
    """The payload size of a monitor line (its ``<n>B`` token)."""
    return next(int(word[:-1]) for word in line.split() if re.fullmatch(r"[0-9]+B", word))
