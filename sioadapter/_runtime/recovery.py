"""Connection state recovery (Socket.IO 4.6+) on the streams protocol.

A client that drops and reconnects within ``max_disconnection_duration``, to this node or to any
other, gets back its sid, its rooms, its session (python-socketio's ``save_session`` data, Node's
``socket.data``) and every broadcast it missed, in order, once. The pieces:

* **The private id** (``pid``): sent with the CONNECT reply (`pid_for`); the client sends it
  back, with the offset of the last broadcast it got, in its next CONNECT's auth.
* **Offsets**: broadcasts read from the stream carry their entry id as their last argument
  (`sioadapter.core.inbound.Receiver`), as Node's adapter appends them.
* **Sessions** at ``<session_key_prefix><pid>`` in Node's format (`encode_session`). Node writes
  one only when the owning server sees the disconnect, so the clients of a crashed server cannot
  recover. Here each socket's session is written whenever it changes (connect, join, leave,
  session save; coalesced, one pipeline per ``FLUSH_INTERVAL``), kept alive while the socket is
  connected (its expiry renewed every half ``max_disconnection_duration``, set to one and a half
  of it), and set to expire ``max_disconnection_duration`` after a recoverable disconnect: the
  clients of a node killed with SIGKILL recover on another node for at least that long after
  the kill. A disconnect the client or the server asked for deletes the session. After its
  first write a session is only replaced (``SET XX``), never created again: a client back on
  another server before this one saw its connection end had its session taken there.
* **Restore** (`plan`, `pre_connected`, `replay`): the session is taken (GET and DEL in one
  MULTI/EXEC: it restores once); the socket gets its sid and rooms before the application's
  connect handler runs; live broadcasts to it are held (`Hold`) while the missed ones are read
  from the stream and sent; then the held ones not already replayed go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..backends._redis_streams import entries_after, save_session, take_session
from ..errors import DecodeError
from ..wire.streams import (
    Session,
    StreamsFamily,
    decode_session,
    encode_session,
    missed_packets,
    parse_entry_id,
)
from .recovery_options import RECOVERABLE_REASONS

__all__ = ["FLUSH_INTERVAL", "Hold", "Recovery"]

logger = logging.getLogger("sioadapter.recovery")

FLUSH_INTERVAL = 0.05
"""Seconds between two writes of the sessions that changed (their changes are coalesced)."""
CLOSING_MEMORY = 30.0
"""Seconds a connection closed on purpose is remembered as such (its namespaces' disconnects
come within milliseconds)."""


@dataclass(slots=True)
class Hold:
    """Live deliveries to one restoring connection: buffered (``buffer``) until the missed
    broadcasts are sent; then those at or below ``floor`` (the last offset replayed) are
    dropped, until one after it comes."""

    buffer: list[tuple[list[Any], str | None]] | None = field(default_factory=list)
    floor: tuple[int, int] | None = None

    def admits(self, offset: str | None) -> bool:
        """After the replay: whether a live delivery with ``offset`` goes out."""
        if offset is None or self.floor is None:
            return True
        parsed = parse_entry_id(offset)
        return parsed is None or parsed > self.floor


@dataclass(slots=True)
class _Live:
    """A connected socket's session, as it is written. ``data`` starts as ``{}``: what
    python-socketio's ``get_session`` gives a socket that saved nothing, and Node's initial
    ``socket.data`` (written as nil, a Node server would restore ``socket.data`` as null)."""

    pid: str
    eio_sid: str
    rooms: set[Any]
    data: Any = field(default_factory=dict)
    #: Written once: later writes only replace it (SET XX). A client that came back elsewhere
    #: before this node saw its connection end had its session taken there; writing it back
    #: would leave a stale session for its pid (restorable after a crash of the new server).
    stored: bool = False


@dataclass(slots=True)
class _Plan:
    """A CONNECT being handled: its pid, and the session it restores (None: a new one)."""

    pid: str
    session: Session | None = None
    offset: str = ""


class Recovery:
    """Connection state recovery for one manager (see the module docstring).

    Args:
        client: the redis-py client sessions and replays use.
        family: the streams family (stream names, entry decoding).
        prefix: the session key prefix (Node's ``sessionKeyPrefix``).
        options: from `recovery_options`.
        holds: the local side's holds (eio_sid -> `Hold`), shared.
        send_event: ``await send_event(eio_sid, nsp, data)`` sends one missed broadcast.
        send_held: ``await send_held(eio_sid, packets)`` sends one held delivery.
    """

    def __init__(
        self,
        client: Any,
        family: StreamsFamily,
        prefix: str,
        options: Mapping[str, Any],
        holds: dict[str, Hold],
        send_event: Callable[[str, str, list[Any]], Any],
        send_held: Callable[[str, list[Any]], Any],
    ) -> None:
        self.client = client
        self.family = family
        self.prefix = prefix
        self.duration = float(options["max_disconnection_duration"])
        self.skip_middlewares = bool(options["skip_middlewares"])
        self.holds = holds
        self._send_event = send_event
        self._send_held = send_held
        self._plans: dict[tuple[str, str], _Plan] = {}  # (eio_sid, nsp) -> CONNECT in progress
        self._live: dict[tuple[str, str], _Live] = {}  # (sid, nsp) -> connected socket
        self._reasons: dict[tuple[str, str], str] = {}  # (eio_sid, nsp) -> disconnect reason
        self._closing: set[str] = set()  # eio_sids this node closes on purpose
        self._dirty: set[tuple[str, str]] = set()
        self.recovered: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self.restored = 0
        self.failed_writes = 0

    # -- CONNECT ---------------------------------------------------------------------------

    async def plan(self, eio_sid: str, nsp: str, auth: Any) -> bool:
        """Before the server handles a CONNECT: take the session its auth names, if it can
        still be restored. Returns True when it is restored."""
        plan = _Plan(secrets.token_hex(8))
        self._plans[(eio_sid, nsp)] = plan
        if not isinstance(auth, Mapping):
            return False
        pid, offset = auth.get("pid"), auth.get("offset")
        if not isinstance(pid, str) or not isinstance(offset, str) or not pid:
            return False
        if parse_entry_id(offset) is None:
            return False
        try:
            value = await take_session(self.client, self.prefix + pid)
            if value is None:
                return False
            session = decode_session(value)
            # Still in the stream? Else what followed it may be trimmed too: start afresh.
            stream = self.family.stream_for(nsp)
            if not await self.client.xrange(stream, offset, offset):
                return False
        except DecodeError as error:
            logger.warning("a stored session could not be read, starting afresh: %s", error)
            return False
        except Exception as error:  # Redis down: the client connects as a new one
            logger.warning("restoring a session failed (%s), starting afresh", error)
            return False
        plan.pid, plan.session, plan.offset = pid, session, offset
        return True

    def done(self, eio_sid: str, nsp: str) -> None:
        """The CONNECT was handled (accepted or not)."""
        self._plans.pop((eio_sid, nsp), None)

    def pid_for(self, eio_sid: str, nsp: str) -> str | None:
        """The pid to send with the CONNECT reply."""
        plan = self._plans.get((eio_sid, nsp))
        return None if plan is None else plan.pid

    def sid_for(self, eio_sid: str, nsp: str) -> str | None:
        """The sid a restored connection gets back (None: a new one)."""
        plan = self._plans.get((eio_sid, nsp))
        return None if plan is None or plan.session is None else plan.session.sid

    def skips_handler(self, eio_sid: str, nsp: str) -> bool:
        """True when the connect handler is not run: a restored connection with
        ``skip_middlewares`` (python-socketio's connect handler is where its applications
        check a connection, the part Node's middlewares play)."""
        return self.skip_middlewares and self.sid_for(eio_sid, nsp) is not None

    def pre_connected(self, sid: str, nsp: str, eio_sid: str) -> tuple[list[Any], Any] | None:
        """The socket is in python-socketio's tables: start keeping its session. For a
        restored one, returns (rooms to join, session data) and holds its live deliveries."""
        plan = self._plans.get((eio_sid, nsp))
        if plan is None:
            return None
        self._live[(sid, nsp)] = live = _Live(plan.pid, eio_sid, {sid})
        self._changed(sid, nsp)
        session = plan.session
        if session is None or session.sid != sid:
            return None
        self.holds[eio_sid] = Hold()
        self.recovered.add((sid, nsp))
        live.data = session.data
        rooms = [room for room in session.rooms if room != sid and room is not None]
        return rooms, session.data

    async def replay(self, eio_sid: str, nsp: str) -> None:
        """The client was sent its CONNECT reply: send a restored one what it missed, then
        what was held meanwhile."""
        plan = self._plans.get((eio_sid, nsp))
        if plan is None or plan.session is None:
            return
        live = self._live.get((plan.session.sid, nsp))
        if live is None:
            return
        hold = self.holds.get(eio_sid)
        try:
            stream = self.family.stream_for(nsp)
            entries = await entries_after(self.client, stream, plan.offset) or []
            missed = missed_packets(entries, self.family, nsp, sorted(live.rooms, key=str))
            for data in missed:
                await self._send_event(eio_sid, nsp, data)
            self.restored += 1
            last = missed[-1][-1] if missed else plan.offset
            if hold is not None:
                hold.floor = parse_entry_id(last)
        finally:
            if hold is not None:
                await self._release(eio_sid, hold)

    async def _release(self, eio_sid: str, hold: Hold) -> None:
        buffer = hold.buffer or []
        index = 0
        while index < len(buffer):  # more may be buffered while these are sent
            packets, offset = buffer[index]
            index += 1
            if hold.admits(offset):
                await self._send_held(eio_sid, packets)
        hold.buffer = None
        if hold.floor is None:
            self.holds.pop(eio_sid, None)

    def is_recovered(self, sid: str, nsp: str) -> bool:
        return (sid, nsp) in self.recovered

    # -- what changes a session -------------------------------------------------------------

    def room_changed(self, sid: str, nsp: str, room: Any, joined: bool) -> None:
        live = self._live.get((sid, nsp))
        if live is None or room is None:
            return
        if joined:
            live.rooms.add(room)
        else:
            live.rooms.discard(room)
        self._changed(sid, nsp)

    def session_saved(self, sid: str, nsp: str, data: Any) -> None:
        live = self._live.get((sid, nsp))
        if live is not None:
            live.data = data
            self._changed(sid, nsp)

    def leaving(self, eio_sid: str, nsp: str, reason: Any) -> None:
        """python-socketio handles a disconnect, for ``reason``."""
        purposely = eio_sid in self._closing
        self._reasons[(eio_sid, nsp)] = "" if reason is None or purposely else str(reason)

    def closing(self, eio_sid: str) -> None:
        """This node is about to close that connection on purpose (Node's
        ``disconnectSockets(true)``): its sessions are deleted, whatever engine.io reports."""
        self._closing.add(eio_sid)
        # Kept a while, not until the first namespace's disconnect: engine.io disconnects
        # every namespace of the connection, each in its turn.
        asyncio.get_running_loop().call_later(CLOSING_MEMORY, self._closing.discard, eio_sid)

    def left(self, eio_sid: str, nsp: str) -> None:
        """python-socketio is done with that disconnect. Its reason is dropped if no socket
        took it: a connection whose socket was meanwhile restored on a new connection (the
        client came back before this one was seen to end) has no socket left to disconnect."""
        self._reasons.pop((eio_sid, nsp), None)

    def disconnected(self, sid: str, nsp: str, eio_sid: str | None) -> Any:
        """The socket left python-socketio's tables: returns the coroutine that keeps its
        session for ``max_disconnection_duration`` (a recoverable reason) or deletes it, or
        None when this socket's session is not kept."""
        live = self._live.pop((sid, nsp), None)
        self.recovered.discard((sid, nsp))
        self._dirty.discard((sid, nsp))
        reason = self._reasons.pop((eio_sid or "", nsp), None)
        if eio_sid is not None:
            self.holds.pop(eio_sid, None)
        if live is None:
            return None
        if reason in RECOVERABLE_REASONS:
            return self._write(live, sid, nsp, self.duration)
        return self._delete(live.pid)

    def _changed(self, sid: str, nsp: str) -> None:
        self._dirty.add((sid, nsp))
        self._wake.set()

    # -- writing ------------------------------------------------------------------------------

    def _value(self, live: _Live, sid: str) -> str:
        rooms = sorted(live.rooms, key=str)
        try:
            return encode_session(Session(sid, live.pid, rooms, live.data))
        except TypeError as error:  # data msgpack cannot carry: rooms are still worth keeping
            logger.warning("the session of %s cannot be stored (%s): kept without data", sid, error)
            return encode_session(Session(sid, live.pid, rooms, {}))

    async def _write(self, live: _Live, sid: str, nsp: str, ttl: float) -> None:
        try:
            await save_session(
                self.client,
                self.prefix + live.pid,
                self._value(live, sid),
                int(ttl * 1000),
                only_existing=live.stored,
            )
        except Exception as error:
            self.failed_writes += 1
            logger.warning("storing the session of %s failed: %s", sid, error)

    async def _delete(self, pid: str) -> None:
        try:
            await self.client.delete(self.prefix + pid)
        except Exception as error:
            self.failed_writes += 1
            logger.warning("deleting a session failed: %s", error)

    async def run(self) -> None:
        """Write the sessions that changed, and renew the expiry of the connected ones, until
        cancelled. A connected socket's session expires ``1.5 * max_disconnection_duration``
        after its last renewal, so at least ``max_disconnection_duration`` after a crash."""
        live_ttl = int(self.duration * 1500)
        renew_every = self.duration / 2
        loop = asyncio.get_running_loop()
        next_renewal = loop.time() + renew_every
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_renewal - loop.time()))
            self._wake.clear()
            await self.flush(live_ttl)
            if loop.time() >= next_renewal:
                await self._renew(live_ttl)
                next_renewal = loop.time() + renew_every
            await asyncio.sleep(FLUSH_INTERVAL)  # coalesce the changes of a burst

    async def flush(self, ttl_ms: int | None = None) -> None:
        """Write every changed session now, in one pipeline."""
        dirty, self._dirty = self._dirty, set()
        writes = [(key, self._live[key]) for key in dirty if key in self._live]
        if not writes:
            return
        ttl = int(self.duration * 1500) if ttl_ms is None else ttl_ms
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for (sid, _), live in writes:
                    pipe.set(self.prefix + live.pid, self._value(live, sid), px=ttl, xx=live.stored)
                await pipe.execute()
            for _, live in writes:
                live.stored = True
        except Exception as error:
            self.failed_writes += len(writes)
            self._dirty.update(key for key, _ in writes)  # tried again at the next flush
            logger.warning("storing %d sessions failed: %s", len(writes), error)

    async def _renew(self, ttl_ms: int) -> None:
        pids = [live.pid for live in self._live.values()]
        if not pids:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for pid in pids:
                    pipe.pexpire(self.prefix + pid, ttl_ms)
                await pipe.execute()
        except Exception as error:
            self.failed_writes += len(pids)
            logger.warning("renewing %d sessions failed: %s", len(pids), error)
            # They may have expired meanwhile: the next write of each creates it again.
            for live in self._live.values():
                live.stored = False

    async def shutdown(self) -> None:
        """The manager closes: its clients may come back to another node. Every connected
        socket's session is written to expire ``max_disconnection_duration`` from now."""
        self._dirty.update(self._live)
        await self.flush(int(self.duration * 1000))
