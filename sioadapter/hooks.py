"""Plugin hooks (pluggy): observe, rewrite or veto broadcasts, and watch the cluster.

A plugin is any object with methods named like the hook specifications below, marked with
``@sioadapter.hooks.hookimpl``; each method takes any subset of the hook's arguments, by
name. Register plugins per manager: ``AsyncClusterManager(url, plugins=[MyPlugin(), "audit"])``
(a string names an entry point of the ``sioadapter.plugins`` group), or later with
``mgr.plugins.register(plugin)``. Each manager has its own plugin manager: nothing is global.

Hooks are synchronous and run on the event loop: keep them short. They are called through
pluggy, so ``tryfirst``/``trylast``, ``hookwrapper=True`` and ``wrapper=True`` implementations
work as pluggy documents them. A plugin that raises is logged and skipped; the broadcast goes
on as if that plugin were absent (a veto is a return value, not an exception).

Each hook's name is also a constant here (``BROADCAST_PUBLISH`` is
``"sioadapter_broadcast_publish"``, ...; `HOOK_NAMES` holds them all).

Example, a plugin that keeps one room quiet and tags everything else::

    from sioadapter.hooks import hookimpl

    class QuietLibrary:
        @hookimpl
        def sioadapter_broadcast_publish(self, broadcast):
            if "library" in broadcast.rooms:
                return False                      # veto: nobody receives it
            broadcast.args.append({"tagged": True})  # rewrite: everyone gets the tag
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pluggy

__all__ = [
    "BACKEND_ERROR",
    "BROADCAST_DELIVER",
    "BROADCAST_PUBLISH",
    "BROADCAST_PUBLISHED",
    "HOOK_NAMES",
    "MESSAGE_DROPPED",
    "NODE_JOINED",
    "NODE_LEFT",
    "PROJECT",
    "REQUEST_DONE",
    "BroadcastEvent",
    "HookManager",
    "HookSpecs",
    "Origin",
    "hookimpl",
    "hookspec",
]

PROJECT = "sioadapter"
hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification (used by this module)."""
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's hook implementation: ``@hookimpl def sioadapter_...(self, ...)``."""

Origin = Literal["local", "remote", "emitter"]
"""Where a broadcast comes from (``BroadcastEvent.origin``)."""

# The hook names, one constant per specification below (tests check that the two agree).
# Code that calls a hook names it through these, so a misspelling is a NameError, not a hook
# that silently never fires.
BROADCAST_PUBLISH = "sioadapter_broadcast_publish"
BROADCAST_PUBLISHED = "sioadapter_broadcast_published"
BROADCAST_DELIVER = "sioadapter_broadcast_deliver"
REQUEST_DONE = "sioadapter_request_done"
MESSAGE_DROPPED = "sioadapter_message_dropped"
BACKEND_ERROR = "sioadapter_backend_error"
NODE_JOINED = "sioadapter_node_joined"
NODE_LEFT = "sioadapter_node_left"

HOOK_NAMES: frozenset[str] = frozenset(
    {
        BROADCAST_PUBLISH,
        BROADCAST_PUBLISHED,
        BROADCAST_DELIVER,
        REQUEST_DONE,
        MESSAGE_DROPPED,
        BACKEND_ERROR,
        NODE_JOINED,
        NODE_LEFT,
    }
)
"""Every hook name of `HookSpecs`."""


class HookManager(Protocol):
    """What every hook receives as ``manager``: the ``AsyncClusterManager`` that calls it (for
    a sync ``ClusterManager``, the ``AsyncClusterManager`` it runs on its loop thread).

    Declared as a protocol so that this module does not import the manager (which imports
    it); hooks may use anything the manager offers, ``uid`` and ``key`` are the usual ones.
    """

    @property
    def uid(self) -> str:
        """This node's uid."""

    @property
    def key(self) -> str:
        """The channel prefix (the ``key`` option)."""


@dataclass(slots=True)
class BroadcastEvent:
    """A broadcast as hooks see it. Hooks may change ``event``, ``args``, ``rooms``,
    ``except_rooms`` and ``flags`` in place; the changed broadcast is what goes on.

    Attributes:
        namespace: the namespace, e.g. ``"/"``.
        event: the event name.
        args: the event's arguments.
        rooms: target rooms (empty: everyone in the namespace).
        except_rooms: rooms whose sockets are left out.
        flags: Socket.IO flags (``volatile``, ``compress``, ``timeout`` ...).
        origin: ``"local"`` (sent by this node), ``"remote"`` (another node) or
            ``"emitter"`` (a process that is not a server).
        uid: the uid of the node that sent it (``"emitter"`` for emitters).
        acknowledged: the sender collects acknowledgements (``emit_with_ack``, ``callback=``).
        payload_size: the size in bytes of its encoded message, when known (after
            publishing, and for received broadcasts).
    """

    namespace: str
    event: str
    args: list[Any]
    rooms: list[Any] = field(default_factory=list)
    except_rooms: list[Any] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    origin: Origin = "local"
    uid: str | None = None
    acknowledged: bool = False
    payload_size: int | None = None


class HookSpecs:
    """The hook specifications. Every name starts with ``sioadapter_``."""

    @hookspec
    def sioadapter_broadcast_publish(
        self, manager: HookManager, broadcast: BroadcastEvent
    ) -> bool | None:
        """Before this node sends a broadcast: to the cluster and to its own clients.

        Fires for ``sio.emit`` / ``mgr.emit`` and acknowledged broadcasts, before anything is
        encoded. Change ``broadcast`` in place to rewrite it. Return ``False`` to veto it:
        nobody receives it, on any node. Any other return value is ignored.

        .. versionadded:: 0.1
        """

    @hookspec
    def sioadapter_broadcast_published(
        self, manager: HookManager, broadcast: BroadcastEvent
    ) -> None:
        """After this node sent a broadcast (observe only).

        ``broadcast.payload_size`` is the size of the message queued for the cluster, or None
        when the broadcast went to this node's clients only (one of its own socket ids). Not
        fired for a vetoed broadcast.

        .. versionadded:: 0.1
        """

    @hookspec
    def sioadapter_broadcast_deliver(
        self, manager: HookManager, broadcast: BroadcastEvent
    ) -> bool | None:
        """Before this node delivers a broadcast to its own clients, whoever sent it.

        ``broadcast.origin`` says where it came from: this node (``"local"``), another node
        (``"remote"``) or an emitter (``"emitter"``). Change ``broadcast`` in place to rewrite
        what these clients get (the rooms too, which re-selects the recipients); return
        ``False`` to deliver nothing here. Vetoing an acknowledged broadcast makes this node
        report 0 clients to the sender.

        .. versionadded:: 0.1
        """

    @hookspec
    def sioadapter_request_done(
        self,
        manager: HookManager,
        operation: str,
        request_id: str,
        responses: list[Any],
        received: int,
        expected: int | None,
        timed_out: bool,
        duration: float,
    ) -> None:
        """A cluster request of this node ended: all answers arrived, or it timed out.

        ``operation`` is ``"fetch_sockets"``, ``"all_rooms"``, ``"sockets"``,
        ``"server_side_call"``, ``"emit_with_ack"`` or ``"remote_operation"``. ``duration`` is
        the seconds from publishing the request (after counting the nodes that should answer)
        to its end.

        .. versionadded:: 0.1
        .. versionchanged:: 0.2
           ``duration``.
        """

    @hookspec
    def sioadapter_message_dropped(
        self, manager: HookManager, channel: str, payload: bytes, reason: str
    ) -> None:
        """A received message could not be decoded and was dropped (also counted in
        ``manager.stats.dropped_malformed``), or failed signature verification (managers with
        ``signing_keys``; ``reason`` then starts with ``"unsigned:"`` or ``"forged:"``,
        counted in ``stats.dropped_unsigned`` / ``stats.dropped_forged``).

        .. versionadded:: 0.1
        """

    @hookspec
    def sioadapter_backend_error(
        self, manager: HookManager, error: BaseException, context: str
    ) -> None:
        """The backend reported an error (a lost connection, a failed publish ...);
        ``context`` says what it was doing. Also logged and counted.

        .. versionadded:: 0.1
        """

    @hookspec
    def sioadapter_node_joined(self, manager: HookManager, namespace: str, uid: str) -> None:
        """Another node appeared in ``namespace`` (heartbeat mode: backends that cannot count
        subscribers).

        .. versionadded:: 0.1
        """

    @hookspec
    def sioadapter_node_left(self, manager: HookManager, namespace: str, uid: str) -> None:
        """Another node left ``namespace``: it said so, or went silent past the heartbeat
        timeout (heartbeat mode).

        .. versionadded:: 0.1
        """
