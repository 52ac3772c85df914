"""``sioadapter monitor``: print the cluster's pub/sub traffic, decoded, one line per message.

It opens its own subscriber connection (redis-py, or psycopg for PostgreSQL); it is not a
node and answers nothing.

* classic mode: PSUBSCRIBE ``key#*``, ``key-request#*`` and ``key-response#*``, every
  namespace at once. Redis's PUBSUB NUMSUB does not count pattern subscribers, so the nodes'
  server count (NUMSUB of ``key-request#nsp#``) does not change while a monitor runs.
* sharded mode: sharded pub/sub has no patterns, so it SSUBSCRIBEs the main channel
  ``key#nsp#`` of each namespace given (``/`` by default), the room channels ``key#nsp#room#``
  of each ``--room`` given, and the response channel ``key#nsp#uid#`` of each node it hears
  from (from then on). The main channel is the one whose SHARDNUMSUB counts servers: while a
  sharded monitor runs, the nodes count one server more and their requests (fetch_sockets,
  server_side_call...) wait for an answer it never sends, until they time out. Node's tooling
  has the same effect; the command says so when it starts.
* PostgreSQL (``postgresql://`` or ``postgres://``, the ``[postgres]`` extra): no patterns
  either, so it LISTENs on the one channel ``key#nsp`` of each namespace given (``/`` by
  default), where every message of the namespace goes, and reads each attachment row
  (binary or large messages) as the nodes do (`sioadapter.cli._pg_subscriber`). Every line's
  kind is ``main``. It publishes nothing, so the nodes, which count servers by heartbeat
  there, do not count it, and their requests do not wait for it.

Output lines: ``time kind type nsp=... rooms=... except=... event=... <size>B from=<uid>``,
then type-specific details. A payload that does not decode prints ``malformed (<reason>)``.
A signed payload (nodes with ``signing_keys``) is shown decoded, with ``signed`` at the end
of its line: the monitor holds no key, so it does not verify signatures.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import click

from ..backends._pg_url import SCHEMES as PG_SCHEMES
from ..backends.redis_url import parse_redis_url
from ..core import messages as m
from ..wire.base import ChannelInfo, Family, Role
from ..wire.classic import ClassicFamily
from ..wire.cluster import ClusterFamily
from ..wire.notepack import DecodeError
from ..wire.postgres import PostgresFamily
from ..wire.signing import split
from ._common import CliError, run
from ._pg_subscriber import PgListener
from ._subscriber import Listener

TYPES = (*sorted(cls.__name__ for cls in typing.get_args(m.ClusterMessage)), "malformed")
"""What ``--type`` accepts: the message classes of ``sioadapter.core.messages`` (what a line
shows as its type), and ``malformed`` for payloads that do not decode."""


def _rooms(rooms: Collection[Any]) -> str:
    return ",".join(str(room) for room in rooms) or "-"


def summarize(message: Any) -> tuple[list[Any], list[Any], str | None, list[str]]:
    """(target rooms, except rooms, event name, details) of a decoded cluster message."""
    target = getattr(message, "target", None)
    rooms = list(target.rooms) if target is not None else []
    except_rooms = list(target.except_rooms) if target is not None else []
    event: str | None = None
    details: list[str] = []
    request_id = getattr(message, "request_id", None)
    if isinstance(message, (m.Broadcast, m.ServerSideEmit)):
        event = str(message.data[0])
    if isinstance(message, m.SocketsJoin | m.SocketsLeave):
        verb = "join" if isinstance(message, m.SocketsJoin) else "leave"
        details.append(f"{verb}={_rooms(message.rooms)}")
    elif isinstance(message, m.DisconnectSockets) and message.close:
        details.append("close=true")
    elif isinstance(message, m.SocketIds):
        rooms = list(message.rooms)
    elif isinstance(message, m.RemoteJoin | m.RemoteLeave):
        rooms = [message.room]
        details.append(f"sid={message.sid}")
    elif isinstance(message, m.RemoteDisconnect):
        details.append(f"sid={message.sid}")
    elif isinstance(message, m.FetchSocketsResponse):
        details.append(f"sockets={len(message.sockets)}")
    elif isinstance(message, m.BroadcastClientCount):
        details.append(f"clients={message.client_count}")
    elif isinstance(message, m.RequestReply):
        for name in ("rooms", "sockets"):
            value = getattr(message, name)
            if value is not None:
                details.append(f"{name}={len(value)}")
    if request_id is not None:
        details.append(f"request={request_id}")
    requester = getattr(message, "requester", None)
    if requester is not None:
        details.append(f"to={requester}")
    return rooms, except_rooms, event, details


class Printer:
    """Decodes, filters and formats messages; remembers the node uids it has seen."""

    def __init__(
        self, family: Family, namespaces: Collection[str], rooms: Collection[str],
        types: Collection[str],
    ) -> None:  # fmt: skip
        self.family = family
        self.namespaces = set(namespaces)
        self.rooms = set(rooms)
        self.types = {t.lower() for t in types}
        self.uids: set[str] = set()
        self.response_channels: dict[str, ChannelInfo] = {}

    def line(self, channel: str, payload: bytes, when: float) -> str | None:
        """The line to print for this message, or None when the filters leave it out."""
        stamp = time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"
        info = self.response_channels.get(channel) or self.family.parse_channel(channel)
        if info is None:
            return self._keep(f"{stamp} ? unknown channel {channel} {len(payload)}B", None, None)
        kind = info.role.value
        signature = split(payload)
        body = payload if signature is None else signature[0]
        try:
            message = self.family.decode(info, body, preserve=True)
        except DecodeError as error:
            text = f"{stamp} {kind} malformed ({error}) nsp={info.nsp} {len(payload)}B {channel}"
            return self._keep(text, info.nsp, "malformed")
        uid = getattr(message, "uid", None)
        if isinstance(uid, str) and uid != m.EMITTER_UID:
            self.uids.add(uid)
        rooms, except_rooms, event, details = summarize(message)
        involved = {str(room) for room in rooms}
        involved.update(str(room) for room in getattr(message, "rooms", None) or ())
        if info.role in (Role.BROADCAST, Role.ROOM) and info.room is not None:
            involved.add(info.room)
        if self.rooms and not involved & self.rooms:
            return None
        if signature is not None:
            details.append("signed")
        name = type(message).__name__
        text = (
            f"{stamp} {kind} {name} nsp={message.nsp} rooms={_rooms(rooms)} "
            f"except={_rooms(except_rooms)} event={event or '-'} {len(payload)}B "
            f"from={uid or '-'}"
        )
        return self._keep(" ".join([text, *details]), message.nsp, name)

    def _keep(self, text: str, nsp: str | None, type_name: str | None) -> str | None:
        if self.namespaces and nsp not in self.namespaces:
            return None
        if self.types and (type_name or "").lower() not in self.types:
            return None
        return text


READY = "monitor: listening"


@click.command()
@click.argument("url")
@click.option("--key", default="socket.io", show_default=True, help="The cluster's channel prefix.")
@click.option(
    "--namespace", "-n", "namespaces", multiple=True, metavar="NSP",
    help="Only this namespace (repeatable). Sharded mode subscribes to these (default /).",
)  # fmt: skip
@click.option(
    "--room", "rooms", multiple=True, metavar="ROOM",
    help="Only messages aimed at this room (repeatable).",
)  # fmt: skip
@click.option(
    "--type", "types", multiple=True, metavar="TYPE",
    # A Choice: a misspelt type is a usage error naming the valid ones, not a silent monitor.
    type=click.Choice(TYPES, case_sensitive=False),
    help=f"Only this message type (repeatable, case-insensitive): {', '.join(TYPES)}.",
)  # fmt: skip
@click.option(
    "--mode", type=click.Choice(["classic", "sharded"]),
    help="The cluster's Redis pub/sub mode (default: the URL's mode option, else classic).",
)  # fmt: skip
@click.option("--count", type=click.IntRange(min=1), help="Exit after printing COUNT messages.")
def monitor(
    url: str,
    key: str,
    namespaces: tuple[str, ...],
    rooms: tuple[str, ...],
    types: tuple[str, ...],
    mode: str | None,
    count: int | None,
) -> None:
    """Print the cluster's messages at URL, decoded, one line each.

    \b
    sioadapter monitor redis://localhost:6379
    sioadapter monitor redis://localhost:6379 --room lobby --type Broadcast
    sioadapter monitor postgresql://user@localhost:5432/db --namespace / --namespace /chat

    Each line: time, channel kind, message type, namespace, rooms, except rooms, event name,
    payload size, sending node's uid, then details (request ids, room changes...).

    Server counts: in classic mode the monitor PSUBSCRIBEs patterns, and PUBSUB NUMSUB does
    not count pattern subscribers: the nodes' server count does not change. In sharded mode
    it must SSUBSCRIBE the main channel of each namespace, which SHARDNUMSUB does count:
    while it runs the nodes count one server more, and their cluster requests
    (fetch_sockets, server_side_call...) wait for it until they time out. Node's tooling
    has the same effect. On PostgreSQL it LISTENs on each namespace's channel (/ by default)
    and publishes nothing: the nodes, which count servers by heartbeat there, do not count it.
    """
    run(_monitor(url, key, namespaces, rooms, types, mode, count), url)


async def _monitor(
    url: str,
    key: str,
    namespaces: tuple[str, ...],
    rooms: tuple[str, ...],
    types: tuple[str, ...],
    mode: str | None,
    count: int | None,
) -> None:
    if url.partition("://")[0].lower() in PG_SCHEMES:
        if mode is not None:
            raise CliError("--mode is the Redis pub/sub mode; a PostgreSQL cluster has none")
        await _monitor_postgres(url, key, namespaces, rooms, types, count)
        return
    # Parsed here, inside run(), so that a bad URL is one error line, not a traceback.
    sharded = (mode or parse_redis_url(url).backend.get("mode", "classic")) == "sharded"
    family: Family = ClusterFamily(key, "") if sharded else ClassicFamily(key, "")
    printer = Printer(family, namespaces, rooms, types)
    listener = Listener(url, sharded)
    try:
        await listener.connect()
        if sharded:
            assert isinstance(family, ClusterFamily)
            served = namespaces or ("/",)
            channels = [family.main_channel(nsp) for nsp in served]
            channels += [f"{family.main_channel(nsp)}{room}#" for nsp in served for room in rooms]
            await listener.subscribe(channels, patterns=False)
            click.echo(
                "monitor: warning: sharded mode: the nodes count this monitor as one more "
                "server while it runs; their requests (fetch_sockets, server_side_call...) "
                "will wait for it and time out",
                err=True,
            )
        else:
            channels = [f"{key}#*", f"{key}-request#*", f"{key}-response#*"]
            await listener.subscribe(channels, patterns=True)
        click.echo(f"{READY} on {' '.join(channels)}", err=True)

        async def follow(uids: set[str]) -> None:
            await _follow_nodes(listener, printer, uids)

        await _print_lines(listener.next, printer, count, follow if sharded else None)
    finally:
        await listener.close()


async def _print_lines(
    receive: Callable[[], Awaitable[tuple[str, bytes]]],
    printer: Printer,
    count: int | None,
    follow: Callable[[set[str]], Awaitable[None]] | None = None,
) -> None:
    """Print a line for each message ``receive`` returns that the filters keep, until
    ``count`` lines (forever without it); ``follow`` is told of each new node uid heard."""
    printed = 0
    while count is None or printed < count:
        channel, payload = await receive()
        known = set(printer.uids)
        text = printer.line(channel, payload, time.time())
        if text is not None:
            click.echo(text)
            printed += 1
        if follow is not None and printer.uids - known:
            await follow(printer.uids - known)


async def _monitor_postgres(
    url: str,
    key: str,
    namespaces: tuple[str, ...],
    rooms: tuple[str, ...],
    types: tuple[str, ...],
    count: int | None,
) -> None:
    """The monitor on a PostgreSQL cluster (see the module docstring)."""
    listener = PgListener(url)
    try:
        family = PostgresFamily(key, "", payload_threshold=listener.payload_threshold)
        channels = [family.main_channel(nsp) for nsp in namespaces or ("/",)]
        printer = Printer(family, namespaces, rooms, types)
        await listener.connect()
        await listener.subscribe(channels)
        click.echo(f"{READY} on {' '.join(channels)}", err=True)
        await _print_lines(listener.next, printer, count)
    finally:
        await listener.close()


async def _follow_nodes(listener: Listener, printer: Printer, uids: set[str]) -> None:
    """Sharded mode: also hear the responses sent to nodes just seen (their own channels)."""
    assert isinstance(printer.family, ClusterFamily)
    channels = []
    for nsp in printer.namespaces or ("/",):
        for uid in uids:
            channel = printer.family.node_channel(nsp, uid)
            printer.response_channels[channel] = ChannelInfo(nsp, Role.RESPONSE, uid)
            channels.append(channel)
    await listener.subscribe(channels, patterns=False, wait=False)
