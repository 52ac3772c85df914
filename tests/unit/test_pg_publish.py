"""How the PostgreSQL backend groups a batch into transactions, without a server: consecutive
messages share one, a duplicate (channel, payload) starts the next, order holds."""

from __future__ import annotations

from typing import Any

from sioadapter.backends._pg_publish import MAX_STATEMENTS, NOTIFY, notify_text, plan

ATTACH = "INSERT ... pg_notify"


def attachment(channel: str, payload: bytes) -> tuple[str, tuple[Any, ...]]:
    return ATTACH, (payload, channel, "prefix")


def flat(transactions: list[Any]) -> list[list[tuple[str, Any]]]:
    """Each transaction as its statements, one per message, in order."""
    return [[(sql, params) for sql, rows in runs for params in rows] for runs in transactions]


def test_distinct_messages_share_one_transaction_and_one_run() -> None:
    messages = [("k#/", b'{"n":%d}' % i) for i in range(500)]
    transactions = plan(messages, 8000, attachment)
    assert transactions == [[(NOTIFY, [(c, p.decode()) for c, p in messages])]]


def test_a_duplicate_starts_a_new_transaction_and_order_holds() -> None:
    a, b, c = (("k#/", b'{"m":"%s"}' % x) for x in (b"a", b"b", b"c"))
    other_channel = ("k#/chat", a[1])  # the same payload on another channel does not fold
    messages = [a, b, other_channel, a, a, c, b]
    transactions = flat(plan(messages, 8000, attachment))
    assert [[params for _, params in t] for t in transactions] == [
        [("k#/", '{"m":"a"}'), ("k#/", '{"m":"b"}'), ("k#/chat", '{"m":"a"}')],
        [("k#/", '{"m":"a"}')],
        [("k#/", '{"m":"a"}'), ("k#/", '{"m":"c"}'), ("k#/", '{"m":"b"}')],
    ]
    for statements in transactions:  # no transaction holds a pair PostgreSQL would fold
        assert len(set(statements)) == len(statements)


def test_identical_messages_each_get_a_transaction() -> None:
    messages = [("k#/", b'{"same":1}')] * 50
    assert len(plan(messages, 8000, attachment)) == 50


def test_attachments_never_fold_and_split_runs_not_transactions() -> None:
    plain = ("k#/", b'{"x":1}')
    binary = ("k#/", b"\x81\xa1x\xc4\x01\x00")
    big = ("k#/", b'{"big":"' + b"n" * 100 + b'"}')
    transactions = plan([plain, binary, binary, big, ("k#/", b'{"y":2}')], 50, attachment)
    assert transactions == [
        [
            (NOTIFY, [("k#/", '{"x":1}')]),
            (ATTACH, [(binary[1], "k#/", "prefix"), (binary[1], "k#/", "prefix"),
                      (big[1], "k#/", "prefix")]),
            (NOTIFY, [("k#/", '{"y":2}')]),
        ]
    ]  # fmt: skip


def test_a_long_batch_is_cut_into_bounded_transactions() -> None:
    messages = [("k#/", b'{"n":%d}' % i) for i in range(2 * MAX_STATEMENTS + 1)]
    transactions = flat(plan(messages, 8000, attachment))
    assert [len(t) for t in transactions] == [MAX_STATEMENTS, MAX_STATEMENTS, 1]
    assert [p for t in transactions for _, p in t] == [(c, p.decode()) for c, p in messages]


def test_an_empty_batch_needs_no_transaction() -> None:
    assert plan([], 8000, attachment) == []


def test_what_goes_as_notify_text() -> None:
    assert notify_text(b'{"a":1}', 8000) == '{"a":1}'
    assert notify_text(b'{"a":1}', 7) is None  # the threshold itself goes to the table
    assert notify_text(b"\x80", 8000) is None  # msgpack
    assert notify_text(b'{"\xff"}', 8000) is None  # not UTF-8
