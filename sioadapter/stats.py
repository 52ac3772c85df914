"""Counters a manager keeps about its cluster traffic (``mgr.stats``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class Stats:
    """Monotonic counters since the manager started. Read them; do not write them.

    Attributes:
        published: messages handed to the backend.
        publish_batches: backend ``publish`` calls (each carries one or more messages).
        publish_failed: messages lost because the backend refused or failed to publish them.
        received: messages received from the backend, before any filtering.
        skipped_rooms: single-room broadcasts dropped undecoded: no local socket in the room.
        ignored_own: messages this node sent itself, seen again and ignored.
        dropped_malformed: payloads that could not be decoded (logged once per kind).
        dropped_foreign_namespace: messages for a namespace this node does not serve.
        dropped_unknown_channel: messages on a channel that is not one of ours.
        dropped_unsigned: messages without a signature, dropped undecoded by a manager with
            ``signing_keys`` that requires signatures (logged once).
        dropped_forged: messages whose signature matches none of the manager's
            ``signing_keys`` for the channel they came on (forged, tampered, moved from another
            channel, or signed with a key this node lacks), dropped undecoded (logged once).
        delivered: remote broadcasts delivered to local clients (one per broadcast).
        requests_timed_out: requests of this node that ended in a timeout.
        late_responses: responses to requests that were no longer pending (answered by
            someone else's request, completed, or timed out).
        handler_errors: exceptions raised while handling a received message.
        backend_errors: errors reported by the backend.
    """

    published: int = 0
    publish_batches: int = 0
    publish_failed: int = 0
    received: int = 0
    skipped_rooms: int = 0
    ignored_own: int = 0
    dropped_malformed: int = 0
    dropped_foreign_namespace: int = 0
    dropped_unknown_channel: int = 0
    dropped_unsigned: int = 0
    dropped_forged: int = 0
    delivered: int = 0
    requests_timed_out: int = 0
    late_responses: int = 0
    handler_errors: int = 0
    backend_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for logs and metrics exporters)."""
        return asdict(self)
