"""What python-socketio's Admin UI instrumentation relies on.

``sio.instrument()`` reads ``sio.manager.host_id`` as the server id, and learns about room
changes by wrapping the manager's ``basic_enter_room`` / ``basic_leave_room`` on the instance
(it also patches engine.io classes process-wide, so these tests wrap the two methods the same
way instead of instrumenting for real).
"""

from __future__ import annotations

from typing import Any

from .harness import Cluster


def record_room_changes(mgr: Any) -> list[tuple[str, str, str, Any]]:
    """Wrap ``basic_enter_room`` / ``basic_leave_room`` on ``mgr`` as the Admin UI does."""
    changes: list[tuple[str, str, str, Any]] = []
    enter, leave = mgr.basic_enter_room, mgr.basic_leave_room

    def basic_enter_room(sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        changes.append(("joined", sid, namespace, room))
        return enter(sid, namespace, room, eio_sid)

    def basic_leave_room(sid: str, namespace: str, room: Any) -> Any:
        changes.append(("left", sid, namespace, room))
        return leave(sid, namespace, room)

    mgr.basic_enter_room = basic_enter_room
    mgr.basic_leave_room = basic_leave_room
    return changes


async def test_host_id_is_a_distinct_string_per_node(cluster: Cluster) -> None:
    host_ids = [node.mgr.host_id for node in cluster.nodes]

    assert all(isinstance(h, str) and h for h in host_ids)
    assert len(set(host_ids)) == 3


async def test_cluster_room_changes_go_through_the_basic_room_methods(cluster: Cluster) -> None:
    owner = cluster.nodes[2]
    a, b, c, d = [await cluster.client(2) for _ in range(4)]
    changes = record_room_changes(owner.mgr)
    mgr0 = cluster.nodes[0].mgr

    await mgr0.sockets_join(["by-sockets-join"], to=a.sid)
    await mgr0.remote_join(b.sid, "by-remote-join")
    await cluster.nodes[0].sio.enter_room(c.sid, "by-enter-room")
    (remote_d,) = [s for s in await mgr0.fetch_sockets() if s.id == d.sid]
    await remote_d.join("by-remote-socket")
    await cluster.quiet(origin=0)

    joined = {(sid, room) for kind, sid, nsp, room in changes if kind == "joined" and nsp == "/"}
    expected = {
        (a.sid, "by-sockets-join"),
        (b.sid, "by-remote-join"),
        (c.sid, "by-enter-room"),
        (d.sid, "by-remote-socket"),
    }
    assert expected <= joined
    rooms = owner.sio.manager.rooms["/"]
    assert all(sid in rooms[room] for sid, room in expected)


async def test_cluster_room_leaves_go_through_the_basic_room_methods(cluster: Cluster) -> None:
    owner = cluster.nodes[1]
    a, b, c = [await cluster.client(1) for _ in range(3)]
    for client in (a, b, c):
        await cluster.join_locally(client, "vip")
    changes = record_room_changes(owner.mgr)
    mgr0 = cluster.nodes[0].mgr

    await mgr0.sockets_leave(["vip"], to=a.sid)
    await mgr0.remote_leave(b.sid, "vip")
    await cluster.nodes[0].sio.leave_room(c.sid, "vip")
    await cluster.quiet(origin=0)

    left = {(sid, room) for kind, sid, nsp, room in changes if kind == "left" and nsp == "/"}
    assert {(a.sid, "vip"), (b.sid, "vip"), (c.sid, "vip")} <= left
    assert "vip" not in owner.sio.manager.rooms["/"]
