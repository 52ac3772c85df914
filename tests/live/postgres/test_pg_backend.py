"""The PostgreSQL backend on the real server: what the integration suite does not show.

The wire as a raw psycopg listener sees it (NOTIFY payloads, attachment headers and rows),
binary and big payloads through the table, identical messages never folded, the table created
when missing, its cleanup, the URL forms and options, a ready connection, and errors that never
show the password.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redistopo._process import free_port

import sioadapter
from live.receiving import take
from sioadapter.backends import backend_from_url
from sioadapter.core import messages as m
from sioadapter.errors import BackendError
from sioadapter.wire.postgres import PostgresFamily

from .conftest import require_psycopg

require_psycopg()

import psycopg  # noqa: E402

from sioadapter.backends.postgres import PostgresBackend, PostgresRefusedError  # noqa: E402

TIMEOUT = 10.0
PASSWORD = "pg-S3cret-pw"


async def until(condition: Callable[[], Any], what: str) -> None:
    """Return once ``await condition()`` is true (bounded): the table has no event to wait on."""

    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110 (a table has no event to wait on)
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), TIMEOUT)
    except asyncio.TimeoutError:
        raise AssertionError(f"never: {what}") from None


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[PostgresBackend, PostgresBackend]]:
    backends = [PostgresBackend.from_url(pg_url) for _ in range(2)]
    for backend in backends:
        await backend.connect()
    yield backends[0], backends[1]
    for backend in backends:
        await backend.close()


@pytest.fixture
async def raw(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A plain psycopg connection (autocommit), as an operator's psql would be."""
    conn = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    yield conn
    await conn.close()


@pytest.fixture
def table_name() -> str:
    return f"att_{uuid.uuid4().hex[:12]}"


async def notifications(conn: Any, channel: str, count: int) -> list[str]:
    """The payloads of the next ``count`` notifications on ``channel`` (LISTEN first)."""
    got: list[str] = []

    async def collect() -> None:
        async for notify in conn.notifies():
            got.append(notify.payload)
            if len(got) >= count:
                return

    await asyncio.wait_for(collect(), TIMEOUT)
    return got


def test_the_url_schemes_pick_the_postgres_backend(pg_url: str) -> None:
    for url in ("postgresql://u@h:5432/db", "postgres://u@h/db", "POSTGRESQL://h/db"):
        assert isinstance(backend_from_url(url), PostgresBackend)
    mgr = sioadapter.AsyncClusterManager(pg_url)
    assert isinstance(mgr.backend, PostgresBackend)
    assert mgr.protocol == "postgres"
    assert mgr.heartbeats


async def test_the_wire_is_what_nodes_adapter_reads(
    pair: tuple[PostgresBackend, PostgresBackend], raw: Any, pg_key: str
) -> None:
    """JSON payloads as they are; binary and big ones as a header, with the row holding the
    family's msgpack; and the receiving backend gives the row back, in publish order."""
    sender, receiver = pair
    channel = f"{pg_key}#/"
    family = PostgresFamily(pg_key, "a21ec995e1aa76c0")
    plain = family.encode(m.Broadcast("/", family.uid, ["hello", 1], m.Target()))
    binary = family.encode(m.Broadcast("/", family.uid, ["bin", b"\x01\x02\xff"], m.Target()))
    big = family.encode(m.Broadcast("/", family.uid, ["big", "n" * 10_000], m.Target()))
    await raw.execute(f'LISTEN "{channel}"')
    await receiver.subscribe([channel])
    messages = [plain, binary, plain, big, plain]
    await sender.publish(messages)

    payloads = await notifications(raw, channel, 5)
    assert payloads[0] == payloads[2] == payloads[4] == plain[1].decode()
    headers = [json.loads(p) for p in (payloads[1], payloads[3])]
    for header, (_, row) in zip(headers, (binary, big), strict=True):
        assert list(header) == ["uid", "type", "attachmentId"]
        assert header["uid"] == family.uid
        assert header["type"] == 3
        assert isinstance(header["attachmentId"], str)  # as Node's adapter sends it
        cursor = await raw.execute(
            "SELECT payload FROM socket_io_attachments WHERE id = %s",
            (int(header["attachmentId"]),),
        )
        assert bytes((await cursor.fetchone())[0]) == row
    assert await take(receiver, 5) == messages
    assert receiver._attachments.fetched == 2


async def test_identical_messages_in_one_batch_all_arrive(
    pair: tuple[PostgresBackend, PostgresBackend], pg_key: str
) -> None:
    # PostgreSQL folds identical notifications of one transaction into one.
    sender, receiver = pair
    channel = f"{pg_key}#/"
    await receiver.subscribe([channel])
    await sender.publish([(channel, b'{"same":1}')] * 50)
    assert await take(receiver, 50) == [(channel, b'{"same":1}')] * 50


async def test_a_batch_shares_transactions_yet_keeps_duplicates_and_order(
    pair: tuple[PostgresBackend, PostgresBackend], raw: Any, pg_key: str
) -> None:
    """Distinct messages go in one transaction; a repeated one starts the next, so every
    message arrives, in publish order, to the backend and to a plain listener alike."""
    sender, receiver = pair
    channel = f"{pg_key}#/"
    await raw.execute(f'LISTEN "{channel}"')
    await receiver.subscribe([channel])
    distinct = [(channel, b'{"n":%d}' % i) for i in range(300)]
    await sender.publish(distinct)
    assert sender.transactions == 1
    assert await take(receiver, 300) == distinct

    a, b = (channel, b'{"m":"a"}'), (channel, b'{"m":"b"}')
    binary = (channel, b"\x81\xa1x\xc4\x01\x00")  # through the table, in the same order
    batch = [a, b, a, a, binary, b, (channel, b'{"m":"c"}'), a]
    before = sender.transactions
    await sender.publish(batch)
    assert sender.transactions - before == 4  # [a b] [a] [a binary b c] [a]
    assert await take(receiver, len(batch)) == batch
    payloads = await notifications(raw, channel, 300 + len(batch))
    assert [p.encode() for p in payloads[:300]] == [p for _, p in distinct]
    plain = [p.encode() for p in payloads[300:]]
    assert plain[:4] + plain[5:] == [p for _, p in batch[:4] + batch[5:]]
    assert json.loads(plain[4])["attachmentId"]


async def test_a_refusal_inside_a_shared_transaction_is_a_refusal_not_an_outage(
    pg_url: str, table_name: str, pg_key: str
) -> None:
    backend = PostgresBackend.from_url(pg_url, table_name=table_name, create_table=False)
    await backend.connect()
    try:
        await backend.subscribe([f"{pg_key}#/"])
        batch = [(f"{pg_key}#/", b'{"n":%d}' % i) for i in range(5)]
        with pytest.raises(PostgresRefusedError, match=f'relation "{table_name}" does not exist'):
            await backend.publish([*batch[:2], (f"{pg_key}#/", b"\x80"), *batch[2:]])
        await backend.publish(batch[4:])  # the connection still publishes
        assert await take(backend, 1) == batch[4:]  # the refused transaction sent nothing
    finally:
        await backend.close()


async def test_a_backend_skips_reading_its_own_attachments(pg_url: str, pg_key: str) -> None:
    channel = f"{pg_key}#/"
    backend = PostgresBackend.from_url(pg_url)
    await backend.connect()
    try:
        await backend.subscribe([channel])
        own = (channel, b"\x82\xa3uid\xa2me\xa1x\xc4\x01\x00")  # {"uid": "me", "x": <bin>}
        await backend.publish([own, (channel, b'{"after":1}')])
        assert await take(backend, 1) == [(channel, b'{"after":1}')]
        assert backend._attachments.fetched == 0
    finally:
        await backend.close()


async def test_the_table_is_created_when_missing_and_cleaned_up(
    pg_url: str, raw: Any, table_name: str, pg_key: str
) -> None:
    async def regclass() -> Any:
        cursor = await raw.execute("SELECT to_regclass(%s)", (table_name,))
        return (await cursor.fetchone())[0]

    async def rows() -> int:
        cursor = await raw.execute(f"SELECT count(*) FROM {table_name}")
        return int((await cursor.fetchone())[0])

    assert await regclass() is None
    backends = [
        PostgresBackend.from_url(f"{pg_url}?table_name={table_name}&cleanup_interval=0.5")
        for _ in range(3)
    ]
    try:
        await asyncio.gather(*(b.connect() for b in backends))  # racing to create it is fine
        assert await regclass() is not None
        cursor = await raw.execute(
            "SELECT column_name, data_type, column_default FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (table_name,),
        )
        columns = await cursor.fetchall()
        assert [(c[0], c[1]) for c in columns] == [
            ("id", "bigint"), ("created_at", "timestamp with time zone"), ("payload", "bytea"),
        ]  # fmt: skip
        assert columns[0][2].startswith("nextval(")
        assert columns[1][2] == "now()"
        await backends[0].publish([(f"{pg_key}#/", b"\x80")] * 3)
        assert await rows() == 3
        # Rows older than cleanup_interval go, as Node's adapter deletes them.
        await until(lambda: _is_zero(rows), "the rows were cleaned up")
    finally:
        for backend in backends:
            await backend.close()
        await raw.execute(f"DROP TABLE IF EXISTS {table_name}")


async def _is_zero(count: Callable[[], Any]) -> bool:
    return await count() == 0


async def test_without_create_table_a_missing_table_fails_the_publish(
    pg_url: str, table_name: str, pg_key: str
) -> None:
    backend = PostgresBackend.from_url(pg_url, table_name=table_name, create_table=False)
    await backend.connect()  # a NOTIFY-only emitter needs no table
    try:
        await backend.publish([(f"{pg_key}#/", b'{"small":1}')])
        with pytest.raises(PostgresRefusedError, match=f'relation "{table_name}" does not exist'):
            await backend.publish([(f"{pg_key}#/", b"\x80")])
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ("?table_name=my_att&payload_threshold=100&cleanup_interval=5&create_table=false"
         "&connect_timeout=2.5",
         {"table_name": "my_att", "payload_threshold": 100, "cleanup_interval": 5.0,
          "create_table": False, "_connect_timeout": 2.5}),
        ("?application_name=sio&sslmode=disable", {"table_name": "socket_io_attachments",
                                                    "payload_threshold": 8000}),
    ],
    ids=["own-options", "libpq-options"],
)  # fmt: skip
def test_url_options(query: str, options: dict[str, Any]) -> None:
    backend = PostgresBackend.from_url(f"postgresql://u:{PASSWORD}@db.example:5433/app{query}")
    for name, value in options.items():
        assert getattr(backend, name) == value
    assert "table_name" not in backend._conninfo
    assert PASSWORD not in repr(backend)
    assert repr(backend) == "<PostgresBackend postgresql postgresql://u:***@db.example:5433/app" + (
        "?application_name=sio&sslmode=disable>" if "application" in query else ">"
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: PostgresBackend.from_url("postgresql://h/db?payload_threshold=8001"),
         ValueError, "payload_threshold must be an int from 1 to 8000"),
        (lambda: PostgresBackend.from_url("postgresql://h/db?cleanup_interval=0"),
         ValueError, "cleanup_interval must be a positive number"),
        (lambda: PostgresBackend.from_url("postgresql://h/db?create_table=maybe"),
         ValueError, "bad value for PostgreSQL URL option 'create_table'"),
        (lambda: PostgresBackend.from_url("postgresql://h/db", table_name="x; DROP TABLE y"),
         ValueError, "table_name must be an SQL name"),
        (lambda: PostgresBackend.from_url(f"postgresql://u:{PASSWORD}@h/db?nosuch=1"),
         ValueError, r"libpq refuses the URL .*nosuch.*'postgresql://u:\*\*\*@h/db\?nosuch=1'"),
        (lambda: sioadapter.AsyncClusterManager("postgresql://h/db", tableName="t"),
         TypeError, "AsyncClusterManager.. got an unexpected keyword argument 'tableName'"),
        (lambda: sioadapter.AsyncClusterManager("postgresql://h/db", protocol="cluster"),
         ValueError, "speaks the 'postgres' protocol only"),
        (lambda: sioadapter.AsyncClusterManager("postgresql://h/db", key="k" * 62),
         ValueError, "PostgreSQL accepts 63 at most"),
    ],
    ids=["threshold", "cleanup", "boolean", "table", "libpq", "unknown", "protocol", "key"],
)  # fmt: skip
def test_bad_options_are_refused_clearly(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as raised:
        call()
    assert PASSWORD not in str(raised.value)


async def test_connection_errors_never_show_the_password(pg_url: str) -> None:
    url = pg_url.replace("postgres@", f"postgres:{PASSWORD}@").rsplit("/", 1)[0] + "/nosuchdb"
    backend = PostgresBackend.from_url(url)
    with pytest.raises(BackendError) as raised:
        await backend.connect()
    assert "nosuchdb" in str(raised.value)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in repr(backend)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__  # the driver's error is not shown either
    await backend.close()


async def test_an_unreachable_server_fails_connect_in_bounded_time() -> None:
    backend = PostgresBackend.from_url(
        f"postgresql://u@127.0.0.1:{free_port()}/db?connect_timeout=2"
    )
    with pytest.raises(BackendError, match="cannot reach PostgreSQL"):
        await asyncio.wait_for(backend.connect(), 5)
    await backend.close()


async def test_a_ready_connection_makes_a_manager_and_is_left_open(
    pg_url: str, pg_key: str
) -> None:
    import socketio

    client = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    mine = sioadapter.AsyncClusterManager(client=client, key=pg_key)
    other = sioadapter.AsyncClusterManager(pg_url, key=pg_key)
    try:
        assert isinstance(mine.backend, PostgresBackend)
        assert mine.backend.pub_client is client
        for mgr in (mine, other):
            socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
            await mgr.start()
        assert mine.backend.sub_client is not client  # LISTEN has a connection of its own
        other.on("ping", lambda: "pong")

        async def counted() -> None:
            while await mine.server_count() < 2:  # noqa: ASYNC110 (heartbeats: no event)
                await asyncio.sleep(0.05)

        await asyncio.wait_for(counted(), TIMEOUT)
        assert await mine.server_side_call("ping") == ["pong"]
    finally:
        await mine.close()
        await other.close()
    assert not client.closed  # the caller's, left open
    await client.close()


async def test_a_ready_connection_must_be_autocommit(pg_url: str) -> None:
    client = await psycopg.AsyncConnection.connect(pg_url)
    try:
        with pytest.raises(ValueError, match="autocommit"):
            sioadapter.AsyncClusterManager(client=client)
        with pytest.raises(ValueError, match="apply to a URL"):
            PostgresBackend("postgresql://h/db", client=client)
    finally:
        await client.close()


async def test_a_keyword_conninfo_never_shows_its_password() -> None:
    backend = PostgresBackend(
        f"host=127.0.0.1 port={free_port()} user=u password={PASSWORD} dbname=db",
        connect_timeout=2,
    )
    assert PASSWORD not in repr(backend)
    assert "host=127.0.0.1" in repr(backend)
    with pytest.raises(BackendError) as raised:
        await backend.connect()
    assert PASSWORD not in str(raised.value)
    await backend.close()


async def test_every_channel_is_listened_to_again_after_the_connection_is_lost(
    pair: tuple[PostgresBackend, PostgresBackend], raw: Any, pg_key: str
) -> None:
    sender, receiver = pair
    channels = [f"{pg_key}#/", f"{pg_key}#/chat"]
    errors: list[tuple[str, bool]] = []

    def record(error: BaseException, context: str) -> None:
        errors.append((str(error), receiver.receiving))

    receiver.set_error_handler(record)
    await receiver.subscribe(channels)
    pid = receiver.sub_client.info.backend_pid
    await raw.execute("SELECT pg_terminate_backend(%s)", (pid,))
    await until(_async(lambda: receiver.listener.restorations == 1), "restored")
    await asyncio.wait_for(receiver.wait_receiving(), TIMEOUT)
    assert receiver.receiving
    assert receiver.sub_client.info.backend_pid != pid
    assert len(errors) == 1
    assert "LISTEN connection was lost" in errors[0][0]
    assert errors[0][1] is False  # not receiving while restoring
    await sender.publish([(c, b'{"after":1}') for c in channels])
    assert await take(receiver, 2) == [(c, b'{"after":1}') for c in channels]
    assert receiver.tasks_alive()


def _async(check: Callable[[], bool]) -> Callable[[], Any]:
    async def run() -> bool:
        return check()

    return run


async def test_a_refused_batch_is_dropped_and_counted_not_held_as_an_outage(
    pg_url: str, pg_key: str, table_name: str
) -> None:
    mgr = sioadapter.AsyncClusterManager(
        pg_url, key=pg_key, table_name=table_name, create_table=False
    )
    try:
        await mgr.start()
        await mgr.emit("binary", b"\x01")  # needs the table, which is missing
        await mgr.flush()
        assert mgr.stats.publish_failed == 1
        assert mgr.stats.backend_errors == 1
        await mgr.emit("small", 1)
        await mgr.flush()
        assert mgr.stats.published >= 1
        assert mgr.healthy
    finally:
        await mgr.close()
