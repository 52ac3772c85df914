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
    _fast_parse(client, taker)


_MSG = b"MSG "
_AWAITING_CONTROL_LINE = 1  # nats.protocol.parser's states
_CRLF = b"\r\n"


def _fast_parse(client: Any, taker: Taker) -> None:
    """Read plain MSG frames (``MSG subject sid [reply] size``) ourselves, in front of nats-py's
    parser, and hand every other operation, one at a time, to nats-py's own ``parse``.

    Why: nats-py's parser costs, per MSG, two regular expression matches, a dict of
    arguments, two copies of the payload and a coroutine (``_process_msg``); it was a fifth
    of a receiving node's CPU. The client calls ``self._ps.parse(chunk)`` from its reading task
    for every chunk read (the ``Parser`` is made once and ``reset()`` on reconnection): an
    instance attribute of that name replaces it for this client only. Order is kept: each
    operation is handled where it is in the stream, ours directly, the others by nats-py,
    which is given exactly that operation (a MSG we do not claim goes to ``_process_msg`` as
    nats-py's parser would send it). Anything we do not read plainly (HMSG, odd spacing, a
    malformed line) goes, with the rest of the chunk, to nats-py's parser, which then decides
    as before (ProtocolError included).
    """
    parser = client._ps
    original = parser.parse
    stats = client.stats

    async def handover(chunk: bytes, start: int, end: int | None) -> bool:
        """Give ``chunk[start:end]`` (all of it: None) to nats-py's parser; True when it
        consumed exactly that and is back between operations."""
        buf = parser.buf
        buf.clear()
        buf.extend(chunk[start:end])
        await original(b"")
        return end is None or (not parser.buf and parser.state == _AWAITING_CONTROL_LINE)

    async def parse(data: bytes = b"") -> None:
        buf = parser.buf
        chunk = bytes(buf) + data if buf else bytes(data)
        buf.clear()
        size = len(chunk)
        pos = taken = taken_bytes = 0
        try:
            while pos < size:
                if parser.state != _AWAITING_CONTROL_LINE:
                    # nats-py's parser stopped inside a frame (at a chunk's end): its rest.
                    end = pos + parser.needed + 2
                    if end > size:
                        break
                    if not await handover(chunk, pos, end):
                        await handover(chunk, end, None)
                        return
                    pos = end
                    continue
                eol = chunk.find(_CRLF, pos)
                if eol < 0:
                    break  # the rest of the line is still to come (nats-py waits too)
                if not chunk.startswith(_MSG, pos):
                    if chunk.startswith(b"HMSG", pos):  # headers: not ours to read
                        await handover(chunk, pos, None)
                        return
                    # PING, PONG, INFO, +OK, -ERR: one line.
                    if not await handover(chunk, pos, eol + 2):
                        await handover(chunk, eol + 2, None)
                        return
                    pos = eol + 2
                    continue
                fields = chunk[pos + 4 : eol].split()
                count = len(fields)
                if (
                    (count != 3 and count != 4)
                    or not fields[-1].isdigit()
                    or not fields[1].isdigit()
                ):
                    await handover(chunk, pos, None)
                    return
                start = eol + 2
                end = start + int(fields[-1])
                if end + 2 > size:
                    break  # the payload is still to come
                payload = chunk[start:end]
                sid = int(fields[1])
                pos = end + 2
                if taker(sid, payload):
                    taken += 1
                    taken_bytes += end - start
                else:
                    reply = fields[2] if count == 4 else b""
                    await client._process_msg(sid, fields[0], reply, payload, None)
            if pos < size:
                parser.buf.extend(chunk[pos:])
        finally:
            stats["in_msgs"] += taken  # what nats-py's own handler would have counted
            stats["in_bytes"] += taken_bytes

    parser.parse = parse


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
