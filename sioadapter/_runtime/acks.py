"""Broadcasts every recipient acknowledges: ``emit_with_ack`` and ``callback=`` across nodes.

Node's ``broadcastWithAck``: the sender opens a request that expects, from every node serving
the namespace (itself included), one client count, then one acknowledgement per client counted
(the node's rules: :meth:`~sioadapter.core.node.ClusterNode.open_request`). The local part runs
through python-socketio's own callback table, so that a client's ACK packet reaches it as usual;
the remote parts arrive as BROADCAST_CLIENT_COUNT and BROADCAST_ACK answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..core.requests import RequestKind
from ..errors import RequestTimeoutError
from ..hooks import BROADCAST_DELIVER, BROADCAST_PUBLISH, BROADCAST_PUBLISHED, BroadcastEvent
from .operations import ClusterOperations

__all__ = ["AckedEmits", "ack_value"]

_BROADCAST_HOOKS = frozenset({BROADCAST_PUBLISH, BROADCAST_PUBLISHED, BROADCAST_DELIVER})


def ack_value(args: list[Any]) -> Any:
    """One acknowledgement as python-socketio's ``call()`` returns it."""
    if len(args) == 1:
        return args[0]
    return tuple(args) if args else None


class AckedEmits:
    """Acknowledged broadcasts of one manager.

    Args:
        ops: the manager's operations (requests, the node, the local side).
        spawn: runs a coroutine as a tracked task (an async ``callback=``).
    """

    def __init__(self, ops: ClusterOperations, spawn: Callable[[Any], Any]) -> None:
        self.ops = ops
        self._spawn = spawn

    async def emit(
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
        """A broadcast every recipient acknowledges.

        With ``on_ack`` it returns at once and calls ``on_ack(*args)`` per acknowledgement
        (python-socketio's ``callback=``); without, it waits and returns the answers
        (RequestTimeoutError with the partial answers, or them, per ``raise_timeout``).
        """
        ops = self.ops
        ops.check_answerable()  # a write-only manager hears no acks
        node, local, runner = ops.node, ops.local, ops.runner
        await ops.serve(nsp)
        hooks = runner.plugins.active
        view = None
        if hooks & _BROADCAST_HOOKS:
            view = BroadcastEvent(
                nsp, event, list(args), list(rooms), list(excluded), dict(flags or {}),
                uid=node.uid, acknowledged=True,
            )  # fmt: skip
            if runner.vetoed(BROADCAST_PUBLISH, view):
                return []
            event, args, rooms, excluded = view.event, view.args, view.rooms, view.except_rooms
            flags = view.flags
        data = [event, *args]
        local.encode_event(nsp, data)  # bad data fails here, before publishing
        # Encoded (and its size checked) before anything is opened or sent.
        request_id, publish = node.acked_broadcast(
            nsp, data, rooms, excluded, dict(flags or {}), timeout, single
        )
        others: int | frozenset[str] = 0
        if publish is not None:
            others = await ops.others(nsp)

        def deliver_ack(ack_args: list[Any]) -> None:
            if on_ack is None:
                return
            result = on_ack(*ack_args)
            if inspect.isawaitable(result):
                self._spawn(result)

        request, waiter = await ops.open(
            RequestKind.BROADCAST_ACK, request_id, publish, nsp, timeout,
            others=others, single=single, on_item=deliver_ack,
        )  # fmt: skip
        if view is not None and publish is not None and others:
            view.payload_size = len(publish.payload)
            runner.notify(BROADCAST_PUBLISHED, broadcast=view)

        def make_callback(sid: str) -> Callable[..., None]:
            def acknowledged(*ack_args: Any) -> None:
                runner.run(node.own_ack(request_id, nsp, list(ack_args)))

            return acknowledged

        registered: list[tuple[str, int]] = []
        if view is not None and BROADCAST_DELIVER in hooks:
            if not runner.vetoed(BROADCAST_DELIVER, view):
                registered = await local.deliver_with_ack(
                    nsp, [view.event, *view.args], view.rooms, view.except_rooms, make_callback
                )
        else:
            registered = await local.deliver_with_ack(nsp, data, rooms, excluded, make_callback)
        runner.waits.on_finish(request, lambda: local.forget_callbacks(registered))
        runner.run(node.own_client_count(request_id, nsp, len(registered)))
        if on_ack is not None:
            return []
        try:
            answers = await ops.wait(request, waiter)
        except RequestTimeoutError as error:
            error.responses = [ack_value(a) for a in error.responses]
            if raise_timeout:
                raise
            return error.responses
        return [ack_value(a) for a in answers]
