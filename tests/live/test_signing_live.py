"""Message signing between real nodes, against an attacker who can publish on Redis.

Every test runs over the classic protocol and the ClusterAdapter protocol (``mode="sharded"``
on a standalone Redis 7), on real uvicorn nodes with real Socket.IO clients. The attacker is a
plain redis-py client: it publishes messages built with sioadapter's own families, unsigned or
signed with a key the nodes do not have, and listens on the response channels with a
subscriber of its own.

"It did nothing" is always bounded by an event, never a sleep: Redis delivers one publisher's
messages, and one channel's messages, in order, and the attacker publishes (and Redis accepts)
its forgeries before a legitimate operation starts, so a node handles the forgeries before the
legitimate request, and answers them (if it did) before answering it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
import socketio
from integration.harness import WAIT_TIMEOUT, Cluster, EventLog

import sioadapter
from sioadapter.cli._subscriber import Listener
from sioadapter.core.messages import (
    Broadcast,
    DisconnectSockets,
    FetchSockets,
    RemoteDisconnect,
    ServerSideEmit,
    ServerSideEmitResponse,
    SocketsJoin,
    Target,
)
from sioadapter.emitter import AsyncEmitter, Emitter
from sioadapter.hooks import hookimpl
from sioadapter.wire.base import Family
from sioadapter.wire.classic import ClassicFamily
from sioadapter.wire.cluster import ClusterFamily
from sioadapter.wire.signing import Signer, split, strip

K1 = b"live-signing-key-1-0123456789"
K2 = "live-signing-key-2-\u00e9-0123456789"
WRONG = b"an-attacker-guess-0123456789"
PROTOCOLS: dict[str, dict[str, Any]] = {"classic": {}, "cluster": {"mode": "sharded"}}

Keys = Sequence[bytes | str] | None


class DropLog:
    """A plugin recording ``sioadapter_message_dropped`` calls into an awaitable log."""

    def __init__(self, name: str) -> None:
        self.log = EventLog(f"{name} drops")

    @hookimpl
    def sioadapter_message_dropped(self, channel: str, reason: str) -> None:
        self.log.record("/", "dropped", (channel, reason))

    def reasons(self) -> list[str]:
        return [args[1] for args in self.log.received("dropped")]

    async def wait_for(self, count: int) -> None:
        await self.log.wait_for("dropped", count)


@pytest.fixture(params=list(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def signed_cluster(
    redis_standalone: Any, cluster_name: str, protocol: str
) -> Callable[..., Cluster]:
    """``signed_cluster([keys of node 0, keys of node 1, ...], **options)``: an unstarted
    Cluster whose node ``i`` has ``signing_keys=keys[i]`` and a :class:`DropLog` plugin
    (``node.mgr.drops``)."""

    def make(keys: Sequence[Keys], **options: Any) -> Cluster:
        def factory(index: int, /, **manager_options: Any) -> Any:
            drops = DropLog(f"node{index}")
            mgr = sioadapter.AsyncClusterManager(
                redis_standalone.url,
                key=cluster_name,
                signing_keys=keys[index],
                plugins=[drops],
                **PROTOCOLS[protocol],
                **options,
                **manager_options,
            )
            mgr.drops = drops
            return mgr

        return Cluster(factory, nodes=len(keys))

    return make


class Attacker:
    """Publishes hand-made messages with a plain Redis client; hears the response channels."""

    def __init__(self, url: str, key: str, protocol: str) -> None:
        self.sharded = protocol == "cluster"
        self.family: Family = (
            ClusterFamily(key, "attacker") if self.sharded else ClassicFamily(key, "attacker")
        )
        self.key = key
        self.client = aioredis.Redis.from_url(url)
        self.listener = Listener(url, self.sharded)

    async def listen_to_responses(self, requester_uids: Sequence[str]) -> None:
        """Subscribe (confirmed by Redis) to every channel a response to ``requester_uids``
        or to the attacker can travel on."""
        await self.listener.connect()
        if self.sharded:
            assert isinstance(self.family, ClusterFamily)
            channels = [self.family.node_channel("/", u) for u in [*requester_uids, "attacker"]]
            await self.listener.subscribe(channels, patterns=False)
        else:
            await self.listener.subscribe([f"{self.key}-response#*"], patterns=True)

    async def publish_raw(self, channel: str, payload: bytes) -> None:
        command = "SPUBLISH" if self.sharded else "PUBLISH"
        await self.client.execute_command(command, channel, payload)

    async def publish(self, message: Any, forgery: str) -> None:
        """Publish ``message`` unsigned, or signed with a key the nodes do not have."""
        channel, payload = self.family.encode(message)
        if forgery == "wrong-key":
            payload = Signer([WRONG]).sign(channel, payload)
        await self.publish_raw(channel, payload)

    async def responses_until(self, last: Callable[[Any], bool]) -> list[Any]:
        """The responses heard (decoded), up to the first one for which ``last`` is true."""
        seen: list[Any] = []
        while not (seen and last(seen[-1])):
            channel, payload = await asyncio.wait_for(self.listener.next(), WAIT_TIMEOUT)
            info = self.family.parse_channel(channel)
            assert info is not None, channel
            seen.append(self.family.decode(info, strip(payload)))
        return seen

    async def aclose(self) -> None:
        await self.listener.close()
        await self.client.aclose()


@pytest.fixture
async def attacker(
    redis_standalone: Any, cluster_name: str, protocol: str
) -> AsyncIterator[Attacker]:
    spy = Attacker(redis_standalone.url, cluster_name, protocol)
    try:
        yield spy
    finally:
        await spy.aclose()


async def capture(url: str, protocol: str, channel: str) -> Listener:
    """A subscriber on ``channel`` (confirmed), to see what nodes really publish. Classic: a
    pattern that is the channel itself (our keys hold no glob characters)."""
    sharded = protocol == "cluster"
    listener = Listener(url, sharded)
    await listener.connect()
    await listener.subscribe([channel], patterns=not sharded)
    return listener


def request_channel(mgr: Any, nsp: str = "/") -> str:
    """Where ``mgr`` publishes its requests (classic) or everything but responses (cluster)."""
    family = mgr.family
    if isinstance(family, ClassicFamily):
        return family.request_channel(nsp)
    return str(family.main_channel(nsp))


def response_channel(mgr: Any) -> str:
    """Where the answers to ``mgr``'s requests arrive. Listening there does not change the
    server count (SUBSCRIBE to a sharded main channel would: SHARDNUMSUB counts it)."""
    family = mgr.family
    if isinstance(family, ClassicFamily):
        return family.response_channel("/")
    return str(family.node_channel("/", mgr.uid))


# -- signing nodes work together -------------------------------------------------------------


async def test_signing_nodes_work_together(
    signed_cluster: Callable[..., Cluster], redis_standalone: Any, protocol: str
) -> None:
    async with signed_cluster([[K1, K2], [K2, K1]]) as cluster:
        # Node 0 signs with K1, node 1 with K2: each verifies the other's.
        node0, node1 = cluster.nodes
        for node in cluster.nodes:
            node.listen("whoami", f"node{node.index}")
        c0 = await cluster.client(0)
        c1 = await cluster.client(1)
        await cluster.join_locally(c1, "room1")
        wire = await capture(redis_standalone.url, protocol, response_channel(node0.mgr))
        try:
            sockets = await node0.mgr.fetch_sockets()
            channel, payload = await asyncio.wait_for(wire.next(), WAIT_TIMEOUT)
        finally:
            await wire.close()
        assert {s.id for s in sockets} == {c0.sid, c1.sid}
        # Node 1's answer travelled signed with its first key, for that channel.
        assert split(payload) is not None
        assert Signer([K2]).verify(channel, payload) == strip(payload)

        await node0.sio.emit("news", ("all", b"\x00\xff"))
        await node0.sio.emit("room-news", "r1", to="room1")
        await c1.wait_for("news")
        await c1.wait_for("room-news")
        assert c1.received("news") == [("all", b"\x00\xff")]
        assert c1.received("room-news") == [("r1",)]

        assert await node0.mgr.server_side_call("whoami") == ["node1"]
        assert await node1.mgr.server_side_call("whoami") == ["node0"]

        c1.on("ask", lambda x: x * 2)
        assert await node0.mgr.emit_with_ack("ask", 21, to="room1") == [42]

        await node0.mgr.sockets_join(["joined"], to=c1.sid)
        await cluster.quiet(0)
        assert "joined" in node1.sio.rooms(c1.sid)
        for node in cluster.nodes:
            assert node.mgr.stats.dropped_unsigned == node.mgr.stats.dropped_forged == 0


# -- forgeries are dropped before they act ---------------------------------------------------


@pytest.mark.parametrize("forgery", ["unsigned", "wrong-key"])
async def test_forged_requests_get_no_answer_and_do_nothing(
    signed_cluster: Callable[..., Cluster], attacker: Attacker, protocol: str, forgery: str
) -> None:
    async with signed_cluster([[K1], [K1]]) as cluster:
        node0, node1 = cluster.nodes
        node1.listen("hello", "answered")
        victim = await cluster.client(1)
        await attacker.listen_to_responses([node0.mgr.uid])
        everyone = Target()
        forged: list[Any] = [
            FetchSockets("/", "attacker", "evil-fetch", everyone),
            SocketsJoin("/", "attacker", everyone, ["pwned"]),
            DisconnectSockets("/", "attacker", everyone, close=True),
            ServerSideEmit("/", "attacker", ["hello", "evil"], "evil-call"),
            Broadcast("/", "attacker", ["evil-event", "spoofed"], everyone),
        ]
        if protocol == "classic":
            forged.append(RemoteDisconnect("/", "attacker", "evil-remote", victim.sid, True))
        for message in forged:
            await attacker.publish(message, forgery)

        # Legitimate requests made afterwards get their answers...
        sockets = await node0.mgr.fetch_sockets()
        assert await node0.mgr.server_side_call("hello", "legit") == ["answered"]
        # ...and the forged ones, which every node handled before them, got none: any answer
        # to them would have reached the attacker before the answer to the legitimate call.
        responses = await attacker.responses_until(
            lambda m: isinstance(m, ServerSideEmitResponse) and not m.request_id.startswith("evil")
        )
        await attacker.listener.close()  # before the cluster's check for leftover tasks
        request_ids = [str(getattr(m, "request_id", "")) for m in responses]
        assert not any(r.startswith("evil") for r in request_ids), request_ids

        await cluster.quiet(0)
        assert [s.id for s in sockets] == [victim.sid]
        assert "pwned" not in node1.sio.rooms(victim.sid)
        assert "pwned" not in sockets[0].rooms
        assert victim.is_connected()
        assert victim.count("disconnect") == 0
        assert victim.count("evil-event") == 0
        assert node1.server_events.received("hello") == [("legit",)]
        stats = node1.mgr.stats
        counted = stats.dropped_unsigned if forgery == "unsigned" else stats.dropped_forged
        assert counted == len(forged)
        assert stats.dropped_unsigned + stats.dropped_forged == len(forged)
        kind = "unsigned" if forgery == "unsigned" else "forged"
        reasons = node1.mgr.drops.reasons()
        assert len(reasons) == len(forged)
        assert all(reason.startswith(f"{kind}:") for reason in reasons), reasons


async def test_a_signed_message_moved_to_another_channel_is_forged(
    signed_cluster: Callable[..., Cluster], attacker: Attacker, redis_standalone: Any, protocol: str
) -> None:
    """The MAC covers the channel: a join captured in one namespace cannot be replayed into
    another. (Replaying it on its own channel is not detected: see docs/security.md.)"""
    async with signed_cluster([[K1], [K1]]) as cluster:
        node0, node1 = cluster.nodes
        victim = await cluster.client(1, ["/", "/other"])
        source = request_channel(node0.mgr, "/other")
        wire = await capture(redis_standalone.url, protocol, source)
        try:
            await node0.mgr.sockets_join(["vip"], namespace="/other")
            channel, payload = await asyncio.wait_for(wire.next(), WAIT_TIMEOUT)
        finally:
            await wire.close()
        assert channel == source
        await cluster.quiet(0)
        assert "vip" in node1.sio.rooms(victim.sids["/other"], namespace="/other")

        # The same signed bytes, on the "/" namespace's channel.
        await attacker.publish_raw(request_channel(node0.mgr), payload)
        await node0.mgr.fetch_sockets()  # handled after the replay, by every node
        await cluster.quiet(0)
        assert "vip" not in node1.sio.rooms(victim.sids["/"])
        assert node1.mgr.stats.dropped_forged == 1
        assert node1.mgr.drops.reasons()[0].startswith("forged:")


# -- key rotation and rolling upgrades ---------------------------------------------------------


@pytest.mark.parametrize(
    ("keys_a", "keys_b"),
    [
        ([K1], [K1, K2]),  # step 1 under way: the new key is added second, node by node
        ([K2, K1], [K1, K2]),  # step 2 under way: the new key moves first, node by node
        ([K2], [K2, K1]),  # step 3 under way: the old key is removed, node by node
    ],
    ids=["add-new-second", "move-new-first", "remove-old"],
)
async def test_each_step_of_the_rotation_keeps_the_cluster_working(
    signed_cluster: Callable[..., Cluster], keys_a: list[Any], keys_b: list[Any]
) -> None:
    async with signed_cluster([keys_a, keys_b]) as cluster:
        await _check_both_directions(cluster)


async def test_rolling_out_signing_with_signatures_optional(
    redis_standalone: Any, cluster_name: str, protocol: str
) -> None:
    """The first rollout: a node with keys that does not require signatures, beside a node
    without keys (it strips the signatures it receives)."""

    def factory(index: int, /, **options: Any) -> Any:
        keys = {"signing_keys": [K1], "require_signatures": False} if index == 0 else {}
        return sioadapter.AsyncClusterManager(
            redis_standalone.url, key=cluster_name, **keys, **PROTOCOLS[protocol], **options
        )

    async with Cluster(factory, nodes=2) as cluster:
        await _check_both_directions(cluster)


async def _check_both_directions(cluster: Cluster) -> None:
    for node in cluster.nodes:
        node.listen("whoami", f"node{node.index}")
    clients = [await cluster.client(0), await cluster.client(1)]
    for origin, receiver in [(0, clients[1]), (1, clients[0])]:
        await cluster.nodes[origin].sio.emit("hi", origin, skip_sid=clients[origin].sid)
        await receiver.log.wait_until(
            lambda o=origin, r=receiver: (o,) in r.received("hi"), what=f"hi from node{origin}"
        )
    assert await cluster.nodes[0].mgr.server_side_call("whoami") == ["node1"]
    assert await cluster.nodes[1].mgr.server_side_call("whoami") == ["node0"]
    for node in cluster.nodes:
        assert node.mgr.stats.dropped_unsigned == node.mgr.stats.dropped_forged == 0


async def test_skipping_a_rotation_step_drops_the_messages_of_the_newer_node(
    signed_cluster: Callable[..., Cluster],
) -> None:
    """Node A signs with K2 while node B only knows K1 (step 1 skipped on B): B's messages
    still verify on A, A's are dropped by B as forged."""
    async with signed_cluster([[K2, K1], [K1]]) as cluster:
        node_a, node_b = cluster.nodes
        on_a, on_b = await cluster.client(0), await cluster.client(1)
        await node_b.sio.emit("from-b", 1)
        assert await on_a.wait_for("from-b") == [(1,)]
        await node_a.sio.emit("from-a", 2)
        await node_b.mgr.drops.wait_for(1)  # the event that says B handled (dropped) it
        assert node_b.mgr.drops.reasons() == [
            "forged: the message's signature matches none of the signing keys"
        ]
        await cluster.quiet(1)
        assert on_b.count("from-a") == 0
        assert node_b.mgr.stats.dropped_forged == 1
        assert node_a.mgr.stats.dropped_forged == node_a.mgr.stats.dropped_unsigned == 0


# -- emitters --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["classic"], indirect=True)  # emitters are classic only
async def test_signed_emitters_reach_signing_nodes_and_unsigned_ones_are_dropped(
    signed_cluster: Callable[..., Cluster], redis_standalone: Any, cluster_name: str
) -> None:
    async with signed_cluster([[K1], [K1]]) as cluster:
        node1 = cluster.nodes[1]
        client = await cluster.client(1)
        await cluster.join_locally(client, "room1")
        unsigned = AsyncEmitter(redis_standalone.url, key=cluster_name)
        signed = AsyncEmitter(redis_standalone.url, key=cluster_name, signing_keys=[K1, K2])
        wrong = Emitter(redis_standalone.url, key=cluster_name, signing_keys=[WRONG])
        try:
            await unsigned.emit("unsigned", 1)
            await unsigned.to("room1").emit("unsigned", 2)
            await unsigned.sockets_join("from-unsigned")
            await asyncio.to_thread(wrong.emit, "wrong", 3)
            await signed.to("room1").emit("signed", 4)
            await signed.sockets_join("from-signed")
            # The node handles one connection's messages in order, and each emitter's publish
            # was accepted by Redis before the next one started.
            assert await client.wait_for("signed") == [(4,)]
            await signed.emit("last", 5)
            await client.wait_for("last")
        finally:
            await unsigned.aclose()
            await signed.aclose()
            wrong.close()
        assert client.count("unsigned") == client.count("wrong") == 0
        rooms = node1.sio.rooms(client.sid)
        assert "from-signed" in rooms
        assert "from-unsigned" not in rooms
        assert node1.mgr.stats.dropped_unsigned == 3
        assert node1.mgr.stats.dropped_forged == 1


# -- configuration -----------------------------------------------------------------------------


def test_short_keys_are_refused_before_connecting_and_never_shown() -> None:
    with pytest.raises(ValueError, match="too short") as raised:
        sioadapter.AsyncClusterManager("redis://127.0.0.1:1/0", signing_keys=[K1, "Zq9-short"])
    assert "Zq9" not in str(raised.value)
    with pytest.raises(ValueError, match="too short"):
        Emitter("redis://127.0.0.1:1/0", signing_keys=[b"Zq9-short"])


async def test_sync_cluster_manager_signs_and_verifies_too(
    redis_standalone: Any, cluster_name: str, protocol: str
) -> None:
    """ClusterManager passes the options through to its engine: it and an async node with
    the same key answer each other, and it drops unsigned messages."""
    options = {"key": cluster_name, "signing_keys": [K1], **PROTOCOLS[protocol]}
    sync_mgr = sioadapter.ClusterManager(redis_standalone.url, **options)
    async_mgr = sioadapter.AsyncClusterManager(redis_standalone.url, **options)
    try:
        socketio.Server(client_manager=sync_mgr, async_mode="threading")
        socketio.AsyncServer(client_manager=async_mgr, async_mode="asgi")
        sync_mgr.on("whoami", lambda: "sync")
        async_mgr.on("whoami", lambda: "async")
        await asyncio.to_thread(sync_mgr.start)
        await async_mgr.start()
        assert await async_mgr.server_side_call("whoami") == ["sync"]
        assert await asyncio.to_thread(sync_mgr.server_side_call, "whoami") == ["async"]
        attacker = Attacker(redis_standalone.url, cluster_name, protocol)
        try:
            await attacker.publish(ServerSideEmit("/", "attacker", ["whoami"]), "unsigned")
        finally:
            await attacker.aclose()
        await async_mgr.server_side_call("whoami")  # the sync node handled the forgery first
        assert sync_mgr.stats.dropped_unsigned == 1
        assert "live-signing" not in repr(vars(sync_mgr.engine))
    finally:
        await async_mgr.close()
        await asyncio.to_thread(sync_mgr.close)
