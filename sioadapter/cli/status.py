"""``sioadapter status`` and ``sioadapter plugins``.

``status`` joins the cluster at a URL as one more node without clients (an
:class:`~sioadapter.AsyncClusterManager` and an idle ``AsyncServer``), asks it what Node's
adapter can tell (``server_count``, ``all_rooms``, ``fetch_sockets``), prints it, and leaves.
While it runs it is counted as a server, so it reports the others as "N servers (+ this
status probe)".

``plugins`` lists what the ``sioadapter.backends`` and ``sioadapter.plugins`` entry points of
the installed distributions provide.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import click
import socketio
from redis.asyncio.cluster import RedisCluster
from rich.table import Table

from .._redact import redact_url
from ..async_manager import AsyncClusterManager
from ..backends import installed_backends
from ..backends.redis import RedisBackend
from ..errors import RequestTimeoutError
from ..plugins import installed_plugins
from ..remote_socket import RemoteSocket
from ..wire.classic import ClassicFamily
from ._common import CliFailure, console, run


@click.command()
@click.argument("url")
@click.option("--key", default="socket.io", show_default=True, help="The cluster's channel prefix.")
@click.option("--namespace", "-n", default="/", show_default=True, help="Namespace to inspect.")
@click.option(
    "--mode",
    type=click.Choice(["classic", "sharded"]),
    help="Redis pub/sub mode of the cluster (default: the URL's, else classic).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for connecting and for each cluster request.",
)
def status(url: str, key: str, namespace: str, mode: str | None, timeout: float) -> None:
    """Show the servers, rooms and sockets of the cluster at URL.

    \b
    sioadapter status redis://localhost:6379
    sioadapter status redis+cluster://10.0.0.1:7000 --mode sharded --namespace /chat
    """
    options: dict[str, Any] = {"mode": mode} if mode else {}
    servers, sockets, rooms, in_use = run(_inspect(url, key, namespace, timeout, options), url)
    out = console()
    out.print(f"cluster at {redact_url(url)} (key {key!r}, namespace {namespace})")
    out.print(f"{servers} server{'s' if servers != 1 else ''} (+ this status probe)")
    if servers == 0:
        out.print(_nobody_there(key, namespace, in_use))
        return
    sids = {socket.id for socket in sockets}
    members: Counter[Any] = Counter(room for socket in sockets for room in socket.rooms)
    named = sorted((room for room in rooms if room not in sids), key=str)
    table = Table(title=f"rooms ({len(rooms) - len(named)} socket-id rooms not shown)")
    table.add_column("room")
    table.add_column("sockets", justify="right")
    for room in named:
        table.add_row(str(room), str(members[room]))
    out.print(table)
    per_node: Counter[str] = Counter(socket.node or "?" for socket in sockets)
    table = Table(title=f"sockets per node ({len(sockets)} in all)")
    table.add_column("node")
    table.add_column("sockets", justify="right")
    for node, count in sorted(per_node.items()):
        table.add_row(node, str(count))
    out.print(table)
    if any(node.startswith("node-") for node in per_node):
        out.print("(classic-protocol answers carry no node uid: node-N is the N-th answer)")


def _nobody_there(key: str, namespace: str, in_use: set[tuple[str, str]] | None) -> str:
    """What to say when no server but the probe uses ``key`` and ``namespace`` here."""
    text = f"no server uses key {key!r} in namespace {namespace} here: check --key and --namespace"
    if in_use is None:  # not counted (a Redis Cluster, the sharded protocol)
        return f"{text} (and --mode)"
    if not in_use:
        return f"{text}; no Socket.IO server (classic protocol) is subscribed to this Redis"
    found = ", ".join(f"key {k!r} namespace {n}" for k, n in sorted(in_use))
    return f"{text}; servers here use: {found}"


async def _inspect(
    url: str, key: str, namespace: str, timeout: float, options: dict[str, Any]
) -> tuple[int, list[RemoteSocket], set[Any], set[tuple[str, str]] | None]:
    mgr = AsyncClusterManager(url, key=key, requests_timeout=timeout, **options)
    # An idle server: python-socketio's manager contract expects one, and it has no client.
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    try:
        await mgr.wait_connected(timeout)
        others = await mgr.server_count(namespace) - 1
        if others == 0:  # nothing to ask; say which keys are in use instead
            return 0, [], set(), await _keys_in_use(mgr, (key, namespace))
        try:
            rooms = await mgr.all_rooms(namespace)
            sockets = await mgr.fetch_sockets(namespace=namespace)
        except RequestTimeoutError as error:
            expected = "?" if error.expected is None else error.expected
            raise CliFailure(
                f"{error.operation} timed out: {error.received} of {expected} servers answered "
                f"within {timeout:g} s (--timeout)"
            ) from error
        return others, sockets, rooms, None
    finally:
        await mgr.close()


async def _keys_in_use(
    mgr: AsyncClusterManager, mine: tuple[str, str]
) -> set[tuple[str, str]] | None:
    """(key, namespace) pairs that classic-protocol servers on this Redis subscribe to, from
    their request channels ``key-request#nsp#``; this probe's own pair when only it is there
    is left out. None where that cannot be seen (another protocol, a Redis Cluster, whose
    PUBSUB CHANNELS answers for one node, or an error)."""
    backend = mgr.backend
    if not isinstance(mgr.family, ClassicFamily) or not isinstance(backend, RedisBackend):
        return None
    if isinstance(backend.pub_client, RedisCluster):
        return None
    found: set[tuple[str, str]] = set()
    with contextlib.suppress(Exception):  # a hint only: an ACL refusal just means no hint
        for channel in await backend.pub_client.pubsub_channels("*-request#*"):
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            prefix, _, rest = name.partition("-request#")
            if prefix and rest.endswith("#"):
                found.add((prefix, rest[:-1]))
        found.discard(mine)
        return found
    return None


@click.command()
def plugins() -> None:
    """List installed backends (URL scheme -> class) and plugins (name -> object)."""
    out = console()
    table = Table(title="backends (entry points 'sioadapter.backends')")
    for column in ("scheme", "class", "distribution"):
        table.add_column(column)
    for scheme, entry in sorted(installed_backends().items()):
        table.add_row(f"{scheme}://", entry.value, _distribution(entry))
    out.print(table)
    table = Table(title="plugins (entry points 'sioadapter.plugins')")
    for column in ("name", "object", "distribution"):
        table.add_column(column)
    for name, entry in sorted(installed_plugins().items()):
        table.add_row(name, entry.value, _distribution(entry))
    out.print(table)


def _distribution(entry: Any) -> str:
    dist = getattr(entry, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "?"
