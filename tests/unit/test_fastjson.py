"""The orjson shortcut (the ``speed`` extra) answers as the standard-library path does.

Each property runs the same value through the wire's JSON functions twice, with the shortcut
and with it turned off, and compares the results exactly: the same decoded value (types
included), the same ``None`` for binary, the same exception type. Encoded text may differ in
spelling only (``1e-7`` for ``1e-07``, UTF-8 for ``\\u`` escapes), so it is compared as the
standard decoder reads it back.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_notepack_properties import PROPERTY, _values

from sioadapter._runtime import local
from sioadapter.errors import DecodeError
from sioadapter.wire import _fastjson, jsonwire, notepack

pytestmark = pytest.mark.skipif(
    not _fastjson.ENABLED, reason="orjson is not installed: pip install 'sioadapter[speed]'"
)


@contextlib.contextmanager
def pure() -> Iterator[None]:
    """The standard-library path only, for the duration."""
    saved = jsonwire._FAST, local._FAST
    jsonwire._FAST = local._FAST = False
    try:
        yield
    finally:
        jsonwire._FAST, local._FAST = saved


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except (TypeError, ValueError, DecodeError) as error:
        return ("raises", type(error))


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def read_back(result: Any) -> Any:
    kind, value = result
    if kind == "ok" and isinstance(value, (bytes, str)):
        return "decoded", json.loads(value)
    return result


def assert_same_outcome(fast: Any, slow: Any) -> None:
    fast, slow = read_back(fast), read_back(slow)
    assert fast[0] == slow[0], (fast, slow)
    ok = fast[0] in ("ok", "decoded")
    assert same(fast[1], slow[1]) if ok else fast[1] is slow[1], (fast, slow)


@PROPERTY
@given(_values)
def test_dumps_json_with_orjson_writes_the_values_the_standard_path_writes(value: Any) -> None:
    for function in (notepack.dumps_json, notepack.dumps_json_unless_binary):
        fast = outcome(lambda: function(value))  # noqa: B023
        with pure():
            slow = outcome(lambda: function(value))  # noqa: B023
        assert_same_outcome(fast, slow)


def finite(value: Any) -> Any:
    """NaN and infinities as null, as JSON.stringify (and orjson) write them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [finite(item) for item in value]
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    return value


@PROPERTY
@given(_values)
def test_socketio_packet_json_with_orjson_is_the_standard_packets(value: Any) -> None:
    fast = outcome(lambda: local._dumps(["ev", value]))
    with pure():
        slow = outcome(lambda: local._dumps(["ev", value]))
    # The standard packets write NaN and Infinity, which JavaScript's JSON.parse refuses;
    # orjson writes null, as the wire does (the documented difference).
    kind, text = read_back(slow)
    assert_same_outcome(fast, (kind, finite(text)) if kind == "decoded" else slow)


def test_local_packets_carry_non_finite_numbers_as_null_with_orjson() -> None:
    assert local._dumps([1.5, math.inf, -math.inf, math.nan]) == "[1.5,null,null,null]"
    with pure():
        assert local._dumps([math.inf]) == "[Infinity]"  # python-socketio's own packet


_json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.text(),
        st.integers(), st.integers(min_value=2**62, max_value=2**70),
        st.integers(min_value=-(2**70), max_value=-(2**62)),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner)),
    max_leaves=15,
)  # fmt: skip
_payloads = st.one_of(
    _json_values.map(lambda v: json.dumps(v).encode()),  # \u escapes, lone surrogates too
    _json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "replace")),
    st.sampled_from([b"1e400", b"-1e400", b"NaN", b"[Infinity]", b'"\\ud800"', b"\xff", b"",
                     b"\xef\xbb\xbf{}", b"{'a':1}", b"[1,]", b'{"type":"Buffer","data":[1]}']),
    st.binary(max_size=30),
)  # fmt: skip


@PROPERTY
@given(_payloads, st.booleans())
def test_loads_json_with_orjson_decodes_what_the_standard_decoder_decodes(
    payload: bytes, buffers: bool
) -> None:
    fast = outcome(lambda: notepack.loads_json(payload, buffers=buffers))
    with pure():
        slow = outcome(lambda: notepack.loads_json(payload, buffers=buffers))
    assert fast[0] == slow[0], (payload, fast, slow)
    assert same(fast[1], slow[1]) if fast[0] == "ok" else fast[1] is slow[1]


def test_integers_beyond_64_bits_stay_exact() -> None:
    # orjson would read them as floats (as JavaScript does); the wire keeps Python's ints.
    assert notepack.loads_json(b'{"n":18446744073709551616}') == {"n": 2**64}
    assert notepack.loads_json(b"[-9223372036854775809]") == [-(2**63) - 1]
    assert json.loads(notepack.dumps_json([2**70])) == [2**70]


def test_what_orjson_writes_that_the_standard_encoder_refuses_is_documented() -> None:
    # The one difference that is not spelling (see _fastjson's docstring): a UUID is written.
    value = uuid.UUID(int=1)
    assert json.loads(notepack.dumps_json([value])) == [str(value)]
    with pure(), pytest.raises(TypeError):
        notepack.dumps_json([value])


def test_the_environment_variable_turns_the_shortcut_off() -> None:
    code = "from sioadapter.wire import _fastjson; print(_fastjson.ENABLED)"
    env = {**os.environ, "SIOADAPTER_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
    env["SIOADAPTER_PURE_PYTHON"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
