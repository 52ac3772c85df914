"""How the PostgreSQL backend groups a batch of messages into transactions and statements.

A notification is delivered at its transaction's commit, and PostgreSQL folds identical
notifications (same channel, same payload) of one transaction into one. So consecutive messages
share a transaction, which saves a commit per message, and a message whose ``(channel,
payload)`` already went into the current transaction starts a new one: two identical emits
reach the cluster twice, as they do from Node (each its own query), and the order holds (the
transactions commit in order on one connection). A transaction also ends after
`MAX_STATEMENTS` statements, so that the first messages of a long batch are not held back until
the last is sent. Within a transaction, consecutive statements of the same SQL form one run,
sent with one ``executemany`` (pipelined: no round trip per message).

Attachments (`sioadapter.backends._pg_attach`) never fold: each header names a row of its own.
Pure: no psycopg, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MAX_STATEMENTS", "NOTIFY", "Run", "Transaction", "notify_text", "plan"]

NOTIFY = "SELECT pg_notify(%s, %s)"
MAX_STATEMENTS = 1000
"""The most statements in one transaction."""

Run = tuple[str, list[tuple[Any, ...]]]
"""One SQL statement and the parameters of each of its executions, in order."""
Transaction = list[Run]
"""The runs of one transaction, in order."""


def notify_text(payload: bytes, threshold: int) -> str | None:
    """``payload`` as NOTIFY text when it can go as it is, else None (the table): JSON (its
    first byte ``{``), valid UTF-8, under ``threshold`` bytes."""
    if len(payload) >= threshold or payload[:1] != b"{":
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def plan(
    messages: Sequence[tuple[str, bytes]],
    threshold: int,
    attachment: Callable[[str, bytes], tuple[str, tuple[Any, ...]]],
) -> list[Transaction]:
    """The transactions that send ``messages`` in order.

    Args:
        messages: ``(channel, payload)`` pairs.
        threshold: payloads of this many bytes or more go through the table.
        attachment: ``attachment(channel, payload)``: the statement and parameters that store
            ``payload`` in the table and NOTIFY its header.
    """
    transactions: list[Transaction] = []
    runs: Transaction = []
    seen: set[tuple[str, str]] = set()
    count = 0
    last_sql = ""
    for channel, payload in messages:
        text = notify_text(payload, threshold)
        if text is None:
            sql, params = attachment(channel, payload)
            key = None
        else:
            sql, params = NOTIFY, (channel, text)
            key = (channel, text)
        if count >= MAX_STATEMENTS or (key is not None and key in seen):
            transactions.append(runs)
            runs, count, last_sql = [], 0, ""
            seen.clear()
        if key is not None:
            seen.add(key)
        if sql == last_sql:
            runs[-1][1].append(params)
        else:
            runs.append((sql, [params]))
            last_sql = sql
        count += 1
    if runs:
        transactions.append(runs)
    return transactions
