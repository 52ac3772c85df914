"""What a node does with input it must refuse: unknown channels, foreign namespaces, malformed,
oversized, unsigned and forged payloads. Each is counted, the ones an operator must hear of
come out as Dropped, and the node keeps working."""

from __future__ import annotations

import pytest

from sioadapter.core.messages import Broadcast, Target
from sioadapter.errors import MessageTooLargeError
from sioadapter.wire import notepack

from .harness import KEY, Cluster

KEY_1 = b"k" * 32
KEY_2 = b"z" * 32


def test_a_message_on_a_channel_that_is_not_ours_is_counted_and_ignored(cluster: Cluster):
    b = cluster.peers[1]
    b.connect()
    b.apply(b.node.receive("some-other-app#/#", b"\x93\xa1x\x80\x80", cluster.now))
    b.apply(b.node.receive(f"{KEY}#", b"{}", cluster.now))
    assert b.stats.dropped_unknown_channel == 2
    assert b.dropped == [] and b.received == {}


def test_a_namespace_this_node_does_not_serve_is_dropped(cluster: Cluster):
    a, b, _c = cluster.peers
    a.serve("/admin")
    b.connect()
    published = a.emit("secret", nsp="/admin")
    assert published is not None
    b.apply(b.node.receive(published.channel, published.payload, cluster.now))
    assert b.stats.dropped_foreign_namespace == 1 and b.received == {}


def test_a_payload_naming_another_namespace_than_its_channel_is_dropped():
    cluster = Cluster("cluster")
    _a, b, _c = cluster.peers
    sid = b.connect()
    payload = (
        b'{"type":3,"data":{"packet":{"type":2,"data":["x"]},"opts":{}},"uid":"u","nsp":"/other"}'
    )
    cluster.link.inject(f"{KEY}#/#", payload)
    cluster.run()
    assert b.stats.dropped_foreign_namespace == 1 and b.events(sid) == []


MALFORMED = {
    "classic": [
        (f"{KEY}#/#", b"\xc1"),  # never valid msgpack
        (f"{KEY}#/#", b"\x93\xa1u\x80"),  # truncated
        (f"{KEY}#/#", notepack.packb(["u", {"type": 2, "data": "not-a-list"}, {}])),
        (f"{KEY}#/#", notepack.packb(["u", {"type": 3, "data": ["x"]}, {}])),  # not an event
        (f"{KEY}-request#/#", b'{"type":5,"requestId":'),  # truncated JSON
        (f"{KEY}-request#/#", b'{"type":99,"requestId":"r"}'),  # unknown type
        (f"{KEY}-request#/#", b"[1,2,3]"),
        (f"{KEY}-response#/#", b'{"type":8,"requestId":"r","clientCount":-1}'),
    ],
    "cluster": [
        (f"{KEY}#/#", b"{not json"),
        (f"{KEY}#/#", b'{"type":"3","uid":"u","nsp":"/"}'),
        (f"{KEY}#/#", b'{"type":3,"data":{"packet":{"data":[1]}},"uid":"u","nsp":"/"}'),
        (f"{KEY}#/#", b'{"type":42,"data":{"requestId":"r"},"uid":"u","nsp":"/"}'),
        (f"{KEY}#/#", b'{"type":4,"data":{"rooms":[{"a":1}]},"uid":"u","nsp":"/"}'),
        (f"{KEY}#/#", b"\xde\xff\xff"),  # a map16 header and nothing after it
    ],
}


@pytest.mark.parametrize(
    ("family", "channel", "payload"),
    [(family, ch, p) for family, cases in MALFORMED.items() for ch, p in cases],
)
def test_malformed_payloads_are_dropped_and_the_node_goes_on(family, channel, payload):
    cluster = Cluster(family)
    a, b, _c = cluster.peers
    sid = b.connect()
    cluster.link.inject(channel, payload)
    a.emit("after")
    cluster.run()
    assert b.stats.dropped_malformed == 1
    assert [d.kind for d in b.dropped] == ["malformed"]
    assert b.dropped[0].channel == channel and b.dropped[0].payload == payload
    assert b.dropped[0].detail  # names the role and the error, for logging once per kind
    assert b.events(sid) == [("after",)]


def test_oversized_messages_are_dropped_undecoded(cluster: Cluster):
    a, b, _c = cluster.peers
    strict = cluster.add(max_message_size=200)
    cluster.advance(1.0)
    sid, other = strict.connect(), b.connect()
    a.emit("big", "x" * 500)
    a.emit("small", "y")
    cluster.run()
    assert strict.events(sid) == [("small", "y")]
    assert b.events(other) == [("big", "x" * 500), ("small", "y")]
    assert strict.stats.dropped_oversized == 1
    assert [(d.kind, d.payload) for d in strict.dropped] == [("oversized", None)]
    assert strict.stats.dropped_malformed == 0


def test_an_emit_over_the_limit_raises_and_publishes_nothing(cluster: Cluster):
    limited = cluster.add(max_message_size=200)
    before = len(cluster.link.published)
    with pytest.raises(MessageTooLargeError):
        limited.emit("big", "x" * 500)
    assert len(cluster.link.published) == before


def test_a_signed_cluster_works_as_an_unsigned_one(cluster: Cluster):
    signed = Cluster(cluster.family, signing_keys=[KEY_1])
    a, b, c = signed.peers
    b1, c1 = b.connect("r"), c.connect()
    a.emit("hello", to="r")
    call = a.fetch_sockets()
    signed.run()
    assert b.events(b1) == [("hello",)] and c.events(c1) == []
    assert call.outcome == "completed" and len(call.value) == 2
    assert all(p.dropped == [] for p in signed.peers)


def test_a_message_signed_with_an_unknown_key_is_forged(cluster: Cluster):
    signed = Cluster(cluster.family, signing_keys=[KEY_1])
    _a, b, _c = signed.peers
    sid = b.connect()
    intruder = signed.add(signing_keys=[KEY_2])
    intruder.emit("evil")
    signed.run()
    assert b.events(sid) == []
    assert b.stats.dropped_forged >= 1 and {d.kind for d in b.dropped} == {"forged"}


def test_unsigned_messages_are_refused_unless_signatures_are_optional(cluster: Cluster):
    signed = Cluster(cluster.family, signing_keys=[KEY_1])
    strict = signed.peers[1]
    lenient = signed.add(signing_keys=[KEY_1], require_signatures=False)
    strict_sid, lenient_sid = strict.connect(), lenient.connect()
    keyless = signed.add(signing_keys=None)
    signed.run()
    keyless.emit("plain")
    signed.run()
    assert strict.events(strict_sid) == []
    assert strict.stats.dropped_unsigned >= 1 and "unsigned" in {d.kind for d in strict.dropped}
    assert lenient.events(lenient_sid) == [("plain",)]


def test_a_node_without_keys_reads_signed_messages(cluster: Cluster):
    signed = Cluster(cluster.family, signing_keys=[KEY_1])
    reader = signed.add(signing_keys=None)
    sid = reader.connect()
    signed.peers[0].emit("signed")
    signed.run()
    assert reader.events(sid) == [("signed",)]


def test_a_tampered_or_moved_signed_message_is_forged():
    cluster = Cluster("classic", signing_keys=[KEY_1])
    a, b, _c = cluster.peers
    sid = b.connect("r")
    published = a.node.broadcast("/", ["pay", 10], [], [], {}, cluster.now)
    assert published is not None
    tampered = published.payload.replace(b"\x0a", b"\x63")  # 10 -> 99
    assert tampered != published.payload
    cluster.link.inject(published.channel, tampered)
    cluster.link.inject(f"{KEY}#/#r#", published.payload)  # a namespace broadcast moved to r
    cluster.run()
    assert b.events(sid) == []
    assert b.stats.dropped_forged == 2


def test_an_acked_broadcast_answer_with_a_bad_count_does_not_complete_the_request():
    cluster = Cluster("cluster", heartbeat=None)
    a, _b, _c = cluster.peers
    call = a.emit_with_ack("ask")
    bogus = f'{{"type":11,"data":{{"requestId":"{call.request_id}","clientCount":"many"}},'
    cluster.link.inject(f"{KEY}#/#{a.uid}#", (bogus + '"uid":"x","nsp":"/"}').encode())
    cluster.run()
    assert a.stats.dropped_malformed == 1
    assert call.outcome == "completed" and call.results == []  # B and C answered 0 each
    assert call.request is not None and call.request.received == 3  # A's own 0, B's, C's


def test_a_broadcast_with_odd_opts_is_read_with_missing_fields_empty():
    cluster = Cluster("classic")
    b = cluster.peers[1]
    sid = b.connect()
    # socket.io-redis 6.x sent no except and no flags
    cluster.link.inject(
        f"{KEY}#/#", notepack.packb(["old", {"type": 2, "data": ["hi"]}, {"rooms": []}])
    )
    cluster.run()
    assert b.events(sid) == [("hi",)]
    message = Broadcast("/", "x", ["ev"], Target())
    assert message.target.except_rooms == []
