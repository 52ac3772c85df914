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

from collections import Counter
from typing import Any

import click
import socketio
from rich.table import Table

from .._redact import redact_url
from ..async_manager import AsyncClusterManager
from ..backends import installed_backends
from ..plugins import installed_plugins
from ..remote_socket import RemoteSocket
from ._common import console, run


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
    servers, sockets, rooms = run(_inspect(url, key, namespace, timeout, options), url)
    out = console()
    out.print(f"cluster at {redact_url(url)} (key {key!r}, namespace {namespace})")
    out.print(f"{servers} server{'s' if servers != 1 else ''} (+ this status probe)")
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


async def _inspect(
    url: str, key: str, namespace: str, timeout: float, options: dict[str, Any]
) -> tuple[int, list[RemoteSocket], set[Any]]:
    mgr = AsyncClusterManager(url, key=key, requests_timeout=timeout, **options)
    # An idle server: python-socketio's manager contract expects one, and it has no client.
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    try:
        await mgr.wait_connected(timeout)
        others = await mgr.server_count(namespace) - 1
        rooms = await mgr.all_rooms(namespace)
        sockets = await mgr.fetch_sockets(namespace=namespace)
        return others, sockets, rooms
    finally:
        await mgr.close()


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
