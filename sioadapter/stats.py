"""Counters and gauges a manager keeps about its cluster traffic (``mgr.stats``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

__all__ = [
    "GAUGES",
    "Stats",
]

GaugeSource = Callable[[], dict[str, int]]

GAUGES = (
    "pending_requests",
    "pending_ack_callbacks",
    "pending_timers",
    "queued_messages",
    "queued_bytes",
)
"""The names of the gauges (values right now, not totals); see `Stats`."""


@dataclass(slots=True)
class Stats:
    """Monotonic counters since the manager started, and gauges of what it holds right now.
    Read them; do not write them.

    Counters:
        published: messages the backend accepted (confirmed by the server where the backend
            confirms later).
        publish_batches: backend ``publish`` calls (each carries one or more messages).
        publish_failed: messages that may not have reached the cluster: refused by the backend,
            not queued because the publish queue was full during an outage, or written on a
            connection that died before the server confirmed them.
        received: messages received from the backend, before any filtering.
        skipped_rooms: single-room broadcasts dropped undecoded: no local socket in the room.
        ignored_own: messages this node sent itself, seen again and ignored.
        dropped_malformed: payloads that could not be decoded (logged once per kind).
        dropped_oversized: received messages over ``max_message_size``, dropped undecoded.
        dropped_foreign_namespace: messages for a namespace this node does not serve.
        dropped_unknown_channel: messages on a channel that is not one of ours.
        bad_numbers: numbers from the wire that were not finite, not numbers or out of range
            (an acknowledgement timeout of NaN or 1e300): replaced by this node's own value.
        dropped_unsigned: messages without a signature, dropped undecoded by a manager with
            ``signing_keys`` that requires signatures (logged once).
        dropped_unreadable: messages the backend heard of but could not read (a PostgreSQL
            attachment row not read within ``attachment_timeout``): lost, each reported as a
            `sioadapter.errors.ReceivedMessageLostError`.
        dropped_forged: messages whose signature matches none of the manager's
            ``signing_keys`` for the channel they came on (forged, tampered, moved from another
            channel, or signed with a key this node lacks), dropped undecoded (logged once).
        delivered: remote broadcasts delivered to local clients (one per broadcast).
        requests_timed_out: requests of this node that ended in a timeout.
        late_responses: responses to this node's requests that came after the request had
            completed, timed out or been withdrawn. Answers to other nodes' requests, which
            shared channels deliver to every node, are not counted.
        handler_errors: exceptions raised while handling a received message.
        backend_errors: errors reported by the backend.
        buffer_limit_disconnects: times Redis closed this node's subscriber connection because
            its output buffer went over ``client-output-buffer-limit pubsub`` (what it held
            was lost); see docs/operations.md.
        stream_gaps: ``protocol="streams"``: times this node found entries of a stream gone
            before it read them (trimmed by ``max_len``, or the stream deleted or lost in a
            Redis restart); each is logged.
        stream_entries_lost: how many entries those gaps lost, where Redis could tell (7.0+,
            and not for a stream that was reset).

    Gauges (see `GAUGES`):
        pending_requests: this node's cluster requests waiting for answers.
        pending_ack_callbacks: acknowledgement callbacks waiting for a client's answer.
        pending_timers: timers scheduled (request deadlines, callback expiry).
        queued_messages: messages waiting to be published.
        queued_bytes: bytes of those messages.
    """

    published: int = 0
    publish_batches: int = 0
    publish_failed: int = 0
    received: int = 0
    skipped_rooms: int = 0
    ignored_own: int = 0
    dropped_malformed: int = 0
    dropped_oversized: int = 0
    dropped_foreign_namespace: int = 0
    dropped_unknown_channel: int = 0
    bad_numbers: int = 0
    dropped_unsigned: int = 0
    dropped_forged: int = 0
    dropped_unreadable: int = 0
    delivered: int = 0
    requests_timed_out: int = 0
    late_responses: int = 0
    handler_errors: int = 0
    backend_errors: int = 0
    buffer_limit_disconnects: int = 0
    stream_gaps: int = 0
    stream_entries_lost: int = 0
    _gauges: GaugeSource | None = field(default=None, repr=False, compare=False)

    def set_gauge_source(self, source: GaugeSource | None) -> None:
        """Install the callable that reads the gauges (the manager does)."""
        self._gauges = source

    def gauges(self) -> dict[str, int]:
        """Every gauge, read now (zeros before a manager installed its source)."""
        values = self._gauges() if self._gauges is not None else {}
        return {name: int(values.get(name, 0)) for name in GAUGES}

    @property
    def pending_requests(self) -> int:
        """This node's cluster requests waiting for answers."""
        return self.gauges()["pending_requests"]

    @property
    def pending_ack_callbacks(self) -> int:
        """Acknowledgement callbacks waiting for a client's answer."""
        return self.gauges()["pending_ack_callbacks"]

    @property
    def pending_timers(self) -> int:
        """Timers scheduled: request deadlines and callback expiry."""
        return self.gauges()["pending_timers"]

    @property
    def queued_messages(self) -> int:
        """Messages waiting to be published."""
        return self.gauges()["queued_messages"]

    @property
    def queued_bytes(self) -> int:
        """Bytes of the messages waiting to be published."""
        return self.gauges()["queued_bytes"]

    def counters(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def as_dict(self) -> dict[str, int]:
        """Counters and gauges as one plain dict (for logs and metrics exporters)."""
        return {**self.counters(), **self.gauges()}
