"""Local effects of cluster operations on one python-socketio AsyncServer.

Everything a node does to its own clients goes through here: delivering a broadcast, joining
and leaving rooms, disconnecting, describing sockets for ``fetch_sockets``. Room changes go
through the manager's ``basic_*`` methods so that python-socketio's admin UI, which wraps them,
sees every change.

Delivery encodes the Socket.IO packet once per broadcast and writes the same engine.io packets
to every recipient in one loop: no per-client encoding and no task per client (python-socketio's
own manager creates one task per recipient).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..core import selection
from ..remote_socket import build_handshake
from ..wire import _fastjson
from ..wire.notepack import has_binary
from .recovery import Hold
from .socketio_private import AsyncServerPort, forget_acks, new_ack_id

__all__ = ["LocalSide", "RoomTable"]

logger = logging.getLogger("sioadapter")

# What python-socketio's Packet.encode writes with the standard json module.
_std_dumps = json.JSONEncoder(separators=(",", ":")).encode
_FAST = _fastjson.ENABLED


def _refuse(obj: object) -> object:
    raise TypeError(type(obj).__name__)


def _dumps(data: Any) -> str:
    """``_std_dumps(data)``'s JSON (TypeError as it raises), through orjson when installed:
    the same values, spelt as `sioadapter.wire._fastjson` says."""
    if _FAST:
        try:
            return _fastjson.dumps(data, _refuse).decode()
        except _fastjson._Declined:
            pass
    return _std_dumps(data)


AckCallback = Callable[..., None]


class RoomTable(Protocol):
    """What the local side uses of a python-socketio manager: its room table and callback
    table, its server, and the room primitives (through which python-socketio's admin UI sees
    every change)."""

    rooms: dict[str, dict[Any, dict[str, Any]]]
    callbacks: dict[str, dict[int, Any]]
    server: Any

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        """Put ``sid`` in ``room``."""

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        """Take ``sid`` out of ``room``."""


class LocalSide:
    """The local half of the cluster: python-socketio's room table and server.

    Args:
        manager: the python-socketio manager whose rooms and server these are.
    """

    def __init__(self, manager: RoomTable) -> None:
        self.manager = manager
        # The manager's server, reached through the one module that touches its internals
        # (bound by the manager's set_server; its methods are still looked up at each use).
        self.port = AsyncServerPort(None)
        # (eio_sid, namespace) -> (auth sent by the client, connection time)
        self.connections: dict[tuple[str, str], tuple[Any, float]] = {}
        #: Connections being restored (connection state recovery): eio_sid -> their hold.
        self.holds: dict[str, Hold] = {}
        #: Told the eio_sid of each connection this node closes on purpose (Node's
        #: ``disconnectSockets(true)``), before it is closed (connection state recovery).
        self.on_close: Callable[[str], None] | None = None

    def bind(self, server: Any) -> None:
        """Serve ``server``'s clients (python-socketio gave the manager its server)."""
        self.port = AsyncServerPort(server)

    def namespace_rooms(self, nsp: str) -> selection.NamespaceRooms:
        """This node's room table for ``nsp`` (empty when it has no socket there)."""
        rooms: selection.NamespaceRooms = self.manager.rooms.get(nsp, {})
        return rooms

    def select(self, nsp: str, rooms: Iterable[Any], except_rooms: Iterable[Any]) -> dict[str, Any]:
        """Local sockets targeted by rooms/except: {sid: eio_sid}."""
        return selection.select(self.namespace_rooms(nsp), rooms, except_rooms)

    def owns(self, sid: str, nsp: str) -> bool:
        """True if ``sid`` is connected (or connecting) to ``nsp`` on this node."""
        everyone = self.namespace_rooms(nsp).get(None)
        return bool(everyone) and sid in everyone  # type: ignore[operator]

    def encode_event(self, nsp: str, data: list[Any]) -> list[Any]:
        """The engine.io packets of an EVENT, encoded once (TypeError if data cannot be).

        With python-socketio's default packet class and no binary in ``data``, the text
        packet is built here directly (what ``Packet.encode`` writes: type, namespace, JSON),
        skipping its per-packet recursive binary scan; anything else goes through the
        server's own packet class (binary attachments, msgpack serializer, custom classes).
        """
        packet_class = self.port.packet_class
        if packet_class is sio_packet.Packet:
            text = None
            if packet_class.json.dumps is json.dumps:
                # The standard json.dumps (also behind engineio.json) refuses bytes: the binary
                # check for free. (try, not contextlib.suppress: this runs for every
                # delivery, and suppress costs ten times as much.)
                try:
                    text = _dumps(data)
                except TypeError:
                    text = None
            elif not has_binary(data):
                text = packet_class.json.dumps(data, separators=(",", ":"))
            if text is not None:
                prefix = "2" if nsp == "/" else f"2{nsp},"
                return [eio_packet.Packet(eio_packet.MESSAGE, prefix + text)]
        pkt = packet_class(sio_packet.EVENT, namespace=nsp, data=data)
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        return [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]

    async def deliver(
        self,
        nsp: str,
        data: list[Any],
        rooms: Sequence[Any] = (),
        except_rooms: Sequence[Any] = (),
        packets: list[Any] | None = None,
        offset: str | None = None,
    ) -> int:
        """Send an event to the selected local clients; returns how many got it. ``offset``:
        its stream entry id, when it carries one (connection state recovery)."""
        targets = selection.recipients(self.namespace_rooms(nsp), rooms, except_rooms)
        if not targets:
            return 0
        if packets is None:
            packets = self.encode_event(nsp, data)
        if self.holds:
            targets = self._through_holds(targets, packets, offset)
        port = self.port
        send_now = port.send_eio_packet_now  # looked up now: it may have been replaced
        if send_now is not None:
            for eio_sid in targets:
                for part in packets:
                    send_now(eio_sid, part)
            return len(targets)
        send = port.send_eio_packet
        if len(packets) == 1:  # a text packet, the common case: no inner loop
            [packet] = packets
            for eio_sid in targets:
                await send(eio_sid, packet)
            return len(targets)
        for eio_sid in targets:
            for part in packets:
                await send(eio_sid, part)
        return len(targets)

    def _through_holds(self, targets: Any, packets: list[Any], offset: str | None) -> list[Any]:
        """The targets to send to now: a restoring connection's delivery is held until what
        it missed is sent, and one it was already replayed is not sent again."""
        holds = self.holds
        now = []
        for eio_sid in targets:
            hold = holds.get(eio_sid)
            if hold is None:
                now.append(eio_sid)
            elif hold.buffer is not None:
                hold.buffer.append((packets, offset))
            elif hold.admits(offset):
                if offset is not None:  # later than every replayed one: no more to skip
                    del holds[eio_sid]
                now.append(eio_sid)
        return now

    async def send_packets(self, eio_sid: str, packets: list[Any]) -> None:
        """Send encoded engine.io packets to one client."""
        send = self.port.send_eio_packet
        for part in packets:
            await send(eio_sid, part)

    async def send_event(self, eio_sid: str, nsp: str, data: list[Any]) -> None:
        """Send one event to one client."""
        await self.send_packets(eio_sid, self.encode_event(nsp, data))

    async def deliver_with_ack(
        self,
        nsp: str,
        data: list[Any],
        rooms: Sequence[Any],
        except_rooms: Sequence[Any],
        make_callback: Callable[[str], AckCallback],
    ) -> list[tuple[str, int]]:
        """Send an event that each client must acknowledge.

        Each recipient gets its own packet id (that is what acknowledgements are matched on);
        ``make_callback(sid)`` gives the callable its acknowledgement arguments go to. Returns
        the (sid, ack id) pairs registered in python-socketio's callback table, so that the
        caller can withdraw them when it stops waiting.
        """
        port = self.port
        registered = []
        for sid, eio_sid in self.select(nsp, rooms, except_rooms).items():
            ack_id = new_ack_id(self.manager, sid, make_callback(sid))
            registered.append((sid, ack_id))
            pkt = port.packet_class(sio_packet.EVENT, namespace=nsp, data=data, id=ack_id)
            await port.send_packet(eio_sid, pkt)
        return registered

    def forget_callbacks(self, registered: Iterable[tuple[str, int]]) -> None:
        """Withdraw acknowledgement callbacks that were not called."""
        forget_acks(self.manager, registered)

    def join(self, nsp: str, sids: Iterable[str], rooms: Iterable[Any]) -> None:
        """Make local sockets join rooms (through ``basic_enter_room``)."""
        rooms = list(rooms)
        for sid in sids:
            for room in rooms:
                try:
                    self.manager.basic_enter_room(sid, nsp, room)
                except ValueError as error:  # python-socketio refuses to enter a sid room
                    logger.debug("cannot make %s join %r: %s", sid, room, error)

    def leave(self, nsp: str, sids: Iterable[str], rooms: Iterable[Any]) -> None:
        """Make local sockets leave rooms (through ``basic_leave_room``)."""
        rooms = list(rooms)
        for sid in sids:
            for room in rooms:
                self.manager.basic_leave_room(sid, nsp, room)

    async def disconnect(self, nsp: str, targets: dict[str, Any], close: bool) -> None:
        """Disconnect local sockets; ``close`` closes their whole engine.io connection."""
        server = self.manager.server
        for sid, eio_sid in targets.items():
            if close:
                if self.on_close is not None:
                    self.on_close(eio_sid)
                await self.port.close_connection(eio_sid)
            else:
                await server.disconnect(sid, namespace=nsp, ignore_queue=True)

    def connected(self, eio_sid: str, nsp: str, auth: Any) -> None:
        """Remember what Node's handshake needs and python-socketio does not keep: the auth
        the client sent, and when it connected."""
        self.connections[(eio_sid, nsp)] = (auth, time.time())

    def forget(self, eio_sid: str | None, nsp: str) -> None:
        """Drop a connection's handshake data."""
        if eio_sid is not None:
            self.connections.pop((eio_sid, nsp), None)

    async def describe(self, nsp: str, sockets: Mapping[str, str]) -> list[dict[str, Any]]:
        """`details` of each of ``sockets`` ({sid: eio_sid}), in their order, with their rooms
        read in one pass over the room table (`selection.rooms_by_sid`): asking each socket's
        rooms apart costs sockets x rooms, seconds for a fetch of 10,000 sockets."""
        rooms = selection.rooms_by_sid(self.namespace_rooms(nsp), sockets)
        return [await self.details(nsp, sid, eio, rooms[sid]) for sid, eio in sockets.items()]

    async def details(self, nsp: str, sid: str, eio_sid: str, rooms: list[Any]) -> dict[str, Any]:
        """One local socket as Node describes it: id, handshake, ``rooms`` (read by
        `describe`), data (the session)."""
        server = self.manager.server
        auth, when = self.connections.get((eio_sid, nsp), ({}, 0.0))
        environ = self.port.environ(eio_sid)
        try:
            session = await server.get_session(sid, namespace=nsp)
        except KeyError:  # the client disconnected meanwhile
            session = None
        return {
            "id": sid,
            "handshake": build_handshake(environ, auth, when),
            "rooms": rooms,
            "data": session,
        }
