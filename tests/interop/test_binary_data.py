"""Binary values on the request paths: socket data in fetchSockets, server-side event arguments.

Node's classic adapter writes these as JSON, where ``JSON.stringify`` turns a Buffer into
``{"type": "Buffer", "data": [...]}``: between two Node servers, a remote socket's data and
server-side event arguments hold that object, not a Buffer. sioadapter deliberately publishes
such a request or response as msgpack instead when it holds binary (``sioadapter/wire/
classic.py``), which Node 7.2+ decodes (it sniffs ``{``): Node code then gets a real Buffer from
a Python peer. It also turns Node's JSON form back into ``bytes`` for Python code. The sharded
adapter itself switches to msgpack when binary is present, so there both sides agree with Node.
These tests pin that behaviour: bytes stay bytes, whichever side sends.
"""

from __future__ import annotations

import pytest

from .mixed import BOTH_MODES, MixedCluster

pytestmark = pytest.mark.interop

BLOB = b"\x01\x02\xff"


@BOTH_MODES
async def test_socket_data_with_bytes_in_fetch_sockets(mixed: MixedCluster) -> None:
    py1 = mixed.py("py1")
    await py1.sio.save_session(mixed.sid("py1"), {"name": "py1", "blob": BLOB})
    await mixed.node.command("setData", sid=mixed.sid("node"), data={"name": "node", "blob": BLOB})

    seen_by_node = await mixed.fetch_sockets("node")
    assert seen_by_node[mixed.sid("py1")]["data"] == {
        "name": "py1",
        "blob": BLOB,  # between Node servers (classic): {"type": "Buffer", "data": [1, 2, 255]}
    }
    assert seen_by_node[mixed.sid("node")]["data"] == {"name": "node", "blob": BLOB}  # local

    seen_by_py0 = await mixed.fetch_sockets("py0")
    assert seen_by_py0[mixed.sid("node")]["data"] == {"name": "node", "blob": BLOB}
    assert seen_by_py0[mixed.sid("py1")]["data"] == {"name": "py1", "blob": BLOB}


@BOTH_MODES
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_server_side_emit_with_bytes(mixed: MixedCluster, origin: str) -> None:
    args = ("bin", BLOB, {"nested": BLOB})
    if origin == "node":
        await mixed.node.command("serverSideEmit", event="hello", args=list(args))
    else:
        await mixed.mgr(origin).server_side_emit("hello", *args)
    for name in ("py0", "py1", "node"):
        if name != origin:
            assert await mixed.server_events(name).wait_for("hello") == [args], name
