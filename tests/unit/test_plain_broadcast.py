"""The plain-shape broadcast readers agree with the generic ones (hypothesis).

`plain_event` (classic ``[uid, packet, opts]``) and `plain_broadcast` (cluster ``data``) skip
the generic readers' calls for the usual broadcast. Whatever shape arrives, they either build
exactly the Broadcast the generic readers build, or give up (None) and leave the decision, and
any DecodeError, to those readers: the shortcut never accepts what the generic path refuses.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sioadapter.core.messages import Broadcast
from sioadapter.errors import DecodeError
from sioadapter.wire import notepack
from sioadapter.wire._classic_decode import decode_broadcast, read_broadcast
from sioadapter.wire._fields import (
    as_event_data,
    as_map,
    opt_str,
    packet_type,
    plain_broadcast,
    plain_event,
    read_target,
)

# Values that are nearly right: the exact types, and the ones an exact check must tell apart
# (bool is an int, float is a number, a tuple is not a list).
ODD = st.sampled_from([None, True, False, 2.0, 5.0, "", "x", 0, 7, -1, [], {}, ["x"], {"a": 1}])
# Each shape is drawn as often as all odd values together, so most examples get deep enough.
ROOM = st.one_of(st.text(max_size=4), st.integers(-3, 3), ODD)
ROOMS = st.one_of(st.none(), st.lists(ROOM, max_size=3), ODD)
FLAGS = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(["volatile", "timeout", "x"]), ODD), ODD
)
_OPTS = st.fixed_dictionaries({}, optional={"rooms": ROOMS, "except": ROOMS, "flags": FLAGS})
OPTS = st.one_of(st.none(), _OPTS, _OPTS, ODD)
DATA = st.one_of(
    st.lists(st.one_of(st.text(max_size=3), st.integers(-(2**63), 2**63 - 1), ODD), max_size=3), ODD
)
_PACKET = st.fixed_dictionaries(
        {"data": DATA},
        optional={"type": st.one_of(st.sampled_from([2, 5, 3]), ODD), "nsp": st.one_of(
            st.sampled_from(["/", "/admin"]), ODD)},
)  # fmt: skip
PACKET = st.one_of(_PACKET, _PACKET, ODD)
UID = st.one_of(st.text(min_size=1, max_size=5), st.text(min_size=1, max_size=5), ODD)
TRICKY = {"data": ["ev"], "type": 2}  # a valid packet, for the examples below


def _generic(read: Any) -> Broadcast | DecodeError:
    try:
        result: Broadcast = read()
    except DecodeError as error:
        return error
    return result


@settings(max_examples=500, deadline=None, database=None)
@given(uid=UID, packet=PACKET, opts=OPTS, extra=st.booleans())
@example(uid="u", packet=TRICKY, opts={"rooms": [True]}, extra=False)
@example(uid="u", packet=TRICKY, opts={"except": [1.0]}, extra=False)
@example(uid="u", packet={"data": ["ev"], "type": True}, opts=None, extra=False)
@example(uid="u", packet={"data": ["ev"], "type": 3}, opts=None, extra=False)
@example(uid="u", packet=TRICKY, opts={"flags": []}, extra=False)
def test_a_classic_broadcast_reads_the_same_with_and_without_the_shortcut(
    uid: Any, packet: Any, opts: Any, extra: bool
) -> None:
    value = [uid, packet, opts, "more"] if extra else [uid, packet, opts]
    expected = _generic(lambda: read_broadcast(value))
    nsp = packet.get("nsp", "/") if isinstance(packet, dict) else None
    if type(uid) is str and type(nsp) is str and not extra:  # what decode_broadcast checks
        plain = plain_event(packet, opts, nsp, uid)
        if plain is not None:
            assert plain == expected
    # and through the decoder, from the bytes Node would send
    got = _generic(lambda: decode_broadcast(notepack.packb(value), False))
    if isinstance(expected, DecodeError):
        assert isinstance(got, DecodeError)
    else:
        assert got == expected


@settings(max_examples=500, deadline=None, database=None)
@given(packet=PACKET, opts=OPTS, request_id=st.one_of(st.none(), st.text(max_size=3), ODD))
@example(packet=TRICKY, opts={"rooms": [False]}, request_id=None)
@example(packet=TRICKY, opts=None, request_id=1)
def test_a_cluster_broadcast_shortcut_builds_what_the_generic_readers_build(
    packet: Any, opts: Any, request_id: Any
) -> None:
    fields: dict[str, Any] = {"packet": packet, "opts": opts}
    if request_id is not None:
        fields["requestId"] = request_id

    def generic() -> Broadcast:  # what ClusterFamily reads when the shortcut gives up
        packet_ = as_map(fields.get("packet"), "data.packet")
        type_code = packet_type(packet_)
        data = as_event_data(packet_.get("data"), "packet.data")
        target = read_target(fields.get("opts"))
        return Broadcast("/", "peer", data, target, opt_str(fields, "requestId"), type_code)

    expected = _generic(generic)
    plain = plain_broadcast(fields, "/", "peer")
    if plain is not None:
        assert plain == expected
