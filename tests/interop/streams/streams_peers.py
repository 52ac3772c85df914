"""The Redis streams side of the mixed-cluster interop tests: topology, barrier, emitter.

* :func:`streams_topology` is the :class:`~..mixed.Topology` of a cluster on the streams
  protocol: ``node_streams_server.js`` (``@socket.io/redis-streams-adapter`` 0.3.1) for the
  Node server, ``AsyncClusterManager(url, protocol="streams", stream_name=...)`` for the
  Python nodes; one key (Node's ``channelPrefix``) and one stream, both of this test only.
* :func:`formed` waits until every server counts every other one (``NUMSUB`` of the
  namespace's public channel: a server counts once its SUBSCRIBE is acknowledged).
* :func:`run_streams_emitter` publishes with sioadapter's ``Emitter(protocol="streams")``.

What travels where (Node's adapter 0.3.1): broadcasts without ack, socketsJoin/Leave and
disconnectSockets are stream entries, read by every server in stream order; acked broadcasts,
serverSideEmit and fetchSockets are pub/sub messages on ``key#nsp#``, answered on
``key#nsp#uid#``. A pub/sub round trip (``MixedCluster.barrier``) says nothing about the
stream: the two arrive on different connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sioadapter.emitter import AsyncEmitter, Emitter

from ..harness_node import HERE, _python_emitter_steps
from ..mixed import MixedCluster, Topology, wait_formed

NODE_STREAMS_SERVER_JS = HERE / "node_streams_server.js"

NODE_BLOCK_TIME_MS = 60_000
"""The Node server's ``blockTimeInMs``. Node's adapter reads from ``$`` again after an XREAD
that timed out empty, so an entry added between that reply and the next XREAD never reaches
it: a block longer than any test keeps that window out of the suite."""

FORM_TIMEOUT = 10.0
"""Bound on a cluster's forming (subscriptions only: no heartbeat is involved)."""


def streams_topology(url: str, stream_name: str, **options: Any) -> Topology:
    """A mixed cluster on the streams protocol, reading and writing ``stream_name`` (or, with
    ``stream_count`` above 1, the streams ``<stream_name>-<i>``).

    ``options`` are the streams options in sioadapter's spelling (``stream_count``,
    ``max_len``, ``read_count``, ``only_plaintext``); Node gets each in its own (camelCase).
    """
    return Topology(
        mode="streams",
        python_url=url,
        python_options={"protocol": "streams", "stream_name": stream_name, **options},
        node_config={
            "redis": url,
            "streamName": stream_name,
            "blockTimeInMs": NODE_BLOCK_TIME_MS,
            **{_camel(name): value for name, value in options.items()},
        },
        redis_url=url,
        node_script=NODE_STREAMS_SERVER_JS,
    )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


async def formed(mixed: MixedCluster) -> float:
    """Wait until the three servers count each other (:func:`~..mixed.wait_formed`)."""
    return await wait_formed(mixed, FORM_TIMEOUT)


async def run_streams_emitter(
    url: str,
    key: str,
    ops: Sequence[Mapping[str, Any]],
    *,
    use_async: bool = False,
    **streams_options: Any,
) -> None:
    """Publish ``ops`` (``node_emitter.js``'s format) with sioadapter's streams emitter, in
    order: ``AsyncEmitter`` when ``use_async``, otherwise ``Emitter`` in a worker thread.
    ``streams_options``: ``stream_name`` and the others, as the servers were given them."""
    options = {"key": key, "protocol": "streams", **streams_options}
    if use_async:
        emitter = AsyncEmitter(url, **options)
        try:
            for method, args in _python_emitter_steps(emitter, ops):
                await method(*args)
        finally:
            await emitter.aclose()
        return

    def publish_all() -> None:
        sync_emitter = Emitter(url, **options)
        try:
            for method, args in _python_emitter_steps(sync_emitter, ops):
                method(*args)
        finally:
            sync_emitter.close()

    await asyncio.to_thread(publish_all)
