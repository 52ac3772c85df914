"""ClusterNode: one node of a Socket.IO cluster, sans-IO.

In the spirit of h11's ``Connection``: events go in (a local call, a received message, a clock
tick), effects come out (:mod:`sioadapter.core.effects`), and the node never does I/O, never
sleeps and never reads a clock: ``now`` is passed in (seconds of a monotonic clock). A shell
(:mod:`sioadapter._runtime`) carries the effects out; a test wires nodes to a list.

The node owns every decision that is not I/O:

* what is published, on which channel, encoded and signed (:class:`~sioadapter.core.codec.Codec`):
  the sid-room short-cut (a broadcast to one socket of this node goes nowhere), the room-channel
  grace after a room change (:mod:`sioadapter.core.grace`), the size limit;
* what a received message does (:class:`~sioadapter.core.inbound.Receiver`), including what is
  skipped before decoding;
* how many answers a request expects, and when it is done, timed out or withdrawn
  (:class:`~sioadapter.core.requests.RequestTracker`);
* how long acknowledgement callbacks for other nodes live (:mod:`sioadapter.core.acks`);
* node membership on backends that cannot count subscribers (:mod:`sioadapter.core.membership`);
* which operations the wire family cannot carry, so the shell falls back (``supports``).

What only I/O can know comes back through methods: subscriber counts (``open_request`` takes
the count), local deliveries (``acks_registered``, ``client_acked``), socket descriptions
(``fetch_answer``), handler answers (``handler_answered``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..errors import MessageTooLargeError
from ..stats import Stats
from ..wire.base import Family
from ..wire.signing import Signer
from . import routing
from .acks import CallbackExpiry
from .codec import Codec
from .effects import (
    DeliverWithAcks,
    Dropped,
    Effect,
    ForgetCallbacks,
    Publish,
    RequestDone,
)
from .grace import RecentRoomChanges
from .inbound import Receiver
from .membership import Membership
from .messages import (
    AdapterClose,
    Broadcast,
    BroadcastAck,
    BroadcastClientCount,
    ClusterMessage,
    DisconnectSockets,
    FetchSockets,
    Response,
    ServerSideEmit,
    SocketsJoin,
    SocketsLeave,
    Target,
)
from .requests import PendingRequest, RequestKind, RequestTracker
from .selection import NamespaceRooms

__all__ = ["ClusterNode", "new_request_id"]

Message = tuple[str, bytes]


def new_request_id() -> str:
    """A request id: 16 hex characters, like socket.io-adapter's ``randomBytes(8)``."""
    return secrets.token_hex(8)


class ClusterNode:
    """One node's cluster logic.

    Args:
        family: the wire family, built for this node's uid (``family.uid``).
        rooms: python-socketio's room table of this node, read only (the manager's ``rooms``).
        stats: counters (a fresh :class:`~sioadapter.stats.Stats` when omitted).
        signer: message signing (None: none).
        require_signatures: with a signer, refuse unsigned messages.
        max_message_size: bytes, or None.
        ack_timeout: seconds at most that acknowledgement callbacks wait for clients.
        membership: heartbeat membership for backends that cannot count subscribers.
        room_grace: seconds broadcasts to a room stay on the namespace channel after this node
            changed that room on other nodes (families with room channels).
        new_id: makes request ids (tests pass a counter).
        offsets: connection state recovery on a family whose broadcasts come back with
            offsets (the streams protocol): see `Receiver` and `delivers_on_read_back`.
    """

    def __init__(
        self,
        family: Family,
        rooms: Mapping[str, NamespaceRooms],
        *,
        stats: Stats | None = None,
        signer: Signer | None = None,
        require_signatures: bool = True,
        max_message_size: int | None = None,
        ack_timeout: float = 60.0,
        membership: Membership | None = None,
        room_grace: float = 2.0,
        new_id: Callable[[], str] = new_request_id,
        offsets: bool = False,
    ) -> None:
        self.family = family
        self.offsets = offsets
        self.uid = family.uid
        self.rooms = rooms
        self.stats = stats if stats is not None else Stats()
        self.codec = Codec(
            family,
            signer,
            require_signatures=require_signatures,
            max_message_size=max_message_size,
        )
        self.ack_timeout = ack_timeout
        self.membership = membership
        self.served: set[str] = set()
        self.tracker = RequestTracker()
        self.callbacks = CallbackExpiry()
        self.grace = RecentRoomChanges(room_grace) if family.has_room_channels else None
        self.new_id = new_id
        self.deadline_version = 0
        """Bumped whenever a deadline is added: a shell reschedules its one timer only then."""
        self.receiver = Receiver(
            self.codec, self.stats, rooms, self.served, self.tracker, membership, ack_timeout,
            offsets,
        )  # fmt: skip

    def take_uid(self, uid: str) -> None:
        """Become the node ``uid``: a new identity everywhere the old one lives (the family,
        the receiver that ignores this node's own messages, heartbeat membership).

        For a shell whose process was forked (the node would otherwise share its parent's
        uid, and ignore the parent's messages as its own). Only before the node serves a
        namespace: a serving node's subscriptions and requests carry the old uid, so that
        raises RuntimeError.
        """
        if self.served or len(self.tracker):
            raise RuntimeError("a node cannot change its uid while it serves namespaces")
        self.family.take_uid(uid)
        self.uid = self.receiver.uid = uid
        if self.membership is not None:
            self.membership.uid = uid

    # -- what the node serves ---------------------------------------------------------------

    @property
    def counts_by_heartbeat(self) -> bool:
        """True when other nodes are counted from heartbeats, not by the backend."""
        return self.membership is not None

    def subscriptions(self, nsp: str) -> tuple[list[str], list[str]]:
        """(channels, patterns) to subscribe to before calling :meth:`serve`."""
        return self.family.subscriptions(nsp)

    def serve(self, nsp: str, now: float) -> list[Effect]:
        """The node serves ``nsp`` from now on (its subscriptions are active)."""
        if nsp in self.served:
            return []
        self.served.add(nsp)
        if self.membership is None:
            return []
        self.deadline_version += 1
        return [self.codec.encode(self.membership.joined(nsp, now))]

    def count_channel(self, nsp: str) -> str:
        """The channel whose subscriber count is the number of nodes serving ``nsp``."""
        return self.family.count_channel(nsp)

    def count_channels(self) -> list[str]:
        """The count channels of every served namespace."""
        return [self.family.count_channel(nsp) for nsp in sorted(self.served)]

    def supports(self, message_type: type) -> bool:
        """True when the wire family carries ``message_type`` (else the shell falls back:
        ALL_ROOMS and SOCKETS through FETCH_SOCKETS, legacy remote operations through a
        targeted room operation)."""
        return message_type in self.family.supported

    def owns(self, sid: str, nsp: str) -> bool:
        """True if ``sid`` is connected (or connecting) to ``nsp`` on this node."""
        namespace = self.rooms.get(nsp)
        everyone = namespace.get(None) if namespace else None
        return bool(everyone) and sid in everyone  # type: ignore[operator]

    def room_channel(self, nsp: str, room: Any) -> str | None:
        """The channel to subscribe to while ``room`` has a local member (None: the family
        has no room channels, or none for this room)."""
        return self.family.room_channel(nsp, room, is_sid=self.owns(str(room), nsp))

    # -- outbound ---------------------------------------------------------------------------

    def encode(self, message: ClusterMessage) -> Publish:
        """``message`` encoded and signed. TypeError, MessageTooLargeError."""
        return self.codec.encode(message)

    def broadcast(
        self,
        nsp: str,
        data: list[Any],
        rooms: list[Any],
        except_rooms: list[Any],
        flags: dict[str, Any],
        now: float,
    ) -> Publish | None:
        """What to publish for a broadcast, None when no other node can have a recipient (a
        single room that is one of this node's sockets)."""
        if (
            len(rooms) == 1
            and self.owns(str(rooms[0]), nsp)
            and not self.delivers_on_read_back(flags)
        ):
            return None
        message = Broadcast(nsp, self.uid, data, Target(list(rooms), list(except_rooms), flags))
        grace = self.grace
        use_room_channel = not (
            grace is not None and len(rooms) == 1 and grace.is_recent(nsp, rooms[0], now)
        )
        return self.codec.encode(message, use_room_channel=use_room_channel)

    def delivers_on_read_back(self, flags: dict[str, Any]) -> bool:
        """True when this node's own broadcast with ``flags`` (no acknowledgement) is given to
        its local clients when it reads it back with its offset, not at once."""
        return self.offsets and "volatile" not in flags

    def room_change(
        self, message: SocketsJoin | SocketsLeave | DisconnectSockets, now: float
    ) -> Publish:
        """What to publish for an operation on the sockets of other nodes; a join or leave
        starts the room's grace (its broadcasts go on the namespace channel for a while)."""
        if self.grace is not None and not isinstance(message, DisconnectSockets):
            self.grace.changed(message.nsp, message.rooms, now)
        return self.codec.encode(message)

    def is_local_single(self, target: Target, nsp: str) -> bool:
        """True when ``target`` is exactly one socket of this node (nothing to publish)."""
        return len(target.rooms) == 1 and self.owns(str(target.rooms[0]), nsp)

    def acked_broadcast(
        self,
        nsp: str,
        data: list[Any],
        rooms: list[Any],
        except_rooms: list[Any],
        flags: dict[str, Any],
        timeout: float,
        single: bool,
    ) -> tuple[str, Publish | None]:
        """(request id, what to publish) for a broadcast every recipient acknowledges; nothing
        to publish when it targets one socket of this node. The wire flags carry the timeout
        in milliseconds (Node's ``flags.timeout``) and ``expectSingleResponse``."""
        request_id = self.new_id()
        if single and len(rooms) == 1 and self.owns(str(rooms[0]), nsp):
            return request_id, None
        wire_flags = dict(flags)
        if single:
            wire_flags["expectSingleResponse"] = True
        wire_flags["timeout"] = int(timeout * 1000)
        message = Broadcast(
            nsp, self.uid, data, Target(rooms, except_rooms, wire_flags), request_id
        )
        return request_id, self.codec.encode(message)

    # -- requests ---------------------------------------------------------------------------

    def open_request(
        self,
        kind: RequestKind,
        request_id: str,
        outgoing: ClusterMessage | Publish | None,
        others: int | Collection[str],
        timeout: float,
        now: float,
        *,
        single: bool = False,
        context: Any = None,
    ) -> tuple[PendingRequest, list[Effect]]:
        """Open one of this node's requests and say what to publish.

        ``others`` is how many other nodes serve the namespace (the backend's count minus this
        node), or their uids (heartbeat membership). A remote operation expects one answer,
        its socket's owner's; an acknowledged broadcast also waits for this node's own client
        count (fed with :meth:`feed`). A request that expects nothing comes back done, with a
        RequestDone effect and nothing published.
        """
        expected: int | Collection[str]
        if kind is RequestKind.REMOTE_OP:
            expected = 1
        elif kind is RequestKind.BROADCAST_ACK:
            expected = others + 1 if isinstance(others, int) else {*others, self.uid}
        else:
            expected = others
        request = self.tracker.open(
            request_id, kind, expected=expected, deadline=now + timeout, single=single,
            context=context, opened=now,
        )  # fmt: skip
        if request.done:
            return request, [RequestDone(request, "completed")]
        self.deadline_version += 1
        effects: list[Effect] = []
        has_others = others if isinstance(others, int) else len(others)
        if outgoing is not None and (has_others or kind is RequestKind.REMOTE_OP):
            effects.append(
                outgoing if isinstance(outgoing, Publish) else self.codec.encode(outgoing)
            )
        return request, effects

    def feed(self, response: Response) -> list[Effect]:
        """An answer to one of this node's requests that this node produced itself (its own
        client count and acknowledgements of an acknowledged broadcast)."""
        out: list[Effect] = []
        self.receiver.feed(response, out)
        return out

    def own_client_count(self, request_id: str, nsp: str, count: int) -> list[Effect]:
        """This node delivered its own acknowledged broadcast to ``count`` clients."""
        return self.feed(BroadcastClientCount(nsp, self.uid, request_id, count))

    def own_ack(self, request_id: str, nsp: str, args: list[Any]) -> list[Effect]:
        """A local client acknowledged this node's own acknowledged broadcast."""
        return self.feed(BroadcastAck(nsp, self.uid, request_id, args=args, has_data=True))

    def withdraw(self, request_id: str) -> list[Effect]:
        """The caller stopped waiting for a request."""
        request = self.tracker.cancel(request_id)
        return [] if request is None else [RequestDone(request, "withdrawn")]

    def discovery_wait(self, nsp: str, now: float) -> float:
        """Seconds a request should wait before counting heartbeat members (0: none)."""
        return 0.0 if self.membership is None else self.membership.discovery_wait(nsp, now)

    def members(self, nsp: str) -> frozenset[str]:
        """The other nodes known by heartbeat to serve ``nsp``."""
        return frozenset() if self.membership is None else self.membership.members(nsp)

    # -- inbound ----------------------------------------------------------------------------

    def receive(self, channel: str, payload: bytes, now: float) -> list[Effect]:
        """The effects of one received message."""
        out: list[Effect] = []
        self.receiver.receive(channel, payload, now, out)
        return out

    def receive_batch(self, batch: list[Message], now: float) -> list[Effect]:
        """The effects of received messages, in order (one list for the whole batch)."""
        out: list[Effect] = []
        receive = self.receiver.receive
        for channel, payload in batch:
            receive(channel, payload, now, out)
        return out

    def acks_registered(
        self, delivery: DeliverWithAcks, count: int, context: Any, now: float
    ) -> tuple[int | None, list[Effect]]:
        """This node gave a remote acknowledged broadcast to ``count`` clients, whose
        callbacks ``context`` names. Returns the key of the callbacks (pass it to
        :meth:`client_acked`; None when there are none) and the client count to publish:
        every node answers, even with 0, or the requester waits for it forever."""
        reply = routing.client_count_reply(delivery.message, self.uid, count)
        key = self.callbacks.hold(context, count, now + delivery.timeout)
        if key is not None:
            self.deadline_version += 1
        return key, [self.codec.encode(reply)]

    def client_acked(self, message: Broadcast, key: int | None, args: list[Any]) -> list[Effect]:
        """A local client acknowledged another node's broadcast: relay its answer."""
        self.callbacks.answered(key)
        return [self.codec.encode(routing.ack_reply(message, self.uid, args))]

    def fetch_answer(self, request: FetchSockets, sockets: list[dict[str, Any]]) -> list[Effect]:
        """This node's sockets for another node's FETCH_SOCKETS. A session holding something
        the wire cannot carry is sent as null rather than no answer at all (the requester
        would time out), with a Dropped effect saying so. An answer over max_message_size
        is not sent (a Dropped effect says so): the requester times out without it."""

        def answer(sockets: list[dict[str, Any]]) -> Publish:
            return self.codec.encode(routing.fetch_reply(request, self.uid, sockets))

        try:
            return [answer(sockets)]
        except MessageTooLargeError as error:  # a ValueError, but no session's fault
            return [_answer_too_large(error)]
        except (TypeError, ValueError, OverflowError) as error:
            cleaned = []
            for socket in sockets:
                try:
                    answer([socket])
                except MessageTooLargeError:
                    pass  # encodable: its size is judged with the whole answer below
                except (TypeError, ValueError, OverflowError):
                    socket = {**socket, "data": None}
                cleaned.append(socket)
            problem = Dropped(
                "unencodable-session",
                "",
                "",
                f"socket data cannot be sent to the cluster ({error}); sent as null",
            )
            try:
                return [problem, answer(cleaned)]
            except MessageTooLargeError as too_large:
                return [problem, _answer_too_large(too_large)]

    def handler_answered(self, message: ServerSideEmit, answer: Any) -> list[Effect]:
        """The application's handler answered a server-side event."""
        if message.request_id is None:
            return []
        return [self.codec.encode(routing.server_side_reply(message, self.uid, answer))]

    # -- time -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do next (None: nothing scheduled)."""
        times = [
            t
            for t in (
                self.tracker.next_deadline(),
                self.callbacks.next_deadline(),
                self.membership.next_deadline() if self.membership is not None else None,
            )
            if t is not None
        ]
        return min(times) if times else None

    def tick(self, now: float) -> list[Effect]:
        """What is due at ``now``: requests timed out, callbacks expired, heartbeats and
        nodes gone silent."""
        out: list[Effect] = []
        for request in self.tracker.expire(now):
            self.stats.requests_timed_out += 1
            out.append(RequestDone(request, "timeout"))
        out.extend(ForgetCallbacks(context) for context in self.callbacks.expire(now))
        if self.membership is not None:
            beats, gone = self.membership.beat(now)
            out.extend(self.codec.encode(beat) for beat in beats)
            for nsp, uid in gone:
                self.receiver.node_left(nsp, uid, out)
        return out

    @property
    def pending_deadlines(self) -> int:
        """Request deadlines and callback expiries held (heartbeats not counted)."""
        return len(self.tracker) + len(self.callbacks)

    def close(self) -> list[Effect]:
        """The node leaves: ADAPTER_CLOSE for heartbeat peers, every request ended ("closed"),
        every held callback forgotten, no deadline left (``next_deadline`` is None)."""
        out: list[Effect] = []
        if self.membership is not None:
            out.extend(
                self.codec.encode(AdapterClose(nsp, self.uid)) for nsp in sorted(self.served)
            )
            self.membership.leave()
        out.extend(RequestDone(request, "closed") for request in self.tracker.cancel_all())
        out.extend(ForgetCallbacks(context) for context in self.callbacks.clear())
        self.served.clear()
        return out


def _answer_too_large(error: MessageTooLargeError) -> Dropped:
    return Dropped("oversized", "fetch-answer", "", f"answer not sent: {error}")
