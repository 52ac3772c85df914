"""``sioadapter emit``: send one event into a cluster from the command line.

It goes through :class:`sioadapter.emitter.Emitter`, so the servers receive exactly what
Node's ``@socket.io/redis-emitter`` would send (the classic protocol: servers in sharded mode
do not hear it, as with the Node emitter). Each argument after the event name is parsed as
JSON; a word that is not JSON (``hello``) is sent as a string. One confirmation line is
printed once Redis has accepted the PUBLISH.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..emitter import Emitter
from ._common import EXPECTED_ERRORS, as_cli_error


def parse_argument(text: str) -> Any:
    """``text`` as JSON, or the string itself when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.command()
@click.argument("url")
@click.argument("event")
@click.argument("args", nargs=-1, metavar="[JSON]...")
@click.option("--namespace", "-n", default="/", show_default=True, help="Target namespace.")
@click.option("--to", "rooms", multiple=True, metavar="ROOM", help="Target room (repeatable).")
@click.option(
    "--except", "except_rooms", multiple=True, metavar="ROOM", help="Leave out a room (repeatable)."
)
@click.option("--key", default="socket.io", show_default=True, help="The cluster's channel prefix.")
def emit(
    url: str,
    event: str,
    args: tuple[str, ...],
    namespace: str,
    rooms: tuple[str, ...],
    except_rooms: tuple[str, ...],
    key: str,
) -> None:
    """Emit EVENT with JSON arguments into the cluster at URL.

    \b
    sioadapter emit redis://localhost:6379 news '{"title": "hi"}' 42 hello
    sioadapter emit redis://localhost:6379 chat '"hi all"' --to lobby --except muted

    Without --to, every client of the namespace receives it.
    """
    values = [parse_argument(arg) for arg in args]
    emitter: Emitter | None = None
    try:
        emitter = Emitter(url, key=key, namespace=namespace)
        target: Any = emitter
        if rooms:
            target = target.to(list(rooms))
        if except_rooms:
            target = target.except_(list(except_rooms))
        target.emit(event, *values)
    except EXPECTED_ERRORS as error:
        raise as_cli_error(error, url) from error
    finally:
        if emitter is not None:
            emitter.close()
    where = f"rooms {', '.join(rooms)}" if rooms else "every client"
    if except_rooms:
        where += f" except rooms {', '.join(except_rooms)}"
    count = len(values)
    click.echo(
        f"emitted {event!r} with {count} argument{'s' if count != 1 else ''} to {where} "
        f"in namespace {emitter.namespace} (key {key!r})"
    )
