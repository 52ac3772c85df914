"""A PostgreSQL node tells its own messages from their bytes (every node hears every message of
its namespace on the one channel) and drops them undecoded: only when the JSON's top-level
``uid`` is surely its own, on Node's layout as on ours."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sioadapter.core import messages as m
from sioadapter.core.node import ClusterNode
from sioadapter.wire.postgres import PostgresFamily
from sioadapter.wire.signing import Signer

FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "postgres-node-captures.json").read_text()
)
NOTIFY = [c for c in FIXTURE["captures"] if c["kind"] == "notify"]
UID = "f890ac2d6bb76811"
PROPERTY = settings(
    max_examples=400, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip


def top_level(payload: bytes) -> tuple[Any, Any] | None:
    """(uid, nsp) of a JSON object payload, None if it is not one."""
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return (value.get("uid"), value.get("nsp")) if isinstance(value, dict) else None


@pytest.mark.parametrize("capture", NOTIFY, ids=lambda c: c["name"])
def test_nodes_captured_messages_are_own_exactly_for_their_senders_uid(capture):
    payload = capture["payload"].encode()
    key, _, nsp = capture["channel"].partition("#")
    uid, sent_nsp = top_level(payload) or (None, None)
    sender = PostgresFamily(key, uid if isinstance(uid, str) else "x")
    info = sender.parse_channel(capture["channel"])
    # Node's emitter sends no nsp: decoded as before (and its uid is never a node's).
    assert sender.is_own(info, payload) is (sent_nsp == nsp)
    assert not PostgresFamily(key, "0123456789abcdef").is_own(info, payload)


MESSAGES = [
    m.Broadcast("/", UID, ["hello", {"uid": UID, "nsp": "/"}], m.Target(["r"], ["x"])),
    m.Broadcast("/", UID, ["ack"], m.Target(), request_id="r1"),
    m.Heartbeat("/", UID, initial=True),
    m.AdapterClose("/", UID),
    m.FetchSockets("/", UID, "r2", m.Target()),
    m.ServerSideEmit("/", UID, ["note", 5]),
    m.BroadcastClientCount("/", UID, "r3", 2, "other"),
]


@pytest.mark.parametrize("nsp", ["/", "/chat", '/we"ird\\ns\u00e9'])
@pytest.mark.parametrize("message", MESSAGES, ids=lambda x: type(x).__name__)
def test_every_json_message_a_node_sends_is_its_own(message, nsp):
    message = dataclasses.replace(message, nsp=nsp)
    family = PostgresFamily("k", UID)
    channel, payload = family.encode(message)
    assert payload.startswith(b"{")
    info = family.parse_channel(channel)
    assert family.is_own(info, payload)
    assert not PostgresFamily("k", "0" * 16).is_own(info, payload)
    family.take_uid("1" * 16)  # a forked child's new identity
    assert not family.is_own(info, payload)


def test_msgpack_rows_are_decoded_as_before():
    family = PostgresFamily("k", UID)
    channel, payload = family.encode(m.Broadcast("/", UID, ["bin", b"\x00"], m.Target()))
    assert not family.is_own(family.parse_channel(channel), payload)


# Strings made of what could confuse a tail check: quotes, backslashes, commas, braces.
TRICKY = st.text(alphabet='"\\,:{}[] uidnsp/' + UID[:4], max_size=12) | st.sampled_from(
    [UID, "/", f',"uid":"{UID}","nsp":"/"}}', '\\"', "\\\\", f'"uid":"{UID}"']
)
OURS_NESTED = st.just({"a": 1, "uid": UID, "nsp": "/"})  # our tail, one level down
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY | OURS_NESTED,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["uid", "nsp", "data", "x"]) | TRICKY, inner, max_size=3)
    ),
    max_leaves=8,
)


@PROPERTY
@given(
    members=st.lists(
        st.tuples(st.sampled_from(["type", "data", "uid", "nsp"]) | TRICKY, VALUES), max_size=5
    ),
    tail=st.lists(st.tuples(st.sampled_from(["uid", "nsp"]), VALUES), max_size=2),
)
def test_own_means_the_top_level_uid_and_nsp_are_ours(members, tail):
    """Whatever valid JSON object a peer sends (duplicate keys included), a True answer means
    its top-level uid and nsp, as decoded, are this node's and the channel's."""
    family = PostgresFamily("k", UID)
    info = family.parse_channel("k#/")
    body = ",".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"))
                    for k, v in members + tail)  # fmt: skip
    payload = ("{" + body + "}").encode()
    if family.is_own(info, payload):
        assert top_level(payload) == (UID, "/")
    if tail == [("uid", UID), ("nsp", "/")] and members:
        assert family.is_own(info, payload)


def test_a_node_counts_its_own_message_as_ignored_without_decoding_it():
    def node(uid: str, signer: Signer | None = None) -> ClusterNode:
        result = ClusterNode(PostgresFamily("k", uid), {"/": {"r": {"sid": None}}}, signer=signer)
        result.serve("/", 0.0)
        return result

    keys = ["k" * 32]
    for signer in (None, Signer(keys)):
        sender = node(UID, signer)
        publish = sender.broadcast("/", ["ev", 1], [], [], {}, 0.0)
        assert publish is not None
        decoded: list[bytes] = []
        real = sender.receiver._decode

        def spy(info: Any, payload: bytes, real: Any = real, decoded: Any = decoded) -> Any:
            decoded.append(payload)
            return real(info, payload)

        sender.receiver._decode = spy
        assert sender.receive(publish.channel, publish.payload, 0.0) == []
        assert sender.stats.ignored_own == 1
        assert decoded == []
        other = node("0" * 16, Signer(keys) if signer else None)
        assert other.receive(publish.channel, publish.payload, 0.0)  # delivered
