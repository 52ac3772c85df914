"""The audit plugin: one JSON line per broadcast a node sends or receives.

Each line holds: ``time`` (UTC, ISO 8601), ``node`` (the manager's uid), ``direction``
(``sent``, ``received`` from another node, or ``emitter``), ``namespace``, ``rooms``,
``except``, ``event``, ``args`` (how many arguments), ``bytes`` (the encoded message size;
null for a broadcast that only went to this node's own clients) and ``acknowledged``. Argument
values are never recorded unless ``record_args=True``.

Use it by name, ``AsyncClusterManager(url, plugins=["audit"])`` (lines go to the
``sioadapter.audit`` logger), or configured::

    from sioadapter.plugins.audit import AuditPlugin

    mgr = AsyncClusterManager(url, plugins=[AuditPlugin(path="audit.jsonl", sample=0.1)])
    mgr = AsyncClusterManager(url, plugins=[("audit", {"path": "audit.jsonl"})])
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ..hooks import BroadcastEvent, hookimpl

__all__ = ["AuditPlugin"]

_DIRECTIONS = {"local": "sent", "remote": "received", "emitter": "emitter"}


class AuditPlugin:
    """Writes one JSON line per broadcast.

    Args:
        path: append the lines to this file.
        logger: log the lines (INFO) to this logger; the default when neither ``path`` nor
            ``callback`` is given is the ``sioadapter.audit`` logger.
        callback: called with each record (a dict) instead of, or besides, the above.
        sample: the fraction of broadcasts recorded, in (0, 1].
        record_args: also record the argument values (``args_values``).
        seed: seed of the sampling's random generator (for reproducible sampling).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        logger: logging.Logger | None = None,
        callback: Callable[[dict[str, Any]], None] | None = None,
        sample: float = 1.0,
        record_args: bool = False,
        seed: int | None = None,
    ) -> None:
        if not 0 < sample <= 1:
            raise ValueError("sample must be in (0, 1]")
        if logger is None and path is None and callback is None:
            logger = logging.getLogger("sioadapter.audit")
        self.logger = logger
        self.callback = callback
        self.sample = sample
        self.record_args = record_args
        self._random = random.Random(seed)
        self._file: IO[str] | None = None
        if path is not None:
            self._file = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 - kept open

    def close(self) -> None:
        """Close the audit file (lines written so far are flushed already)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @hookimpl
    def sioadapter_broadcast_published(self, manager: Any, broadcast: BroadcastEvent) -> None:
        self._record(manager, broadcast)

    @hookimpl
    def sioadapter_broadcast_deliver(self, manager: Any, broadcast: BroadcastEvent) -> None:
        if broadcast.origin != "local":  # sent ones were recorded when published
            self._record(manager, broadcast)

    def _record(self, manager: Any, broadcast: BroadcastEvent) -> None:
        if self.sample < 1 and self._random.random() >= self.sample:
            return
        record: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "node": manager.uid,
            "direction": _DIRECTIONS[broadcast.origin],
            "namespace": broadcast.namespace,
            "rooms": list(broadcast.rooms),
            "except": list(broadcast.except_rooms),
            "event": broadcast.event,
            "args": len(broadcast.args),
            "bytes": broadcast.payload_size,
            "acknowledged": broadcast.acknowledged,
        }
        if self.record_args:
            record["args_values"] = broadcast.args
        if self.callback is not None:
            self.callback(record)
        if self._file is not None or self.logger is not None:
            line = json.dumps(record, default=repr, ensure_ascii=False)
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
            if self.logger is not None:
                self.logger.info(line)
