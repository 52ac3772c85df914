"""PostgreSQL URLs and the attachment helpers, without a server: what goes to libpq, what the
backend keeps, redaction, and the NOTIFY headers of attachments."""

from __future__ import annotations

import json

import msgpack
import pytest

from sioadapter.backends._pg_attach import header_prefix, parse_header
from sioadapter.backends._pg_listen import listen_sql
from sioadapter.backends._pg_url import check_options, check_table_name, parse_pg_url
from sioadapter.core import messages as m
from sioadapter.wire.postgres import PostgresFamily

SECRET = "pw-S3cret"


@pytest.mark.parametrize(
    ("url", "conninfo", "options"),
    [
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db", {}),
        ("postgres://u@h/db", "postgres://u@h/db", {}),
        ("POSTGRESQL://h/db", "postgresql://h/db", {}),
        ("postgresql://", "postgresql://", {}),
        ("postgresql:///db?host=/run/postgresql", "postgresql:///db?host=/run/postgresql", {}),
        ("postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write",
         "postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write", {}),
        ("postgresql://h/db?sslmode=require&table_name=att&payload_threshold=100"
         "&cleanup_interval=2.5&create_table=off&connect_timeout=3&attachment_timeout=0.5",
         "postgresql://h/db?sslmode=require",
         {"table_name": "att", "payload_threshold": 100, "cleanup_interval": 2.5,
          "create_table": False, "connect_timeout": 3.0, "attachment_timeout": 0.5}),
        (f"postgresql://u:{SECRET}@h/db#frag", f"postgresql://u:{SECRET}@h/db", {}),
    ],
)  # fmt: skip
def test_urls_split_into_libpqs_conninfo_and_the_backends_options(url, conninfo, options):
    spec = parse_pg_url(url)
    assert spec.conninfo == conninfo
    assert spec.options == options
    assert SECRET not in spec.redacted()
    assert SECRET not in repr(spec)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("redis://h", "starts with postgresql:// or postgres://"),
        ("postgresql//h", "starts with postgresql:// or postgres://"),
        (f"postgresql://u:{SECRET}@h/db?create_table=perhaps", "'create_table'"),
        (f"postgresql://u:{SECRET}@h/db?payload_threshold=lots", "'payload_threshold'"),
    ],
)
def test_malformed_urls_are_refused_without_the_password(url, match):
    with pytest.raises(ValueError, match=match) as raised:
        parse_pg_url(url)
    assert SECRET not in str(raised.value)


def test_parameters_libpq_does_not_know_are_refused_without_the_password():
    pytest.importorskip("psycopg")
    with pytest.raises(ValueError, match="libpq refuses the URL") as raised:
        parse_pg_url(f"postgresql://u:{SECRET}@h/db?tablename=x")
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize("name", ["socket_io_attachments", "app.att", "Att_2"])
def test_table_names_that_are_plain_sql_names(name):
    assert check_table_name(name) == name


@pytest.mark.parametrize("name", ["", "a b", "a;drop", '"q"', "a.b.c", "1abc", None])
def test_other_table_names_are_refused(name):
    with pytest.raises(ValueError, match="table_name"):
        check_table_name(name)


def test_option_ranges():
    check_options(8000, 0.1, 0.1, 0.1, 0.1)
    for args in [(8001, 1, 1, 1, 1), (0, 1, 1, 1, 1), (1, 0, 1, 1, 1), (1, 1, -1, 1, 1),
                 (1, 1, 1, True, 1), (1, 1, 1, 1, 0), (1, 1, 1, 1, "5")]:  # fmt: skip
        with pytest.raises(ValueError, match="must be"):
            check_options(*args)


def test_listen_quotes_the_channel_as_nodes_adapter_does():
    assert listen_sql("LISTEN", "socket.io#/") == 'LISTEN "socket.io#/"'
    assert listen_sql("UNLISTEN", 'we"ird#/') == 'UNLISTEN "we""ird#/"'


def test_the_header_of_an_attachment_is_nodes_json():
    family = PostgresFamily("k", "a21ec995e1aa76c0")
    _, payload = family.encode(m.Broadcast("/", family.uid, ["bin", b"\x01"], m.Target()))
    prefix, uid = header_prefix(payload)
    assert uid == "a21ec995e1aa76c0"
    header = prefix + "19" + '"}'
    # Byte for byte what @socket.io/postgres-adapter 0.5 sends (the captures).
    assert header == '{"uid":"a21ec995e1aa76c0","type":3,"attachmentId":"19"}'
    assert parse_header(header) == ("19", "a21ec995e1aa76c0")


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00" * 10, b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"type": "x", "uid": 5}),
     b"{not json"],
)  # fmt: skip
def test_bytes_that_are_no_message_get_a_header_with_nulls(payload):
    prefix, uid = header_prefix(payload)
    assert uid is None
    assert json.loads(prefix + '1"}') == {"uid": None, "type": None, "attachmentId": "1"}


def test_a_signed_json_message_past_the_threshold_gets_its_header():
    prefix, uid = header_prefix(b'{"sig":"00","type":9,"data":{},"uid":"u1","nsp":"/"}')
    assert (prefix, uid) == ('{"uid":"u1","type":9,"attachmentId":"', "u1")


@pytest.mark.parametrize(
    "payload",
    ['{"type":3,"data":{"attachmentId":1},"uid":"u","nsp":"/"}', '{"attachmentId"', "x" * 600,
     '["attachmentId"]'],
)  # fmt: skip
def test_notifications_that_are_no_header(payload):
    assert parse_header(payload) is None
