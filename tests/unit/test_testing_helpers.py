"""sioadapter.testing: N managers over one shared fakeredis server, as a user's test uses it."""

import fakeredis
import pytest
import socketio

from sioadapter.testing import fakeredis_managers


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_managers_over_one_fakeredis_server_form_a_cluster(mode):
    managers = fakeredis_managers(3, mode=mode, requests_timeout=2.0)
    for mgr in managers:
        socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
        await mgr.start()
    try:
        assert [await mgr.server_count() for mgr in managers] == [3, 3, 3]
        managers[1].on("double", lambda x: 2 * x)
        managers[2].on("double", lambda x: 2 * x)
        assert await managers[0].server_side_call("double", 21) == [42, 42]
    finally:
        for mgr in managers:
            await mgr.close()
    assert managers[0].pending_requests == 0


async def test_a_given_server_is_shared_and_separate_servers_are_not():
    server = fakeredis.FakeServer()
    first = fakeredis_managers(2, server=server)
    other = fakeredis_managers(1)
    for mgr in [*first, *other]:
        socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
        await mgr.start()
    try:
        assert await first[0].server_count() == 2
        assert await other[0].server_count() == 1
    finally:
        for mgr in [*first, *other]:
            await mgr.close()


def test_count_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        fakeredis_managers(0)
