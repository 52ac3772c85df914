"""Values the wire codecs share: notepack 2's legacy markers and JS dates.

JS dates reach years -271821..275760, which ``datetime`` cannot hold, so ISO strings are
computed here from milliseconds (``Date#toISOString``'s format, expanded years included).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Final, final

import msgpack

from ..errors import DecodeError

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JS_MAX_MS: Final = 8_640_000_000_000_000  # the largest |time value| a JS Date can hold
_Timestamp: Final[type[Any]] = msgpack.Timestamp
_BINARY: Final = (bytes, bytearray, memoryview)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_PLAIN: Final = _SCALARS | {bytes}


@final
class Undefined:
    """JS ``undefined`` as notepack 2 writes it (``d4 00 00``). Falsy; use `UNDEFINED`."""

    __slots__ = ()
    _instance: ClassVar[Undefined | None] = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined()


class Ext0Bytes(bytes):
    """Bytes that arrived as a notepack 2 ArrayBuffer (ext type 0) and are written back that way."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Ext0Bytes({bytes(self)!r})"


class Ext0Date(datetime):
    """A Date that arrived as notepack 2 fixext8 type 0 and is written back that way."""

    @classmethod
    def from_ms(cls, ms: int) -> Ext0Date:
        """Build from JS milliseconds since the epoch; ``OverflowError`` outside years 1..9999."""
        d = _EPOCH + timedelta(milliseconds=ms)
        return cls(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.tzinfo)


def _since_epoch(dt: datetime) -> timedelta:
    return (dt if dt.utcoffset() is not None else dt.replace(tzinfo=timezone.utc)) - _EPOCH


def _ts_ms(ts: Any) -> int:
    # notepack 3 decodes a timestamp as new Date(s * 1e3 + ns / 1e6): JS truncates toward zero.
    total = int(ts.seconds) * 1_000_000_000 + int(ts.nanoseconds)
    return total // 1_000_000 if total >= 0 else -(-total // 1_000_000)


def _iso_from_ms(ms: int) -> str:
    """``new Date(ms).toISOString()``, with JS's expanded years outside 0..9999."""
    if not -_JS_MAX_MS <= ms <= _JS_MAX_MS:
        raise DecodeError(f"date {ms} ms is outside the JS Date range")
    days, rem = divmod(ms, 86_400_000)
    # Day count to proleptic Gregorian date (H. Hinnant's civil_from_days): datetime cannot be
    # used, JS dates reach years -271821..275760.
    era, doe = divmod(days + 719_468, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    ys = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    hh, rem = divmod(rem, 3_600_000)
    mi, rem = divmod(rem, 60_000)
    return f"{ys}-{month:02d}-{day:02d}T{hh:02d}:{mi:02d}:{rem // 1000:02d}.{rem % 1000:03d}Z"


def _date_iso(value: datetime | Any) -> str:
    if isinstance(value, datetime):
        return _iso_from_ms(_since_epoch(value) // timedelta(milliseconds=1))
    return _iso_from_ms(_ts_ms(value))


def dates_to_iso(value: Any) -> Any:
    """Replace each date inside ``value`` by the string JS's ``Date#toISOString`` gives.

    Dates are ``datetime`` (naive means UTC) and ``msgpack.Timestamp``, found in list and tuple
    items and dict keys and values. Meant for freshly decoded payloads: lists and dicts are
    changed in place; tuples, and dicts with date keys, are replaced by new objects.

    Raises:
        DecodeError: a date outside the JS Date range.
    """
    t = type(value)
    if t is list:
        if not _PLAIN.issuperset(map(type, value)):  # one C-level pass skips flat lists
            for i, item in enumerate(value):
                value[i] = dates_to_iso(item)
    elif t is dict:
        if not _PLAIN.issuperset(map(type, value)):
            return {dates_to_iso(k): dates_to_iso(v) for k, v in value.items()}
        if not _PLAIN.issuperset(map(type, value.values())):
            for k, v in value.items():
                value[k] = dates_to_iso(v)
    elif t is tuple:
        return dates_to_iso(list(value))
    elif isinstance(value, datetime) or t is _Timestamp:
        return _date_iso(value)
    return value


class _NeedsSlowPath(Exception):
    """Internal: the C codec cannot handle this value; use the pure-Python one."""
