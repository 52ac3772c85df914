"""The ``sioadapter`` command line.

Commands (``sioadapter COMMAND --help`` for each):

* ``demo``: a cluster of server processes and real clients on this machine, exercised, with a
  delivery and latency report; needs no Redis (it embeds a Redis-protocol server);
* ``monitor URL``: the cluster's pub/sub traffic, decoded, one line per message;
* ``emit URL EVENT [JSON]...``: one event into the cluster, as ``@socket.io/redis-emitter``;
* ``status URL``: servers, rooms and sockets of a running cluster;
* ``plugins``: the installed backends and plugins.

The command needs the ``[cli]`` extra (``pip install 'sioadapter[cli]'``). This module imports
nothing outside the standard library, so that `main`, the console script, can say so: without
one of `NEEDS` it prints one line on stderr naming the extra and exits with status 2
(`MISSING_EXTRA`, the status of the command's other configuration errors). Otherwise it runs
``sioadapter.cli.main.main``. ``python -m sioadapter`` and ``python -m sioadapter.cli`` run it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any

__all__ = ["MISSING_EXTRA", "NEEDS", "cli", "main", "missing"]

NEEDS = ("click", "rich", "uvicorn", "aiohttp", "fakeredis")
"""The modules of the ``[cli]`` extra: the command's own (click, rich) and the demo's servers,
clients and embedded Redis-protocol server."""

MISSING_EXTRA = 2
"""Exit status when the ``[cli]`` extra is not installed."""


def missing() -> list[str]:
    """The modules of `NEEDS` that cannot be imported here, in that order."""
    return [name for name in NEEDS if find_spec(name) is None]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``sioadapter`` command, or exit with `MISSING_EXTRA` if the extra is missing."""
    absent = missing()
    if absent:
        print(
            f"sioadapter: the command needs {', '.join(absent)}: pip install 'sioadapter[cli]'",
            file=sys.stderr,
        )
        sys.exit(MISSING_EXTRA)
    from .main import main as run

    run(argv)


def __getattr__(name: str) -> Any:
    # ``cli`` (the click group) is imported on first use: importing it needs click.
    if name == "cli":
        from .main import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
