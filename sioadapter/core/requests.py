"""Request correlation: which answers a pending cluster request still waits for.

The tracker is sans-IO: it never sleeps, schedules or reads a clock. The caller passes deadlines
and the current time in the same unit (seconds of a monotonic clock, in practice) and acts on
what the tracker returns: an :class:`Update` when an answer arrives, the expired requests when
``expire(now)`` is called.

How many answers a request expects is fixed when it is opened, in one of two ways:

* a count (the number of *other* nodes, from the backend's subscriber count, as Node's Redis
  adapters do), completed when that many answers arrived;
* a set of node uids (from the heartbeat node table, as Node's ``ClusterAdapterWithHeartbeat``
  does), completed when every one of them answered or left the cluster.

An acknowledged broadcast is the two-level case: every expected node first reports how many of
its clients it sent the event to (:class:`BroadcastClientCount`), then one
:class:`BroadcastAck` arrives per client. It completes when every node has reported and the
number of acknowledgements equals the sum of their counts.

A request leaves the tracker exactly once: completed by ``feed``/``node_left``, expired by
``expire``, or withdrawn by ``cancel``/``cancel_all``. Nothing else keeps a reference to it:
the deadline heap drops entries lazily, but is rebuilt whenever more than half of it is stale,
so completed requests leave nothing behind (memory is O(pending), whatever the traffic), but
for the ids of the last ``FINISHED_WINDOW`` requests, kept so that a late answer to one of this
node's requests can be told from an answer to another node's request (``finished_recently``).
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from .messages import (
    BroadcastAck,
    BroadcastClientCount,
    FetchSocketsResponse,
    RequestReply,
    Response,
    ServerSideEmitResponse,
)


class RequestKind(enum.Enum):
    """What a pending request collects, which decides how its answers are read."""

    FETCH_SOCKETS = "fetch_sockets"
    ALL_ROOMS = "all_rooms"
    SOCKET_IDS = "sockets"
    SERVER_SIDE_EMIT = "server_side_call"
    BROADCAST_ACK = "emit_with_ack"
    REMOTE_OP = "remote_operation"


@dataclass(slots=True, eq=False)
class PendingRequest:
    """One request waiting for answers.

    ``results`` grows as answers arrive: (node, socket details) pairs for FETCH_SOCKETS (the
    node is the answering node's uid, or ``node-<rank>`` when the answer has no uid), room names for
    ALL_ROOMS, socket ids for SOCKET_IDS, handler answers for SERVER_SIDE_EMIT, lists of
    acknowledgement arguments for BROADCAST_ACK. ``context`` is the caller's (a future, a
    callback); the tracker never looks at it.
    """

    request_id: str
    kind: RequestKind
    deadline: float
    expected: int | None
    missing: set[str] | None
    single: bool = False
    context: Any = None
    results: list[Any] = field(default_factory=list)
    received: int = 0
    client_total: int = 0
    done: bool = False
    opened: float = 0.0  # when it was opened, on the caller's clock (for durations)

    @property
    def waiting_for_nodes(self) -> bool:
        """True while some expected node has not answered (or reported its client count)."""
        if self.missing is not None:
            return bool(self.missing)
        return self.expected is not None and self.received < self.expected

    def progress(self) -> tuple[int, int | None]:
        """(answers received, answers expected or None) for error messages."""
        if self.kind is RequestKind.BROADCAST_ACK:
            expected = None if self.waiting_for_nodes else self.client_total
            return len(self.results), expected
        if self.missing is not None:
            return self.received, self.received + len(self.missing)
        return self.received, self.expected


@dataclass(slots=True)
class Update:
    """What one answer changed: ``items`` newly collected, ``done`` if the request completed."""

    request: PendingRequest
    items: list[Any]
    done: bool


FINISHED_WINDOW = 1024
"""How many ids of requests that left the tracker ``finished_recently`` remembers."""


class RequestTracker:
    """The single map of pending cluster requests, keyed by request id."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingRequest] = {}
        self._deadlines: list[tuple[float, str]] = []
        # Ids of requests that left, oldest first (a dict keeps insertion order), bounded.
        self._finished: dict[str, None] = {}

    def finished_recently(self, request_id: str) -> bool:
        """Whether ``request_id`` names one of the last ``FINISHED_WINDOW`` requests of this
        tracker that completed, expired or were withdrawn. An answer with an id that is neither
        pending nor finished recently answers another node's request: channels shared by
        every node (Node's PostgreSQL adapter, the classic protocol's shared response channel)
        deliver those to everyone."""
        return request_id in self._finished

    def _left(self, request_id: str) -> None:
        finished = self._finished
        finished[request_id] = None
        if len(finished) > FINISHED_WINDOW:
            del finished[next(iter(finished))]

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._pending

    def get(self, request_id: str) -> PendingRequest | None:
        """The pending request with this id, or None."""
        return self._pending.get(request_id)

    def open(
        self,
        request_id: str,
        kind: RequestKind,
        *,
        expected: int | Collection[str],
        deadline: float,
        single: bool = False,
        context: Any = None,
        opened: float = 0.0,
    ) -> PendingRequest:
        """Start tracking a request.

        Args:
            request_id: unique among pending requests (ValueError otherwise).
            kind: what the request collects.
            expected: the number of nodes that will answer, or the set of their uids.
            deadline: when ``expire`` gives up on it.
            single: the request targets one socket (``expectSingleResponse``): an acknowledged
                broadcast completes on its first acknowledgement, a remote operation on its
                first answer.
            context: opaque caller data, handed back in updates.
            opened: the time now, on the clock of ``deadline`` (kept as ``opened``, so the
                caller can tell how long the request took).

        A request that expects nothing (0 nodes, an empty set) is returned already ``done``
        and is not tracked.
        """
        if request_id in self._pending:
            raise ValueError(f"request id {request_id!r} is already pending")
        if isinstance(expected, int):
            count: int | None = max(expected, 0)
            missing: set[str] | None = None
        else:
            count, missing = None, set(expected)
        request = PendingRequest(request_id, kind, deadline, count, missing, single, context)
        request.opened = opened
        if kind is RequestKind.REMOTE_OP:
            # Only the socket's owner answers a remote operation, so the node count says
            # nothing about completion: the first answer completes it, or the deadline.
            request.expected, request.missing = 1, None
        elif not request.waiting_for_nodes:
            request.done = True
            return request
        self._pending[request_id] = request
        heapq.heappush(self._deadlines, (deadline, request_id))
        return request

    def _removed(self) -> None:
        """A request left before its deadline: rebuild the heap once most of it is stale."""
        if len(self._deadlines) > 2 * len(self._pending) + 16:
            self._deadlines = [(r.deadline, r.request_id) for r in self._pending.values()]
            heapq.heapify(self._deadlines)

    def feed(self, response: Response) -> Update | None:
        """Account for one answer. Returns None if no pending request expects it.

        Answers to someone else's request (shared response channels deliver them to every node)
        and late answers after completion or timeout land here and are ignored.
        """
        request = self._pending.get(response.request_id)
        if request is None:
            return None
        items = self._collect(request, response)
        if items is None:
            return None
        if self._complete(request):
            request.done = True
            del self._pending[request.request_id]
            self._left(request.request_id)
            self._removed()
        return Update(request, items, request.done)

    def node_left(self, uid: str) -> list[Update]:
        """A node left the cluster: stop waiting for it. Returns the requests this completed."""
        updates = []
        for request in list(self._pending.values()):
            if request.missing is not None and uid in request.missing:
                request.missing.discard(uid)
                if self._complete(request):
                    request.done = True
                    del self._pending[request.request_id]
                    self._left(request.request_id)
                    updates.append(Update(request, [], True))
        if updates:
            self._removed()
        return updates

    def expire(self, now: float) -> list[PendingRequest]:
        """Remove and return every request whose deadline is at or before ``now``."""
        expired = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, request_id = heapq.heappop(self._deadlines)
            request = self._pending.pop(request_id, None)
            if request is not None:
                self._left(request_id)
                expired.append(request)
        if not self._pending:
            self._deadlines.clear()
        return expired

    def next_deadline(self) -> float | None:
        """The earliest deadline among pending requests, or None when nothing is pending."""
        while self._deadlines and self._deadlines[0][1] not in self._pending:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def cancel(self, request_id: str) -> PendingRequest | None:
        """Withdraw one request (its caller gave up). Returns it, or None if unknown."""
        request = self._pending.pop(request_id, None)
        if request is not None:
            self._left(request_id)
            self._removed()
        return request

    @property
    def heap_size(self) -> int:
        """Entries in the deadline heap, stale ones included (bounded by 2 x pending + 16)."""
        return len(self._deadlines)

    def cancel_all(self) -> list[PendingRequest]:
        """Withdraw every pending request (the manager is closing)."""
        requests = list(self._pending.values())
        for request_id in self._pending:
            self._left(request_id)
        self._pending.clear()
        self._deadlines.clear()
        return requests

    @staticmethod
    def _count_node(request: PendingRequest, uid: str | None) -> None:
        request.received += 1
        if request.missing is not None and uid is not None:
            request.missing.discard(uid)

    def _collect(self, request: PendingRequest, response: Response) -> list[Any] | None:
        kind = request.kind
        if kind is RequestKind.BROADCAST_ACK:
            if isinstance(response, BroadcastClientCount):
                self._count_node(request, response.uid)
                request.client_total += max(response.client_count, 0)
                return []
            if isinstance(response, BroadcastAck):
                args = response.arguments()
                request.results.append(args)
                return [args]
            return None
        if kind is RequestKind.SERVER_SIDE_EMIT:
            if not isinstance(response, ServerSideEmitResponse):
                return None
            self._count_node(request, response.uid)
            request.results.append(response.data)
            return [response.data]
        items: list[Any]
        if kind is RequestKind.FETCH_SOCKETS and isinstance(response, FetchSocketsResponse):
            items = list(response.sockets)
        elif isinstance(response, RequestReply):
            field_value = response.rooms if kind is RequestKind.ALL_ROOMS else response.sockets
            items = list(field_value or ())
            if kind is RequestKind.SOCKET_IDS or kind is RequestKind.ALL_ROOMS:
                # Classic replies carry no type: a peer answering with socket details (maps)
                # where ids or room names belong is kept out of the caller's set.
                items = [i for i in items if isinstance(i, (str, int)) and not isinstance(i, bool)]
        else:
            return None
        # Node counts an answer even when its list is missing (a peer with nothing to report).
        self._count_node(request, response.uid)
        if kind is RequestKind.FETCH_SOCKETS:
            # Keep which node each socket came from: its uid, or (classic answers carry none)
            # the answer's rank.
            origin = response.uid or f"node-{request.received}"
            items = [(origin, details) for details in items]
        if kind is not RequestKind.REMOTE_OP:
            request.results.extend(items)
        return items

    @staticmethod
    def _complete(request: PendingRequest) -> bool:
        if request.kind is RequestKind.BROADCAST_ACK:
            if request.single and request.results:
                return True
            return not request.waiting_for_nodes and len(request.results) >= request.client_total
        return not request.waiting_for_nodes
