"""The ``sioadapter`` command line.

Commands (``sioadapter COMMAND --help`` for each):

* ``demo``: a cluster of server processes and real clients on this machine, exercised, with a
  delivery and latency report; needs no Redis (it embeds a Redis-protocol server);
* ``monitor URL``: the cluster's pub/sub traffic, decoded, one line per message;
* ``emit URL EVENT [JSON]...``: one event into the cluster, as ``@socket.io/redis-emitter``;
* ``status URL``: servers, rooms and sockets of a running cluster;
* ``plugins``: the installed backends and plugins.

``main`` is the console script; ``python -m sioadapter`` and ``python -m sioadapter.cli`` run it.
"""

from .main import cli, main

__all__ = ["cli", "main"]
