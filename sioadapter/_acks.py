"""Broadcasts every recipient acknowledges: ``emit_with_ack`` and ``callback=`` across nodes.

Node's ``broadcastWithAck``: the sender opens a request that expects, from every node serving
the namespace (itself included), one client count, then one acknowledgement per client counted.
The local part runs through python-socketio's own callback table, so that a client's ACK
packet reaches it as usual; the remote parts arrive as BROADCAST_CLIENT_COUNT and
BROADCAST_ACK answers. A mixin of AsyncClusterManager.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from ._operations import (
    _BROADCAST_HOOKS,
    DELIVER_HOOK,
    PUBLISH_HOOK,
    PUBLISHED_HOOK,
    ack_value,
    as_args,
    as_rooms,
    new_request_id,
)
from .core.messages import Broadcast, BroadcastAck, BroadcastClientCount, Target
from .core.requests import RequestKind
from .errors import RequestTimeoutError
from .hooks import BroadcastEvent

if TYPE_CHECKING:
    from ._runtime.bus import AsyncBus
    from ._runtime.local import LocalSide
    from .plugins import PluginHost
    from .wire.base import Family


class AckOperations:
    """Mixin of AsyncClusterManager: acknowledged broadcasts."""

    if TYPE_CHECKING:
        uid: str
        requests_timeout: float
        plugins: PluginHost
        _bus: AsyncBus
        _local: LocalSide
        _family: Family

        async def _serve(self, nsp: str) -> None: ...
        async def _others(self, nsp: str) -> int | frozenset[str]: ...
        def _spawn(self, coroutine: Any) -> Any: ...

    async def emit_with_ack(
        self,
        event: str,
        data: Any = None,
        namespace: str = "/",
        to: Any = None,
        except_rooms: Any = None,
        timeout: float | None = None,
        *,
        single: bool = False,
    ) -> list[Any]:
        """Emit to the selected clients of the whole cluster and return their acknowledgements.

        Node's ``io.timeout(t).emitWithAck(...)``. Each answer is the client's acknowledgement
        (a tuple when it sent several values). A room with no member gives ``[]``. Raises
        RequestTimeoutError, with the answers received in ``.responses``, when some client or
        node did not answer within ``timeout`` (default: ``requests_timeout``).
        """
        return await self._emit_acked(
            event,
            as_args(data),
            namespace,
            as_rooms(to),
            as_rooms(except_rooms),
            on_ack=None,
            timeout=timeout or self.requests_timeout,
            single=single,
            flags=None,
            raise_timeout=True,
        )

    async def _emit_acked(
        self,
        event: str,
        args: list[Any],
        nsp: str,
        rooms: list[Any],
        excluded: list[Any],
        *,
        on_ack: Callable[..., Any] | None,
        timeout: float,
        single: bool,
        flags: dict[str, Any] | None,
        raise_timeout: bool,
    ) -> list[Any]:
        """A broadcast every recipient acknowledges (Node's ``broadcastWithAck``).

        With ``on_ack`` it returns at once and calls ``on_ack(*args)`` per acknowledgement
        (python-socketio's ``callback=``); without, it waits and returns the answers.
        """
        await self._serve(nsp)
        hooks = self.plugins.active
        local_view = None
        if hooks & _BROADCAST_HOOKS:
            view = BroadcastEvent(
                nsp,
                event,
                list(args),
                list(rooms),
                list(excluded),
                dict(flags or {}),
                uid=self.uid,
                acknowledged=True,
            )
            if PUBLISH_HOOK in hooks and self.plugins.vetoed(PUBLISH_HOOK, broadcast=view):
                return []
            event, args, rooms, excluded = view.event, view.args, view.rooms, view.except_rooms
            flags = view.flags
            local_view = view
        data = [event, *args]
        self._local.encode_event(nsp, data)  # bad data fails here, before publishing
        request_id = new_request_id()
        wire_flags = dict(flags or {})
        if single:
            wire_flags["expectSingleResponse"] = True
        wire_flags["timeout"] = int(timeout * 1000)
        local_only = single and self._local.owns(str(rooms[0]), nsp)
        encoded: tuple[str, bytes] | None = None
        if not local_only:
            # Encoded (and its size checked) before anything is opened or sent.
            target = Target(rooms, excluded, wire_flags)
            encoded = self._family.encode(Broadcast(nsp, self.uid, data, target, request_id))
            self._bus.check_size(encoded[1], signed=False)
        others = await self._others(nsp)
        if local_only:
            others = 0 if isinstance(others, int) else frozenset()
        expected: int | Collection[str]
        expected = others + 1 if isinstance(others, int) else others | {self.uid}

        def deliver_ack(ack_args: list[Any]) -> None:
            if on_ack is None:
                return
            result = on_ack(*ack_args)
            if inspect.isawaitable(result):
                self._spawn(result)

        request, future = self._bus.open_request(
            request_id,
            RequestKind.BROADCAST_ACK,
            expected,
            timeout,
            single=single,
            on_item=deliver_ack,
        )
        if others and encoded is not None:
            channel, payload = encoded
            self._bus.publish_raw(channel, payload)
            if local_view is not None and PUBLISHED_HOOK in hooks:
                local_view.payload_size = len(payload)
                self.plugins.call(PUBLISHED_HOOK, broadcast=local_view)

        def make_callback(sid: str) -> Callable[..., None]:
            def acknowledged(*ack_args: Any) -> None:
                self._bus.feed(
                    BroadcastAck(nsp, self.uid, request_id, args=list(ack_args), has_data=True)
                )

            return acknowledged

        registered: list[tuple[str, int]] = []
        if local_view is not None and DELIVER_HOOK in hooks:
            if not self.plugins.vetoed(DELIVER_HOOK, broadcast=local_view):
                local_data = [local_view.event, *local_view.args]
                registered = await self._local.deliver_with_ack(
                    nsp, local_data, local_view.rooms, local_view.except_rooms, make_callback
                )
        else:
            registered = await self._local.deliver_with_ack(
                nsp, data, rooms, excluded, make_callback
            )
        self._bus.on_finish(request, lambda: self._local.forget_callbacks(registered))
        self._bus.feed(BroadcastClientCount(nsp, self.uid, request_id, len(registered)))
        if on_ack is not None:
            return []
        try:
            answers = await future
        except RequestTimeoutError as error:
            error.responses = [ack_value(a) for a in error.responses]
            if raise_timeout:
                raise
            return error.responses
        return [ack_value(a) for a in answers]
