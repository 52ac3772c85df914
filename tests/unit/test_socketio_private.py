"""python-socketio's internals that sioadapter uses (sioadapter._runtime.socketio_private),
checked against real servers and clients: an AsyncServer under aiohttp and a sync Server
under werkzeug's threaded server, on loopback ports, with real ``socketio.AsyncClient``s.

These are what break first when python-socketio changes; .ci/run runs them on the lowest
versions pyproject.toml allows and on the newest.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import socketio
from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from werkzeug.serving import make_server

import sioadapter
from sioadapter._runtime.socketio_private import (
    AsyncServerPort,
    bound_call_timeout,
    forget_acks,
    intercept_connect,
    new_ack_id,
    pending_acks,
)

TIMEOUT = 5.0
_names = itertools.count(1)


# -- servers and clients --------------------------------------------------------------------


class Inbox:
    """What a client received, awaitable: ``await inbox.next()`` gives the next event."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def put(self, *item: Any) -> None:
        self.queue.put_nowait(item)

    async def next(self) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)


async def connect(url: str, namespaces: list[str] | None = None, auth: Any = None) -> Any:
    """A real client; every event it gets (and its disconnects) goes to ``client.inbox``."""
    client = socketio.AsyncClient(reconnection=False)
    inbox = client.inbox = Inbox()
    namespaces = namespaces or ["/"]
    for namespace in namespaces:
        # One handler set per namespace: python-socketio 5.11's client has no "*" namespace.
        install(client, inbox, namespace)
    await client.connect(
        url,
        namespaces=namespaces,
        auth=auth,
        transports=["websocket"],
        wait_timeout=TIMEOUT,
    )
    return client


def install(client: Any, inbox: Inbox, namespace: str) -> None:
    async def on_any(event: str, *args: Any) -> Any:
        inbox.put(event, namespace, *args)
        # Acknowledged events are answered with their int arguments doubled.
        return [arg * 2 for arg in args if isinstance(arg, int)]

    async def on_disconnect(*reason: Any) -> None:
        inbox.put("disconnect", namespace)

    client.on("*", on_any, namespace=namespace)
    client.on("disconnect", on_disconnect, namespace=namespace)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Any], Any]]:
    """``url = await serve(sio)``: the AsyncServer served by aiohttp on a loopback port."""
    runners: list[web.AppRunner] = []

    async def start(sio: Any) -> str:
        app = web.Application()
        sio.attach(app)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def serve_sync() -> Iterator[Callable[[Any], str]]:
    """``url = serve_sync(sio)``: the sync Server under werkzeug's threaded server."""
    servers: list[Any] = []

    def start(sio: Any) -> str:
        server = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(TIMEOUT)
        server.server_close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Any]]:
    """Clients a test appends here are disconnected at its end."""
    opened: list[Any] = []
    yield opened
    for client in opened:
        await client.disconnect()


def eio_sid_of(sio: Any, client: Any, namespace: str = "/") -> str:
    sid = client.get_sid(namespace)
    eio_sid: str = sio.manager.eio_sid_from_sid(sid, namespace)
    return eio_sid


# -- AsyncServer ---------------------------------------------------------------------------


async def test_a_packet_written_with_send_eio_packet_reaches_the_client(
    serve: Any, clients: list[Any]
) -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    client = await connect(await serve(sio))
    clients.append(client)

    # What LocalSide.deliver writes: an EVENT encoded once, in an engine.io MESSAGE.
    pkt = eio_packet.Packet(eio_packet.MESSAGE, '2["news",{"n":1}]')
    await AsyncServerPort(sio).send_eio_packet(eio_sid_of(sio, client), pkt)

    assert await client.inbox.next() == ("news", "/", {"n": 1})


async def test_an_ack_id_from_new_ack_id_gets_the_clients_acknowledgement(
    serve: Any, clients: list[Any]
) -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp", namespaces="*")
    client = await connect(await serve(sio), namespaces=["/chat"])
    clients.append(client)
    port = AsyncServerPort(sio)
    answered: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
    sid = client.get_sid("/chat")

    ack_id = new_ack_id(sio.manager, sid, lambda *args: answered.set_result(args))
    assert pending_acks(sio.manager) == 1
    pkt = port.packet_class(sio_packet.EVENT, namespace="/chat", data=["double", 21], id=ack_id)
    await port.send_packet(eio_sid_of(sio, client, "/chat"), pkt)

    assert await asyncio.wait_for(answered, TIMEOUT) == ([42],)
    assert pending_acks(sio.manager) == 0  # python-socketio dropped the answered callback


async def test_forgotten_ack_callbacks_are_no_longer_pending(
    serve: Any, clients: list[Any]
) -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    client = await connect(await serve(sio))
    clients.append(client)
    sid = client.get_sid("/")
    first = new_ack_id(sio.manager, sid, lambda *args: None)
    second = new_ack_id(sio.manager, sid, lambda *args: None)

    forget_acks(sio.manager, [(sid, first), ("gone-sid", 1)])

    assert first != second
    assert pending_acks(sio.manager) == 1


async def test_intercept_connect_sees_each_namespace_and_its_auth(
    serve: Any, clients: list[Any]
) -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp", namespaces="*")
    seen: list[tuple[str, str, Any]] = []
    intercept_connect(sio, lambda eio_sid, nsp, auth: seen.append((eio_sid, nsp, auth)))

    client = await connect(await serve(sio), namespaces=["/", "/chat"], auth={"token": "t1"})
    clients.append(client)

    eio_sid = eio_sid_of(sio, client)
    assert sorted(seen) == [(eio_sid, "/", {"token": "t1"}), (eio_sid, "/chat", {"token": "t1"})]
    assert eio_sid_of(sio, client, "/chat") == eio_sid


async def test_bound_call_timeout_is_seen_by_the_managers_emit_during_call(
    serve: Any, clients: list[Any]
) -> None:
    var: contextvars.ContextVar[float | None] = contextvars.ContextVar("t", default=None)
    seen: list[float | None] = []

    class Manager(socketio.AsyncManager):  # type: ignore[misc]
        async def emit(self, *args: Any, **kwargs: Any) -> Any:
            seen.append(var.get())
            return await super().emit(*args, **kwargs)

    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=Manager())
    assert bound_call_timeout(sio, var)
    client = await connect(await serve(sio))
    clients.append(client)

    answer = await sio.call("double", 4, to=client.get_sid("/"), timeout=3.5)
    await sio.emit("plain", 1)

    assert answer == [8]
    assert seen == [3.5, None]  # set for the call's emit only
    assert var.get() is None


async def test_environ_and_close_connection_act_on_one_engineio_connection(
    serve: Any, clients: list[Any]
) -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp", namespaces="*")
    client = await connect(await serve(sio), namespaces=["/", "/chat"])
    clients.append(client)
    port = AsyncServerPort(sio)
    eio_sid = eio_sid_of(sio, client)

    assert port.environ(eio_sid)["REMOTE_ADDR"] == "127.0.0.1"
    await port.close_connection(eio_sid)

    gone = {(await client.inbox.next()), (await client.inbox.next())}
    assert gone == {("disconnect", "/"), ("disconnect", "/chat")}
    assert port.environ(eio_sid) == {}


def test_namespaces_lists_what_the_server_declares() -> None:
    class Room(socketio.AsyncNamespace):  # type: ignore[misc]
        pass

    sio = socketio.AsyncServer(namespaces=["/listed"])
    sio.on("connect", lambda *args: None, namespace="/handled")
    sio.on("message", lambda *args: None, namespace="*")
    sio.register_namespace(Room("/class"))

    assert sorted(AsyncServerPort(sio).namespaces()) == ["/class", "/handled", "/listed"]


async def test_send_eio_packet_replaced_after_set_server_is_the_one_used(
    serve: Any, clients: list[Any]
) -> None:
    mgr = sioadapter.AsyncClusterManager(f"memory://private-{next(_names)}")
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=mgr)
    written: list[str] = []
    original = sio._send_eio_packet

    async def spy(eio_sid: str, pkt: Any) -> None:
        written.append(eio_sid)
        await original(eio_sid, pkt)

    sio._send_eio_packet = spy  # after set_server, as applications and benchmarks do
    try:
        client = await connect(await serve(sio))
        clients.append(client)
        await sio.emit("news", "hi")

        assert await client.inbox.next() == ("news", "/", "hi")
        assert eio_sid_of(sio, client) in written
    finally:
        await mgr.close()


# -- sync Server ---------------------------------------------------------------------------


async def test_sync_intercept_connect_sees_auth(serve_sync: Any, clients: list[Any]) -> None:
    sio = socketio.Server(async_mode="threading")
    seen: list[tuple[str, str, Any]] = []
    intercept_connect(sio, lambda eio_sid, nsp, auth: seen.append((eio_sid, nsp, auth)))

    client = await connect(serve_sync(sio), auth={"token": "t2"})
    clients.append(client)

    assert seen == [(eio_sid_of(sio, client), "/", {"token": "t2"})]


async def test_sync_bound_call_timeout_is_seen_by_the_managers_emit(
    serve_sync: Any, clients: list[Any]
) -> None:
    var: contextvars.ContextVar[float | None] = contextvars.ContextVar("t", default=None)
    seen: list[float | None] = []

    class Manager(socketio.Manager):  # type: ignore[misc]
        def emit(self, *args: Any, **kwargs: Any) -> Any:
            seen.append(var.get())
            return super().emit(*args, **kwargs)

    sio = socketio.Server(async_mode="threading", client_manager=Manager())
    assert bound_call_timeout(sio, var)
    client = await connect(serve_sync(sio))
    clients.append(client)

    answer = await asyncio.to_thread(sio.call, "double", 5, to=client.get_sid("/"), timeout=2.5)

    assert answer == [10]
    assert seen == [2.5]


async def test_sync_send_eio_packet_replaced_after_set_server_is_the_one_used(
    serve_sync: Any, clients: list[Any]
) -> None:
    mgr = sioadapter.ClusterManager(f"memory://private-{next(_names)}")
    sio = socketio.Server(async_mode="threading", client_manager=mgr)
    written: list[str] = []
    original = sio._send_eio_packet

    def spy(eio_sid: str, pkt: Any) -> None:
        written.append(eio_sid)
        original(eio_sid, pkt)

    sio._send_eio_packet = spy
    try:
        client = await connect(serve_sync(sio), namespaces=["/"])
        clients.append(client)
        await asyncio.to_thread(sio.emit, "news", "hi")

        assert await client.inbox.next() == ("news", "/", "hi")
        assert eio_sid_of(sio, client) in written
    finally:
        await asyncio.to_thread(mgr.close)
