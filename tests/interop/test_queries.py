"""Cluster queries across the language boundary: fetchSockets, allRooms, serverCount.

A Python node must describe its sockets the way Node does (``{id, handshake, rooms, data}``,
Node's handshake shape, the python-socketio session as ``data``), and read Node's answers.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest

from .mixed import REQUEST_PATHS, MixedCluster, topologies

pytestmark = pytest.mark.interop


# The fields of Node's Handshake interface.
HANDSHAKE_KEYS = {
    "headers",
    "time",
    "address",
    "xdomain",
    "secure",
    "issued",
    "url",
    "query",
    "auth",
}
# Date#toString() in UTC (the Node process runs with TZ=UTC).
JS_DATE = re.compile(
    r"^\w{3} \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT\+0000 \(Coordinated Universal Time\)$"
)


def expected_sockets(mixed: MixedCluster) -> dict[str, dict[str, Any]]:
    """What fetchSockets must report for each client: id, rooms and data."""
    return {
        mixed.sid(name): {
            "rooms": {mixed.sid(name), *mixed.rooms[name]},
            "data": {"name": name, "server": "node" if name == "node" else "python"},
        }
        for name in mixed.clients
    }


def check_handshake(handshake: dict[str, Any], mixed: MixedCluster, name: str) -> None:
    """Node's handshake shape, with values a Socket.IO v4 websocket client produces."""
    assert set(handshake) == HANDSHAKE_KEYS, handshake
    assert handshake["auth"] == {"name": name, "rooms": mixed.rooms[name]}
    assert handshake["address"] == "127.0.0.1"
    assert handshake["xdomain"] is False
    assert handshake["secure"] is False
    assert isinstance(handshake["issued"], int)
    assert JS_DATE.match(handshake["time"]), handshake["time"]
    # time is issued as Date#toString (second precision).
    when = datetime.strptime(handshake["time"][:24], "%a %b %d %Y %H:%M:%S")
    assert int(when.replace(tzinfo=timezone.utc).timestamp()) == handshake["issued"] // 1000
    assert handshake["url"].startswith("/socket.io/?")
    assert handshake["query"]["EIO"] == "4"
    assert handshake["query"]["transport"] == "websocket"
    headers = handshake["headers"]
    server_url = mixed.clients[name].node.url
    assert headers["host"] == server_url.removeprefix("http://")
    assert headers["upgrade"].lower() == "websocket"
    assert all(k == k.lower() and isinstance(v, str) for k, v in headers.items()), headers


@REQUEST_PATHS
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_fetch_sockets_returns_every_socket_described_like_node(
    mixed: MixedCluster, origin: str
) -> None:
    """Python sees the Node socket's handshake and data; Node sees the Python sockets'."""
    found = await mixed.fetch_sockets(origin)
    expected = expected_sockets(mixed)
    assert {sid: {"rooms": s["rooms"], "data": s["data"]} for sid, s in found.items()} == expected
    for name in mixed.clients:
        check_handshake(found[mixed.sid(name)]["handshake"], mixed, name)
    # Both languages describe one socket the same way: same keys, same value types.
    node_socket = found[mixed.sid("node")]["handshake"]
    py_socket = found[mixed.sid("py1")]["handshake"]
    assert {k: type(v) for k, v in py_socket.items()} == {
        k: type(v) for k, v in node_socket.items()
    }
    assert set(py_socket["headers"]) >= {"host", "upgrade", "connection"}


@pytest.mark.parametrize("origin", ["py0", "node"])
@pytest.mark.parametrize(
    ("rooms", "except_rooms", "selected"),
    [
        (["room1"], [], {"py0", "node"}),
        (["room2"], ["room1"], {"py1"}),
        ([], ["room2"], {"py0"}),
        (["room3"], [], {"py0"}),
        (["nobody-here"], [], set()),
    ],
)
async def test_fetch_sockets_selected_by_rooms(
    mixed: MixedCluster,
    origin: str,
    rooms: list[str],
    except_rooms: list[str],
    selected: set[str],
) -> None:
    found = await mixed.fetch_sockets(origin, rooms, except_rooms)
    assert set(found) == {mixed.sid(name) for name in selected}


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_all_rooms_lists_every_room_of_every_server(mixed: MixedCluster, origin: str) -> None:
    expected = {"room1", "room2", "room3", *(mixed.sid(name) for name in mixed.clients)}
    if origin == "node":
        rooms = set(await mixed.node.command("allRooms"))
    else:
        rooms = await mixed.mgr(origin).all_rooms()
    assert rooms == expected


@topologies()
async def test_server_count_counts_both_languages(mixed: MixedCluster) -> None:
    """NUMSUB (classic) or SHARDNUMSUB (sharded, summed over the masters) counts 3 servers."""
    counts = {
        "py0": await mixed.mgr("py0").server_count(),
        "py1": await mixed.mgr("py1").server_count(),
        "node": await mixed.node.command("serverCount"),
    }
    assert counts == {"py0": 3, "py1": 3, "node": 3}


@pytest.mark.parametrize("origin", ["py0", "py1"])
async def test_sockets_of_rooms_includes_node_sockets(mixed: MixedCluster, origin: str) -> None:
    """``mgr.sockets`` sends the SOCKETS request (type 0) that Node 8.x still answers."""
    mgr = mixed.mgr(origin)
    assert await mgr.sockets(["room1"]) == {mixed.sid("py0"), mixed.sid("node")}
    assert await mgr.sockets() == {mixed.sid(name) for name in mixed.clients}
