"""python-socketio's manager contract, served by the cluster (a mixin of AsyncClusterManager).

python-socketio's server calls these methods: ``emit`` for every ``sio.emit``/``sio.call``,
``enter_room``/``leave_room``/``close_room``, ``can_disconnect``/``disconnect`` and the
``basic_*`` room primitives. Each one acts on this node's sockets directly and tells the other
nodes through the bus. Broadcasts pass through the plugin hooks
(:mod:`sioadapter.hooks`): publish (rewrite or veto before sending), published (observe the
encoded size), deliver (rewrite or veto before this node's clients get it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import socketio

from ._operations import DELIVER_HOOK, PUBLISH_HOOK, PUBLISHED_HOOK, as_args, as_rooms
from ._request_waits import CALL_TIMEOUT
from ._runtime.socketio_private import SPLIT_CONNECT
from .core.messages import EMITTER_UID, Broadcast, SocketsJoin, SocketsLeave, Target
from .hooks import BroadcastEvent, Origin

if TYPE_CHECKING:
    from ._bus import AsyncBus
    from ._local import LocalSide
    from ._room_channels import RoomChannels
    from .plugins import PluginHost
    from .wire.base import Family


def view_of(message: Broadcast, origin: Origin, size: int | None = None) -> BroadcastEvent:
    """A received broadcast as hooks see it."""
    target = message.target
    return BroadcastEvent(
        message.nsp,
        message.data[0],
        list(message.data[1:]),
        list(target.rooms),
        list(target.except_rooms),
        dict(target.flags),
        origin,
        message.uid,
        acknowledged=message.request_id is not None,
        payload_size=size,
    )


def origin_of(message: Broadcast) -> Origin:
    """Where a received broadcast came from."""
    return "emitter" if message.uid == EMITTER_UID else "remote"


class SocketIOContract(socketio.AsyncManager):  # type: ignore[misc]
    """Base of AsyncClusterManager: the methods python-socketio's server calls."""

    if TYPE_CHECKING:
        uid: str
        ack_timeout: float
        plugins: PluginHost
        _bus: AsyncBus
        _local: LocalSide
        _family: Family
        _rooms: RoomChannels | None
        _served: set[str]

        async def _serve(self, nsp: str) -> None: ...
        async def _publish(self, message: Any) -> None: ...
        async def _emit_acked(self, *args: Any, **kwargs: Any) -> list[Any]: ...
        async def disconnect_sockets(self, *args: Any, **kwargs: Any) -> None: ...

    async def deliver_view(self, view: BroadcastEvent, packets: list[Any] | None = None) -> int:
        """Deliver a broadcast to this node's clients through the deliver hook; returns how
        many clients got it (0 when a plugin vetoed it)."""
        if DELIVER_HOOK in self.plugins.active:
            before = (view.event, list(view.args))
            if self.plugins.vetoed(DELIVER_HOOK, broadcast=view):
                return 0
            if (view.event, view.args) != before:
                packets = None  # rewritten: encode what the plugins left
        data = [view.event, *view.args]
        return await self._local.deliver(
            view.namespace, data, view.rooms, view.except_rooms, packets
        )

    # -- room channels (ClusterAdapter dynamic subscription modes) ------------------------

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        created = room not in self.rooms.get(namespace, {})
        result = super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if created and room is not None:
            self._room_created(namespace, room)
        return result

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        result = super().basic_leave_room(sid, namespace, room)
        if room is not None and room not in self.rooms.get(namespace, {}):
            self._room_deleted(namespace, room)
        return result

    def _room_created(self, nsp: str, room: Any) -> None:
        if self._rooms is not None and nsp in self._served:
            self._rooms.created(nsp, room)

    def _room_deleted(self, nsp: str, room: Any) -> None:
        if self._rooms is not None and nsp in self._served:
            self._rooms.deleted(nsp, room)

    async def _rooms_ready(self, nsp: str, rooms: Iterable[Any]) -> None:
        """Wait until local rooms just created are heard from every node (room channels)."""
        if self._rooms is not None:
            await self._rooms.ready(nsp, rooms)

    def _just_changed(self, nsp: str, room: Any) -> bool:
        return self._rooms is not None and self._rooms.just_changed(nsp, room)

    async def _publish_room_change(self, message: SocketsJoin | SocketsLeave) -> None:
        if self._rooms is not None:
            self._rooms.changed(message.nsp, message.rooms)
        await self._publish(message)

    # -- python-socketio's manager contract -------------------------------------------------

    async def pre_connect(self, eio_sid: str, namespace: str) -> Any:
        await self._serve(namespace)
        return await super().pre_connect(eio_sid, namespace)

    async def connect(self, sid: str, namespace: str) -> Any:
        if not SPLIT_CONNECT:  # python-socketio < 5.18 calls connect(eio_sid, ...) only
            await self._serve(namespace)
        result = await super().connect(sid, namespace)
        # dynamic-private mode subscribes each socket's own room: be listening before the
        # client hears it is connected.
        await self._rooms_ready(namespace, [result])
        return result

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        self._local.forget(self.eio_sid_from_sid(sid, namespace), namespace)
        return super().basic_disconnect(sid, namespace, **kwargs)

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        *,
        except_rooms: Any = None,
        flags: dict[str, Any] | None = None,
        ignore_queue: bool = False,
        call_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Emit ``event`` to every client of the cluster that the target selects.

        ``to``/``room``: a room, a sid, or a list of them (none: everyone). ``skip_sid``: a sid
        or list of sids left out. ``except_rooms``: rooms left out (Node's ``except``).
        ``callback`` is called with each recipient's acknowledgement, wherever it is connected,
        for at most ``ack_timeout`` seconds, or ``call_timeout`` when shorter (``sio.call()``
        passes its own ``timeout`` this way, so nothing waits after the caller gave up).
        ``ignore_queue`` delivers to this node's clients only.
        """
        nsp = namespace or "/"
        target_room = to if to is not None else room
        args = as_args(data)
        rooms = as_rooms(target_room)
        excluded = as_rooms(except_rooms) + as_rooms(skip_sid)
        if ignore_queue:
            view = BroadcastEvent(nsp, event, args, rooms, excluded, dict(flags or {}))
            await self.deliver_view(view)
            return
        if callback is not None:
            if call_timeout is None:
                call_timeout = CALL_TIMEOUT.get()
                if call_timeout is not None:
                    CALL_TIMEOUT.set(None)  # for this emit only, not for what it spawns
            timeout = self.ack_timeout
            if isinstance(call_timeout, (int, float)) and 0 < call_timeout < timeout:
                timeout = float(call_timeout)
            await self._emit_acked(
                event,
                args,
                nsp,
                rooms,
                excluded,
                on_ack=callback,
                timeout=timeout,
                single=len(rooms) == 1,
                flags=flags,
                raise_timeout=False,
            )
            return
        view = BroadcastEvent(nsp, event, args, rooms, excluded, dict(flags or {}), "local",
                              self.uid)  # fmt: skip
        await self.broadcast(view)

    async def broadcast(self, view: BroadcastEvent) -> None:
        """Send a broadcast to the cluster and to this node's clients, through the hooks."""
        await self._serve(view.namespace)
        hooks = self.plugins.active
        if PUBLISH_HOOK in hooks and self.plugins.vetoed(PUBLISH_HOOK, broadcast=view):
            return
        nsp, rooms = view.namespace, view.rooms
        data = [view.event, *view.args]
        packets = None
        if self._local.namespace_rooms(nsp):
            # Encoded for this node's clients first, so bad data fails before publishing.
            packets = self._local.encode_event(nsp, data)
        if not (len(rooms) == 1 and self._local.owns(str(rooms[0]), nsp)):
            # A sid room lives on one node only: when it is ours there is nobody to tell.
            target = Target(list(rooms), list(view.except_rooms), dict(view.flags))
            room_channel = len(rooms) != 1 or not self._just_changed(nsp, rooms[0])
            channel, payload = self._family.encode(
                Broadcast(nsp, self.uid, data, target), use_room_channel=room_channel
            )
            self._bus.publish_raw(channel, payload)
            view.payload_size = len(payload)
            await self._bus.wait_writable()
        if PUBLISHED_HOOK in hooks:
            self.plugins.call(PUBLISHED_HOOK, broadcast=view)
        await self.deliver_view(view, packets)

    async def can_disconnect(self, sid: str, namespace: str) -> bool:
        if self._local.owns(sid, namespace):
            return bool(self.is_connected(sid, namespace))
        await self.disconnect_sockets(False, to=sid, namespace=namespace, single=True)
        return False

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        if kwargs.get("ignore_queue") or self._local.owns(sid, namespace):
            return self.basic_disconnect(sid, namespace)
        await self.disconnect_sockets(False, to=sid, namespace=namespace, single=True)
        return None

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        if eio_sid is not None or self._local.owns(sid, namespace):
            result = self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
            await self._rooms_ready(namespace, [room])
            return result
        await self._publish_room_change(SocketsJoin(namespace, self.uid, Target([sid]), [room]))
        return None

    async def leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        if self._local.owns(sid, namespace):
            return self.basic_leave_room(sid, namespace, room)
        await self._publish_room_change(SocketsLeave(namespace, self.uid, Target([sid]), [room]))
        return None

    async def close_room(self, room: Any, namespace: str | None = None) -> None:
        nsp = namespace or "/"
        self.basic_close_room(room, nsp)
        await self._publish_room_change(SocketsLeave(nsp, self.uid, Target([room]), [room]))
