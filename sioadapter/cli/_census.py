"""How many servers already use a key on a backend: the demo's check before it starts.

:func:`servers_using` asks a connected backend, in the wire family the cluster's servers use
there (the one a manager would pick, `sioadapter._runtime.assembly.make_family`):

* a backend that counts subscribers (Redis): the subscriber count of the namespace's count
  channel, as the nodes count themselves;
* a backend that cannot (PostgreSQL, NATS, RabbitMQ; the nodes count each other by heartbeat):
  it listens on the namespace's channels, publishes an INITIAL_HEARTBEAT under a uid of its own,
  which every server answers at once with a HEARTBEAT (Node's ``ClusterAdapterWithHeartbeat``
  and sioadapter's nodes alike), counts the uids that answer within ``wait`` seconds (a little
  longer once the first has answered, for the others), and then publishes ADAPTER_CLOSE, so
  that the servers drop the probe at once instead of counting it, and waiting for it in their
  requests, until their heartbeat timeout. A socket.io 4.8.1 server answers it too: it answers
  INITIAL_HEARTBEATs even though it never sends its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

from .._runtime.assembly import make_family
from ..backends.base import Backend, Message
from ..core import messages as m
from ..wire.base import Family
from ..wire.notepack import DecodeError

__all__ = ["servers_using"]

STRAGGLERS = 0.3
"""Seconds to keep listening once a first server has answered, for the others' answers."""


async def servers_using(backend: Backend, key: str, wait: float, nsp: str = "/") -> int:
    """The number of servers using ``key`` in ``nsp`` on the connected ``backend`` (see the
    module docstring). Unbounded on a backend that does not answer: the caller bounds it."""
    uid = secrets.token_hex(8)
    family = make_family(backend, key, uid, None, False, None)
    if backend.capabilities.counts_subscribers:
        channel = family.count_channel(nsp)
        counts = await backend.subscriber_counts([channel])
        return (counts or {}).get(channel, 0)
    channels, patterns = family.subscriptions(nsp)
    await backend.subscribe(channels, patterns)
    batches = aiter(backend.message_batches())
    await backend.publish([family.encode(m.Heartbeat(nsp, uid, initial=True))])
    try:
        return len(await _answers(family, batches, uid, wait))
    finally:
        with contextlib.suppress(Exception):  # best effort: the heartbeat timeout does the rest
            await backend.publish([family.encode(m.AdapterClose(nsp, uid))])


async def _answers(
    family: Family, batches: AsyncIterator[list[Message]], uid: str, wait: float
) -> set[str]:
    """The uids heard (other than ``uid`` and emitters) within ``wait`` seconds, or within
    :data:`STRAGGLERS` of the first one."""
    heard: set[str] = set()
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            batch = await asyncio.wait_for(anext(batches), left)
        except (asyncio.TimeoutError, StopAsyncIteration):
            break
        for channel, payload in batch:
            info = family.parse_channel(channel)
            if info is None:
                continue
            try:
                sender = getattr(family.decode(info, payload), "uid", None)
            except DecodeError:
                continue
            if isinstance(sender, str) and sender not in (uid, m.EMITTER_UID):
                if not heard:
                    deadline = min(deadline, time.monotonic() + STRAGGLERS)
                heard.add(sender)
    return heard
