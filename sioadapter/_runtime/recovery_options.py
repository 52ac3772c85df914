"""The ``connection_state_recovery`` option: its keys, its defaults, and which disconnects a
client may recover from (`sioadapter._runtime.recovery` does the recovering)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RECOVERABLE_REASONS", "recovery_options"]

RECOVERABLE_REASONS = frozenset(
    {"transport close", "transport error", "ping timeout", "server disconnect"}
)
"""python-socketio's disconnect reasons after which a client may come back (Node's list, in
python-socketio's words); any other reason deletes the session. ``server disconnect`` is
engine.io closing the connection: Node's ``forced close`` and ``server shutting down``, both
recoverable there (older python-engineio, 4.11 for one, also says it when a sync server's
websocket client drops). A connection this node closes on purpose
(``disconnect_sockets(close=True)``, see `Recovery.closing`) and ``sio.disconnect(sid)``
delete the session, as in Node."""
_DEFAULTS: dict[str, Any] = {"max_disconnection_duration": 120.0, "skip_middlewares": True}


def recovery_options(
    value: Mapping[str, Any] | bool | None, protocol: str
) -> dict[str, Any] | None:
    """The ``connection_state_recovery`` option, checked, with its defaults (None when off).
    ValueError for unknown keys, a duration that is not positive, or a protocol that cannot
    replay what a client missed (only ``"streams"`` keeps it)."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, Mapping):
        raise TypeError("connection_state_recovery must be a dict (or True, or None)")
    unknown = set(value) - set(_DEFAULTS)
    if unknown:
        raise ValueError(
            f"connection_state_recovery takes {', '.join(sorted(_DEFAULTS))}, not "
            f"{', '.join(sorted(unknown))}"
        )
    if protocol != "streams":
        raise ValueError(
            f"connection_state_recovery needs protocol='streams' (a Redis stream keeps what a "
            f"client missed); the {protocol!r} protocol cannot replay it"
        )
    options = {**_DEFAULTS, **value}
    duration = options["max_disconnection_duration"]
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        raise ValueError(f"max_disconnection_duration must be positive seconds, not {duration!r}")
    options["max_disconnection_duration"] = float(duration)
    options["skip_middlewares"] = bool(options["skip_middlewares"])
    return options
