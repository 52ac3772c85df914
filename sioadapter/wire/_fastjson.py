"""orjson behind the JSON functions of the wire, when it is installed (the ``speed`` extra).

Contract: each function here answers what the standard-library path of :mod:`.jsonwire` (and
``LocalSide.encode_event``) would answer for the same value, or raises `_Declined`, and the
caller then takes the standard path, which decides (the same value, or the same error).
orjson is only ever a shortcut:

* `loads`: declines what orjson refuses (the standard decoder then accepts or refuses it as
  before: lone surrogate escapes, numbers beyond a double, invalid UTF-8) and every payload with
  a run of 19 digits or more, where orjson would give a float for an integer outside 64 bits
  that the standard decoder keeps exact.
* `dumps`: declines whatever orjson refuses or hands to ``default`` beyond what that
  ``default`` takes (UNDEFINED, surrogates, integers beyond 64 bits, keys that are not
  strings, dates, dataclasses); a bytes-like raises `_HoldsBinary` when the caller asked for
  that. Its text can differ from the standard one in spelling only: floats as ``1e-7`` (as
  JavaScript writes them) where Python writes ``1e-07``, non-ASCII characters as UTF-8 where
  python-socketio's packets escape them. The values are the same. Two differences are not
  only spelling: values orjson writes natively and the standard encoder refuses (``uuid.UUID``,
  ``enum.Enum`` members) are written, as strings or their values, instead of raising
  TypeError; and in packets for this node's clients NaN and infinities are written as
  ``null`` (as ``JSON.stringify`` writes them, and as the wire already did), where
  python-socketio writes ``NaN``/``Infinity``, which the JavaScript client cannot parse.

``SIOADAPTER_PURE_PYTHON=1`` in the environment, at import, turns the shortcut off (`ENABLED`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

try:
    import orjson as _orjson
except ImportError:  # the speed extra is not installed
    _orjson = None  # type: ignore[assignment]

ENABLED: Final = _orjson is not None and os.environ.get("SIOADAPTER_PURE_PYTHON", "") in ("", "0")
"""True when orjson is installed and not turned off."""


class _Declined(Exception):
    """orjson cannot answer exactly as the standard path would: take that path."""


class _HoldsBinary(Exception):
    """Raised by a ``default`` at the first bytes-like when the caller wants to know."""


# Digits to "0", everything else to " ": a run of 19 digits is then a plain substring search
# (3x faster here than the regex [0-9]{19}, which costs twice orjson's own decoding).
_DIGITS_ONLY: Final = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN: Final = b"0" * 19
if ENABLED:
    _LOADS = _orjson.loads
    _DUMPS = _orjson.dumps
    _OPTIONS: Final = _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS
    _DECODE_ERROR: type[Exception] = _orjson.JSONDecodeError
    _ENCODE_ERROR: type[Exception] = _orjson.JSONEncodeError


def loads(data: bytes) -> Any:
    """``data`` decoded as the standard decoder would decode it (_Declined otherwise)."""
    if _LONG_RUN in data.translate(_DIGITS_ONLY):
        raise _Declined
    try:
        return _LOADS(data)
    except _DECODE_ERROR:
        raise _Declined from None


def dumps(value: object, default: Callable[[Any], Any]) -> bytes:
    """``value`` as UTF-8 JSON, ``default`` called for what orjson does not write itself.

    Raises _HoldsBinary when ``default`` does; _Declined for anything else orjson refuses.
    """
    try:
        return _DUMPS(value, default=default, option=_OPTIONS)
    except _ENCODE_ERROR as error:
        if isinstance(error.__cause__, _HoldsBinary):
            raise _HoldsBinary from None
        raise _Declined from None
