"""Why Redis closed a subscriber connection: its output buffer limit, or something else.

Redis closes a pub/sub client whose output buffer (what it has queued for the client and not
yet sent) goes over ``client-output-buffer-limit pubsub`` (default ``32mb 8mb 60``: at once
past 32 MB, or after 60 s past 8 MB). Everything that buffer held is lost, and the client only
sees the connection end. This tells that case apart from a restart, a ``CLIENT KILL`` or a
client eviction by comparing ``INFO`` before and after:

* Redis 7.2+ counts these closes itself (``client_output_buffer_limit_disconnections``): a
  rise means it was the buffer, for certain;
* before 7.2, with the server still the same process (``run_id``), no ``CLIENT KILL`` run
  (``cmdstat_client|kill``) and no client evicted (``evicted_clients``), the buffer limit is
  the cause left (reported as inferred).

The decision is :func:`classify`, pure; :class:`CloseExplainer` runs the INFO commands.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from ..errors import OutputBufferLimitError

_TRANSIENT = (RedisError, ConnectionError, OSError, asyncio.TimeoutError)
_KILL = "cmdstat_client|kill"


@dataclass(frozen=True, slots=True)
class ServerState:
    """What INFO says about the server, for comparing before and after a close."""

    run_id: str | None
    buffer_disconnects: int | None  # None before Redis 7.2
    kills: int
    evicted: int


def state_from_info(info: dict[str, Any]) -> ServerState:
    """A :class:`ServerState` from redis-py's parsed ``INFO`` (sections server, stats,
    commandstats)."""
    kill = info.get(_KILL)
    kills = int(kill.get("calls", 0)) if isinstance(kill, dict) else 0
    disconnects = info.get("client_output_buffer_limit_disconnections")
    return ServerState(
        run_id=str(info["run_id"]) if "run_id" in info else None,
        buffer_disconnects=int(disconnects) if disconnects is not None else None,
        kills=kills,
        evicted=int(info.get("evicted_clients", 0) or 0),
    )


def classify(before: ServerState, after: ServerState) -> tuple[bool, bool]:
    """(was it the output buffer limit?, is that certain?) for a close between two states."""
    if before.run_id is not None and before.run_id != after.run_id:
        return False, True  # a restart: every connection went
    if after.buffer_disconnects is not None and before.buffer_disconnects is not None:
        return after.buffer_disconnects > before.buffer_disconnects, True
    if after.kills > before.kills or after.evicted > before.evicted:
        return False, False
    return True, False


def pubsub_limit(config: Any) -> str | None:
    """The pubsub class of ``CONFIG GET client-output-buffer-limit`` (``"33554432 8388608
    60"``), or None."""
    value = config.get("client-output-buffer-limit") if isinstance(config, dict) else None
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str):
        return None
    words = value.split()
    for index, word in enumerate(words):
        if word == "pubsub" and index + 3 < len(words):
            return " ".join(words[index + 1 : index + 4])
    return None


class CloseExplainer:
    """Keeps a baseline of the server's INFO and explains subscriber closes against it.

    Args:
        client: a redis-py asyncio client of the server the subscriber is connected to.
        description: how to name the server in messages (no secrets).
    """

    def __init__(self, client: Any, description: str) -> None:
        self.client = client
        self.description = description
        self._baseline: ServerState | None = None
        self._tried = False

    async def _state(self) -> ServerState | None:
        with contextlib.suppress(*_TRANSIENT):  # INFO may be denied by an ACL: no explanation
            info = await self.client.info("server", "stats", "commandstats")
            return state_from_info(info)
        return None

    @property
    def has_baseline(self) -> bool:
        """True once a baseline was taken, or tried (INFO denied by an ACL: no more tries)."""
        return self._tried

    async def remember(self) -> None:
        """Take the baseline (before the first subscription, and after each explained close)."""
        self._tried = True
        state = await self._state()
        if state is not None:
            self._baseline = state

    async def explain(self, name: str) -> OutputBufferLimitError | None:
        """The error to report when the buffer limit closed the ``name`` connection, or None
        (another cause, or no way to tell)."""
        before, after = self._baseline, await self._state()
        if before is None or after is None:
            return None
        self._baseline = after
        was_buffer, certain = classify(before, after)
        if not was_buffer:
            return None
        limit = None
        with contextlib.suppress(*_TRANSIENT):
            limit = pubsub_limit(await self.client.config_get("client-output-buffer-limit"))
        shown = f"client-output-buffer-limit pubsub {limit}" if limit else "its pubsub limit"
        how = "Redis counted it" if certain else "no restart, CLIENT KILL or eviction explains it"
        return OutputBufferLimitError(
            f"Redis ({self.description}) closed the {name} connection because its output "
            f"buffer went over {shown} ({how}): the messages it held for this node were lost. "
            "This node read more slowly than the cluster published; raise the limit or lower "
            "the traffic (docs/troubleshooting.md, 'Redis closes subscribers')",
            limit,
            certain,
        )
