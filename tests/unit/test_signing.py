"""sioadapter.wire.signing: the three embeddings, verification, rotation, stripping."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sioadapter.core.messages import (
    Broadcast,
    BroadcastAck,
    FetchSockets,
    FetchSocketsResponse,
    ServerSideEmit,
    SocketsJoin,
    Target,
)
from sioadapter.wire import notepack
from sioadapter.wire.classic import ClassicFamily
from sioadapter.wire.cluster import ClusterFamily
from sioadapter.wire.signing import (
    ForgedMessageError,
    SignatureError,
    Signer,
    UnsignedMessageError,
    split,
    strip,
)

K1 = b"k1-0123456789abcdef"
K2 = "k2-a text key, UTF-8: \u00e9\u00e8"
CHANNEL = "socket.io-request#/#"
VECTORS = json.loads((Path(__file__).parent.parent / "fixtures" / "node-captures.json").read_text())
NODE_MESSAGES = [v for v in VECTORS if v["kind"] != "encode-only"]

MAP = notepack.packb({"uid": "abc", "type": 5, "requestId": "r1", "opts": {"rooms": ["a"]}})
ARRAY = notepack.packb(["abc", {"type": 2, "data": ["ev", b"\x01"], "nsp": "/"}, {"rooms": []}])
JSON = notepack.dumps_json({"uid": "abc", "requestId": "r1", "type": 1})
FORMS = {"map": MAP, "array": ARRAY, "json": JSON}


def mac(key: bytes, channel: str, body: bytes) -> bytes:
    name = channel.encode()
    return hmac.digest(key, len(name).to_bytes(4, "big") + name + body, hashlib.sha256)


@pytest.mark.parametrize("form", FORMS)
def test_sign_then_verify_and_strip_give_the_exact_body(form: str) -> None:
    body = FORMS[form]
    signed = Signer([K1]).sign(CHANNEL, body)
    assert signed != body
    assert Signer([K1]).verify(CHANNEL, signed) == body
    assert strip(signed) == body


def test_map_form_is_a_first_sig_entry_and_node_style_decoders_still_read_it() -> None:
    signed = Signer([K1]).sign(CHANNEL, MAP)
    assert signed[0] == MAP[0] + 1  # fixmap count + 1
    assert signed[1:7] == b"\xa3sig\xc4\x20"
    assert signed[7:39] == mac(K1, CHANNEL, MAP)
    decoded = msgpack.unpackb(signed)
    assert decoded.pop("sig") == mac(K1, CHANNEL, MAP)
    assert decoded == msgpack.unpackb(MAP)


def test_array_form_is_a_fourth_element() -> None:
    signed = Signer([K1]).sign(CHANNEL, ARRAY)
    assert signed[:1] == b"\x94"
    decoded = msgpack.unpackb(signed)
    assert decoded[:3] == msgpack.unpackb(ARRAY)
    assert decoded[3] == mac(K1, CHANNEL, ARRAY)


def test_json_form_is_a_first_sig_member() -> None:
    signed = Signer([K1]).sign(CHANNEL, JSON)
    assert signed.startswith(b'{"sig":"')
    decoded = json.loads(signed)
    assert decoded.pop("sig") == mac(K1, CHANNEL, JSON).hex()
    assert decoded == json.loads(JSON)


@pytest.mark.parametrize("body", [b"{}", b"\x80"], ids=["empty-json", "empty-map"])
def test_empty_objects_can_be_signed(body: bytes) -> None:
    signed = Signer([K1]).sign(CHANNEL, body)
    assert Signer([K1]).verify(CHANNEL, signed) == body
    assert strip(signed) == body


@pytest.mark.parametrize(
    ("count", "header"), [(15, b"\xde\x00\x10"), (16, b"\xde\x00\x11"), (0xFFFF, b"\xdf")]
)
def test_map_headers_grow_when_the_count_needs_it(count: int, header: bytes) -> None:
    body = msgpack.packb({f"k{i}": i for i in range(count)})
    signed = Signer([K1]).sign(CHANNEL, body)
    assert signed.startswith(header)
    assert Signer([K1]).verify(CHANNEL, signed) == body
    assert len(msgpack.unpackb(signed)) == count + 1


def test_a_non_minimal_map_header_is_refused_rather_than_signed_unverifiably() -> None:
    with pytest.raises(ValueError, match="shortest"):
        Signer([K1]).sign(CHANNEL, b"\xde\x00\x01\xa1a\x01")


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x92\x01\x02", b"\xa3abc", b"\x01", b'{ "a":1}', b"[1]"],
    ids=["empty", "array-of-2", "string", "int", "json-whitespace", "json-array"],
)
def test_other_payloads_cannot_be_signed(payload: bytes) -> None:
    with pytest.raises(ValueError, match=r"JSON|msgpack"):
        Signer([K1]).sign(CHANNEL, payload)


@pytest.mark.parametrize("form", FORMS)
def test_rotation_old_signatures_verify_under_new_and_old_keys(form: str) -> None:
    signed_with_old = Signer([K1]).sign(CHANNEL, FORMS[form])
    assert Signer([K2, K1]).verify(CHANNEL, signed_with_old) == FORMS[form]
    signed_with_new = Signer([K2, K1]).sign(CHANNEL, FORMS[form])
    assert signed_with_new == Signer([K2]).sign(CHANNEL, FORMS[form])  # the first key signs
    with pytest.raises(ForgedMessageError):
        Signer([K1]).verify(CHANNEL, signed_with_new)


@pytest.mark.parametrize("form", FORMS)
def test_wrong_key_is_forged(form: str) -> None:
    signed = Signer([b"another key, 16+ bytes"]).sign(CHANNEL, FORMS[form])
    with pytest.raises(ForgedMessageError) as raised:
        Signer([K1]).verify(CHANNEL, signed)
    assert raised.value.kind == "forged"
    with pytest.raises(ForgedMessageError):  # a signed message is checked even when optional
        Signer([K1]).verify(CHANNEL, signed, require=False)


@pytest.mark.parametrize("form", FORMS)
def test_unsigned_is_told_apart_from_forged(form: str) -> None:
    with pytest.raises(UnsignedMessageError) as raised:
        Signer([K1]).verify(CHANNEL, FORMS[form])
    assert raised.value.kind == "unsigned"
    assert isinstance(raised.value, SignatureError)
    assert Signer([K1]).verify(CHANNEL, FORMS[form], require=False) == FORMS[form]


@pytest.mark.parametrize("form", FORMS)
def test_a_signature_is_bound_to_its_channel(form: str) -> None:
    signed = Signer([K1]).sign("socket.io#/#room1#", FORMS[form])
    for other in ["socket.io#/#room2#", "socket.io#/admin#room1#", "socket.io#/#", ""]:
        with pytest.raises(ForgedMessageError):
            Signer([K1]).verify(other, signed)


def test_the_channel_and_body_cannot_trade_bytes() -> None:
    """Moving bytes from the end of the channel name to the start of the body changes the
    MAC: the name's length is covered, not just a separator."""
    body = b"\x81\xa1a\x01"
    name = "x\x00"
    assert mac(K1, name, body) != mac(K1, "x", b"\x00" + body)
    signed = Signer([K1]).sign(name, body)
    assert Signer([K1]).verify(name, signed) == body


@pytest.mark.parametrize("form", FORMS)
def test_tampered_body_is_forged(form: str) -> None:
    signed = bytearray(Signer([K1]).sign(CHANNEL, FORMS[form]))
    # The last byte belongs to the body in the map and JSON forms, the MAC in the array form.
    signed[-1 if form != "array" else -40] ^= 0x01
    with pytest.raises(ForgedMessageError):
        Signer([K1]).verify(CHANNEL, bytes(signed))


@pytest.mark.parametrize("form", FORMS)
def test_truncated_signed_messages_are_never_accepted(form: str) -> None:
    signed = Signer([K1]).sign(CHANNEL, FORMS[form])
    for length in range(len(signed)):
        try:
            body = Signer([K1]).verify(CHANNEL, signed[:length])
        except SignatureError:
            continue
        raise AssertionError(f"a {length}-byte prefix verified, as {body!r}")


@pytest.mark.parametrize(
    "payload",
    [
        # A map whose last nested entry is "sig": <32 bytes>: the tail looks like a signature.
        msgpack.packb({"type": 9, "requestId": "r", "packet": {"sig": b"\x00" * 32}}),
        # Binary data that ends with the bytes of a signature entry.
        msgpack.packb({"type": 9, "packet": b"xx\xa3sig\xc4\x20" + b"\x07" * 32}),
        # A Node broadcast array of 3 whose opts end with a 32-byte bin.
        msgpack.packb(["uid", {"type": 2}, {"flags": {"x": b"\x01" * 32}}]),
        # A 4-element array whose last element is not a 32-byte bin.
        msgpack.packb(["uid", {"type": 2}, {}, b"\x01" * 31]),
        # JSON objects with a nested or non-hex "sig".
        b'{"type":1,"data":{"sig":"' + b"a" * 64 + b'"}}',
        b'{"type":1,"sig":"' + b"a" * 64 + b'"}',
        b'{"sig":"' + b"A" * 64 + b'","type":1}',
        b'{"sig":"' + b"a" * 63 + b'","type":1}',
        b'{"sig":"' + b" 1" * 32 + b'","type":1}',
        # A map with a "sig" entry that is not first.
        msgpack.packb({"type": 1, "sig": b"\x00" * 32}),
        # A map of count 0 followed by what looks like an entry.
        b"\x80\xa3sig\xc4\x20" + b"\x00" * 32,
    ],
    ids=[
        "nested-sig",
        "binary-tail",
        "array3-bin-tail",
        "array4-short-bin",
        "json-nested",
        "json-last",
        "json-upper-hex",
        "json-short-hex",
        "json-spaces",
        "map-sig-not-first",
        "map-count-0",
    ],
)
def test_payloads_that_only_look_signed_are_unsigned(payload: bytes) -> None:
    assert split(payload) is None
    assert strip(payload) == payload
    with pytest.raises(UnsignedMessageError):
        Signer([K1]).verify(CHANNEL, payload)


@pytest.mark.parametrize(
    "vector", NODE_MESSAGES, ids=[f"{v['family']}-{v['op_index']}" for v in NODE_MESSAGES]
)
def test_no_real_node_payload_looks_signed_and_each_signs_and_verifies(
    vector: dict[str, Any],
) -> None:
    payload = bytes.fromhex(vector["hex"])
    assert split(payload) is None
    signed = Signer([K1]).sign(vector["channel"], payload)
    assert Signer([K1]).verify(vector["channel"], signed) == payload
    assert strip(signed) == payload


def _messages() -> list[tuple[Any, Any]]:
    classic, cluster = ClassicFamily("socket.io", "node-a"), ClusterFamily("socket.io", "node-a")
    target = Target(["room1"], ["room2"], {"volatile": True})
    common = [
        Broadcast("/", "node-a", ["ev", 1, b"\x00\xff"], target),
        Broadcast("/", "node-a", ["ev", {"a": [1, 2]}], target, "req-1"),
        SocketsJoin("/", "node-a", target, ["r3"]),
        FetchSockets("/", "node-a", "req-2", target),
        FetchSocketsResponse("/", "node-b", "req-2", [{"id": "s", "data": b"\x01"}], "node-a"),
        ServerSideEmit("/", "node-a", ["hello", "x"], "req-3"),
        BroadcastAck("/", "node-b", "req-1", data=b"\x02", has_data=True, requester="node-a"),
    ]
    return [(family, m) for family in (classic, cluster) for m in common]


@pytest.mark.parametrize(("family", "message"), _messages())
def test_every_family_message_decodes_the_same_signed_or_stripped(
    family: Any, message: Any
) -> None:
    channel, payload = family.encode(message)
    signed = Signer([K1]).sign(channel, payload)
    info = family.parse_channel(channel)
    expected = family.decode(info, payload)
    assert family.decode(info, Signer([K1]).verify(channel, signed)) == expected
    assert family.decode(info, strip(signed)) == expected
    # Decoders that do not strip (old sioadapter) read the same message too: "sig" is an
    # unknown key or a 4th broadcast element, both ignored.
    assert family.decode(info, signed) == expected


@pytest.mark.parametrize("keys", [[], [b"Zq9-tiny"], [b"ok-0123456789abcdef", "Zq9-15-bytes-st"]])
def test_missing_or_short_keys_are_refused_without_showing_them(keys: list[Any]) -> None:
    with pytest.raises(ValueError, match="key") as raised:
        Signer(keys)
    for key in keys:
        text = key.decode() if isinstance(key, bytes) else key
        assert text not in str(raised.value)
        assert text not in repr(raised.value)


def test_a_single_key_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError):
        Signer(K1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int"):
        Signer([12345678901234567890])  # type: ignore[list-item]


def test_str_keys_are_their_utf8_bytes() -> None:
    assert Signer([K2]).sign(CHANNEL, MAP) == Signer([K2.encode()]).sign(CHANNEL, MAP)


def test_repr_never_shows_the_keys() -> None:
    signer = Signer([K1, K2])
    assert repr(signer) == "<Signer with 2 keys>"
    assert str(signer) == repr(signer)
    assert not hasattr(signer, "__dict__")  # no attribute dump (vars(), debuggers' views)


# -- property tests: random payloads of each form --------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=40),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20)),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
_maps = st.dictionaries(st.text(max_size=8), _values, max_size=20).map(msgpack.packb)
_arrays = st.tuples(_values, _values, _values).map(lambda t: msgpack.packb(list(t)))
_objects = st.dictionaries(st.text(max_size=8), _json_values, max_size=10).map(notepack.dumps_json)
_channels = st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(payload=st.one_of(_maps, _arrays, _objects), channel=_channels)
def test_property_verify_and_strip_undo_sign(payload: bytes, channel: str) -> None:
    signer = Signer([K2, K1])
    signed = signer.sign(channel, payload)
    assert signer.verify(channel, signed) == payload
    assert Signer([K2]).verify(channel, signed) == payload
    assert strip(signed) == payload
    assert split(signed) is not None


@settings(max_examples=300, deadline=None)
@given(payload=st.one_of(_maps, _arrays, _objects), channel=_channels)
def test_property_unsigned_payloads_of_peers_never_look_signed(
    payload: bytes, channel: str
) -> None:
    """Maps and objects whose first key is not "sig", and arrays of 3, are never taken for
    signed messages, whatever they hold."""
    if payload[:8] == b'{"sig":"' or payload[1:5] == b"\xa3sig" or payload[3:7] == b"\xa3sig":
        return  # a peer's own first key "sig": not what Node or sioadapter publish
    assert split(payload) is None
    assert strip(payload) == payload
