"""nats-py's private API, touched here only; each use says why.

Checked against nats-py 2.6 to 2.x (``nats.aio.client.Client``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["chain_callback", "intercept_messages", "send_publishes", "subscription_id"]

Taker = Callable[[int, bytes], bool]
"""``taker(sid, payload)``: True if the message is ours (then nats-py does nothing with it)."""


def intercept_messages(client: Any, taker: Taker) -> None:
    """Hand every MSG frame to ``taker`` first, in the order the connection received them.

    Why: nats-py puts each subscription's messages on a queue read by a task of its own, so
    messages of two subjects may be handled in another order than they arrived (the backend
    contract needs arrival order across channels: a node's broadcast to a room and its next one
    to everybody must arrive in that order). The protocol parser calls the client's
    ``_process_msg(sid, subject, reply, data, headers)`` for each MSG, in arrival order, from
    the reading task; an instance attribute of that name wraps it for this client only.
    Messages ``taker`` does not claim go to nats-py as before, so a client shared with other
    code keeps working (and two backends on one client chain their wrappers).
    """
    original = client._process_msg

    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        if taker(sid, data):
            client.stats["in_msgs"] += 1  # what nats-py's own handler would have counted
            client.stats["in_bytes"] += len(data)
            return
        await original(sid, subject, reply, data, headers)

    client._process_msg = process_msg


async def send_publishes(client: Any, commands: bytes, messages: int, payload_bytes: int) -> None:
    """Queue ``commands`` (``messages`` PUB commands, already written, carrying
    ``payload_bytes`` of payload) in the client's output buffer, as ``publish`` queues one.

    Why: ``Client.publish`` costs a few microseconds per message (argument checks, subject
    validation, formatting, one buffer append and one flush request each), a third of what a
    broadcast costs its sender. A batch of PUB commands is one append and one flush request
    here. The checks ``publish`` makes are made once, for the batch: the same errors when the
    client is closed or draining, or, while it reconnects, when its buffer is disabled or
    full. Subjects are not validated: the backend's (``_nats_subjects``) hold only
    ``[A-Za-z0-9_.-]``; payload sizes are checked by the backend against ``max_payload``.
    """
    import nats.errors

    if client.is_closed:
        raise nats.errors.ConnectionClosedError
    if client.is_draining_pubs:
        raise nats.errors.ConnectionDrainingError
    if not client.is_connected and (
        client._max_pending_size <= 0
        or len(commands) + client._pending_data_size > client._max_pending_size
    ):
        raise nats.errors.OutboundBufferLimitError
    client.stats["out_msgs"] += messages
    client.stats["out_bytes"] += payload_bytes
    await client._send_command(commands)
    if client._flush_queue is not None and client._flush_queue.empty():
        await client._flush_pending()


def chain_callback(client: Any, name: str, ours: Callable[..., Awaitable[None]]) -> None:
    """Run ``ours`` after the callback ``name`` (``"error"``, ``"disconnected"``,
    ``"reconnected"``) that a ready client was connected with.

    Why: nats-py takes these callbacks only as ``connect()`` arguments and keeps them in
    ``_error_cb``, ``_disconnected_cb``, ``_reconnected_cb``; a client the user connected
    before giving it to us has its own (or none), which keep running.
    """
    attribute = f"_{name}_cb"
    theirs = getattr(client, attribute, None)

    async def both(*args: Any) -> None:
        try:
            if theirs is not None:
                await theirs(*args)
        finally:
            await ours(*args)

    setattr(client, attribute, both)


def subscription_id(subscription: Any) -> int:
    """The sid nats-py gave a subscription: what MSG frames name it by.

    Why: ``intercept_messages`` sees sids, and nats-py's ``Subscription`` keeps its own in
    ``_id`` (no public accessor). nats-py keeps a subscription's sid across reconnections.
    """
    return int(subscription._id)
