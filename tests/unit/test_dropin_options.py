"""python-socketio's manager arguments on sioadapter's managers (docs/migration.md's table):
``channel=``, ``write_only=``, ``logger=``, ``json=``, ``redis_options=``, ``"redis://"``, and
unknown options named against the class the user called."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from decimal import Decimal
from typing import Any

import fakeredis
import pytest

import sioadapter
from sioadapter.backends.redis_url import parse_redis_url
from sioadapter.errors import WriteOnlyError


def hub() -> str:
    return f"memory://dropin-{uuid.uuid4().hex[:8]}"


# -- unknown options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        {"url": "redis://localhost:6379/0"},
        {"url": "memory://unknown-option"},
        {"client": "fake"},
    ],
    ids=["redis-url", "memory-url", "redis-client"],
)
def test_an_unknown_option_names_the_manager_and_the_option(where: dict[str, Any]) -> None:
    if "client" in where:
        where = {"client": fakeredis.FakeAsyncRedis()}
    with pytest.raises(TypeError) as caught:
        sioadapter.AsyncClusterManager(**where, not_an_option=1)
    message = str(caught.value)
    assert message == "AsyncClusterManager() got an unexpected keyword argument 'not_an_option'"


def test_the_sync_manager_names_itself_for_an_unknown_option() -> None:
    with pytest.raises(TypeError) as caught:
        sioadapter.ClusterManager("memory://sync-unknown", chanel="typo")
    assert str(caught.value) == "ClusterManager() got an unexpected keyword argument 'chanel'"


def test_backend_options_still_reach_the_backend() -> None:
    mgr = sioadapter.AsyncClusterManager("redis://localhost:6379/0", mode="sharded")
    assert mgr.backend.mode == "sharded"  # type: ignore[attr-defined]
    assert mgr.protocol == "cluster"


# -- channel= ----------------------------------------------------------------------------------


def test_channel_is_the_channel_prefix() -> None:
    mgr = sioadapter.AsyncClusterManager(hub(), channel="myapp")
    assert mgr.key == "myapp"
    assert mgr.family.subscriptions("/")[1] == ["myapp#/#*"]
    assert sioadapter.AsyncClusterManager(hub()).key == "socket.io"


def test_key_and_channel_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        sioadapter.AsyncClusterManager(hub(), key="a", channel="b")


# -- redis:// and redis_options= ---------------------------------------------------------------


def test_bare_redis_url_means_the_local_default_server() -> None:
    spec = parse_redis_url("redis://")
    assert (spec.hosts, spec.db, spec.tls) == ([("localhost", 6379)], 0, False)
    assert parse_redis_url("rediss://").hosts == [("localhost", 6379)]
    mgr = sioadapter.AsyncClusterManager("redis://")
    kwargs = mgr.backend.pub_client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("localhost", 6379, 0)


def test_redis_options_reach_the_redis_client() -> None:
    mgr = sioadapter.AsyncClusterManager(
        "redis://localhost:6379/3", redis_options={"socket_timeout": 7.5, "client_name": "x"}
    )
    kwargs = mgr.backend.pub_client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
    assert kwargs["socket_timeout"] == 7.5
    assert kwargs["client_name"] == "x"
    assert kwargs["db"] == 3


def test_redis_options_need_a_redis_url() -> None:
    with pytest.raises(ValueError, match="Redis URLs only"):
        sioadapter.AsyncClusterManager(hub(), redis_options={"socket_timeout": 1})
    with pytest.raises(ValueError, match="redis_options"):
        sioadapter.AsyncClusterManager(
            client=fakeredis.FakeAsyncRedis(), redis_options={"socket_timeout": 1}
        )
    with pytest.raises(TypeError, match="dict"):
        sioadapter.AsyncClusterManager("redis://", redis_options=["socket_timeout"])  # type: ignore[arg-type]


# -- logger= -----------------------------------------------------------------------------------


async def test_logger_true_logs_to_python_socketios_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mgr = sioadapter.AsyncClusterManager(hub(), logger=True)
    assert mgr._get_logger() is logging.getLogger("socketio")
    with caplog.at_level(logging.INFO, logger="socketio"):
        # python-socketio's own manager code logs through it: an ack nobody waits for.
        await mgr.trigger_callback("sid-nobody-has", 12345, [])
    assert [r.getMessage() for r in caplog.records if r.name == "socketio"] == [
        "Unknown callback received, ignoring."
    ]


def test_logger_false_keeps_only_errors() -> None:
    log = sioadapter.AsyncClusterManager(hub(), logger=False)._get_logger()
    assert not log.isEnabledFor(logging.WARNING)
    assert log.isEnabledFor(logging.ERROR)


def test_logger_may_be_a_logger_and_nothing_else() -> None:
    mine = logging.getLogger("tests.dropin")
    assert sioadapter.AsyncClusterManager(hub(), logger=mine)._get_logger() is mine
    with pytest.raises(TypeError, match="logger"):
        sioadapter.AsyncClusterManager(hub(), logger="socketio")  # type: ignore[arg-type]


# -- json= -------------------------------------------------------------------------------------


class DecimalJson:
    """A json= module as python-socketio takes: dumps/loads like the standard ones."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, default=lambda o: f"decimal:{o}", **kwargs)

    loads = staticmethod(json.loads)


@pytest.mark.parametrize("query", ["", "?patterns=0"], ids=["classic", "cluster"])
async def test_json_encodes_what_the_wire_refuses(query: str) -> None:
    url = hub() + query
    receiver = sioadapter.AsyncClusterManager(url)
    sender = sioadapter.AsyncClusterManager(url, json=DecimalJson)
    plain = sioadapter.AsyncClusterManager(url)
    got: asyncio.Queue[Any] = asyncio.Queue()
    receiver.on("price", lambda value: got.put_nowait(value))
    try:
        await receiver.start()
        assert sender.json is DecimalJson
        await sender.server_side_emit("price", Decimal("1.5"))
        assert await asyncio.wait_for(got.get(), 5) == "decimal:1.5"
        with pytest.raises(TypeError):
            await plain.server_side_emit("price", Decimal("1.5"))
    finally:
        for mgr in (receiver, sender, plain):
            await mgr.close()


# -- write_only= -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?counts=0"], ids=["counted", "heartbeats"])
async def test_write_only_publishes_and_is_not_a_server(query: str) -> None:
    url = hub() + query
    server = sioadapter.AsyncClusterManager(url, heartbeat_discovery=0.3)
    writer = sioadapter.AsyncClusterManager(url, write_only=True)
    got: asyncio.Queue[Any] = asyncio.Queue()
    server.on("note", lambda value: got.put_nowait(value))
    try:
        await server.start()
        await writer.server_side_emit("note", "from the writer")
        assert await asyncio.wait_for(got.get(), 5) == "from the writer"
        assert (writer.backend.channels, writer.backend.patterns) == (set(), {})  # type: ignore[attr-defined]
        assert await server.server_count() == 1
    finally:
        await writer.close()
        await server.close()


async def test_write_only_refuses_requests_with_a_clear_error() -> None:
    writer = sioadapter.AsyncClusterManager(hub(), write_only=True)
    calls = [
        writer.fetch_sockets(),
        writer.server_side_call("anything"),
        writer.emit_with_ack("ev", 1),
        writer.emit("ev", 1, to="some-sid", callback=lambda *a: None),
        writer.server_count(),
        writer.all_rooms(),
        writer.remote_join("some-sid", "room"),
    ]
    try:
        for call in calls:
            with pytest.raises(WriteOnlyError, match="write_only"):
                await call
        assert await writer.fetch_sockets(local=True) == []
    finally:
        await writer.close()


def test_the_sync_manager_takes_the_same_arguments() -> None:
    mgr = sioadapter.ClusterManager(hub(), channel="sync-prefix", write_only=True, logger=False)
    try:
        assert (mgr.key, mgr.write_only) == ("sync-prefix", True)
        assert not mgr._get_logger().isEnabledFor(logging.WARNING)
        mgr.emit("ev", {"a": 1}, room="r")  # publishing works without a server
        assert mgr.stats.publish_failed == 0
        with pytest.raises(WriteOnlyError):
            mgr.server_count()
    finally:
        mgr.close()
