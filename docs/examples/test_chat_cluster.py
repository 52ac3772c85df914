"""A user's test of a chat app running as a 3-node cluster, with the sioadapter pytest plugin.

Runs as part of sioadapter's CI (``testpaths`` includes docs/examples). The fixture
``sioadapter_local_cluster`` comes from the plugin sioadapter installs; nothing to import.
"""

import asyncio


def chat_app(sio, index):
    """The app under test: the same handlers on every node."""

    @sio.event
    async def join(sid, room):
        await sio.enter_room(sid, room)

    @sio.event
    async def say(sid, room, text):
        await sio.emit("said", {"text": text, "node": index}, to=room)


async def test_a_message_reaches_room_members_on_every_node(sioadapter_local_cluster):
    async with sioadapter_local_cluster(nodes=3, setup=chat_app) as cluster:
        alice = await cluster.client(0)
        bob = await cluster.client(2)
        carol = await cluster.client(1)  # not in the room
        heard = {"alice": asyncio.Queue(), "bob": asyncio.Queue(), "carol": asyncio.Queue()}
        for name, client in {"alice": alice, "bob": bob, "carol": carol}.items():
            client.on("said", heard[name].put_nowait)

        await alice.call("join", "lobby")
        await bob.call("join", "lobby")
        await alice.call("say", ("lobby", "hello"))

        assert await asyncio.wait_for(heard["bob"].get(), 5) == {"text": "hello", "node": 0}
        assert await asyncio.wait_for(heard["alice"].get(), 5) == {"text": "hello", "node": 0}
        sockets = await cluster.nodes[1].mgr.fetch_sockets("lobby")
        assert {s.id for s in sockets} == {alice.get_sid(), bob.get_sid()}
        assert heard["carol"].empty()


async def test_the_memory_backend_works_the_same(sioadapter_local_cluster):
    async with sioadapter_local_cluster(nodes=2, backend="memory", setup=chat_app) as cluster:
        assert await cluster.nodes[0].mgr.server_count() == 2
