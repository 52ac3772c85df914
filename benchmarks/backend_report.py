"""The backend family's part of the results page (:mod:`benchmarks.backend_suite`'s results).

Contract: :func:`targets` is the target table: for each broker and K, sioadapter's broadcasts
per second over that broker's, end to end, against its raw client's in the same run, the
target (:data:`TARGET`, ``>=``) with PASS/FAIL, and sioadapter's figure over the Redis
backend's with the same (ClusterAdapter) protocol; Redis has a row for each protocol.
A contender that could not run shows ``n/a (why)`` and its row's result is ``n/a``; a node that
failed shows ``failed`` and the row FAILs. :func:`sections` is the page's section of absolute
figures, one table per K. Nothing here measures.
"""

from __future__ import annotations

import math
from typing import Any

from .backend_suite import CLUSTER, EACH, KS
from .brokers import BACKENDS, RAW_CLIENTS, TITLES
from .ratios import fmt, get, num, table

TARGET = 0.6  # sioadapter / the broker's raw client, throughput (issue 14)
LABELS = {
    "sioadapter": "sioadapter",
    CLUSTER: 'sioadapter, protocol="cluster"',
    EACH: "psycopg 3, pipelined pg_notify, a transaction per message / LISTEN",
}


def _case(data: dict[str, Any], name: str, k: int, contender: str) -> dict[str, Any]:
    case = get(data, "backends", name, f"k{k}", contender)
    return case if isinstance(case, dict) else {}


def _rate(case: dict[str, Any]) -> float:
    return num((case.get("receiver") or {}).get("broadcasts_per_s"))


def _cell(case: dict[str, Any]) -> str:
    """A contender's figure, or why there is none."""
    if "missing" in case:
        return f"n/a ({case['missing']})"
    if "error" in case:
        return "failed"
    return fmt(_rate(case))


def ran(data: dict[str, Any]) -> bool:
    """Whether this run has the backend family's results."""
    return bool(get(data, "backends"))


def passed(data: dict[str, Any], name: str, k: int, contender: str = "sioadapter") -> bool | None:
    """The target's verdict for one broker and K; ``None`` when a contender could not run."""
    ours, raw = _case(data, name, k, contender), _case(data, name, k, "raw")
    if "missing" in ours or "missing" in raw or not (ours or raw):
        return None
    ratio = _rate(ours) / _rate(raw) if _rate(raw) else math.nan
    return not math.isnan(ratio) and ratio >= TARGET


# (broker, sioadapter's contender, the raw contender it is compared with)
ROWS = [
    ("redis", "sioadapter", "raw"),
    ("redis", CLUSTER, "raw"),
    ("nats", "sioadapter", "raw"),
    ("postgres", "sioadapter", "raw"),
    ("postgres", "sioadapter", EACH),
    ("amqp", "sioadapter", "raw"),
]


def title(name: str, contender: str, baseline: str = "raw") -> str:
    extra = ', protocol="cluster"' if contender == CLUSTER else ""
    versus = " (raw: a transaction per message)" if baseline == EACH else ""
    return TITLES[name] + extra + versus


def targets(data: dict[str, Any]) -> str:
    """The backend target table (see the module docstring)."""
    rows = []
    for name, contender, baseline in ROWS:
        for k in KS:
            ours, raw = _case(data, name, k, contender), _case(data, name, k, baseline)
            if baseline == EACH and not raw:
                continue  # not measured in this run
            redis = _case(data, "redis", k, CLUSTER)
            ratio = _rate(ours) / _rate(raw) if _rate(raw) else math.nan
            to_redis = _rate(ours) / _rate(redis) if _rate(redis) else math.nan
            verdict = passed(data, name, k, contender)
            result = "n/a" if verdict is None else "**PASS**" if verdict else "**FAIL**"
            judged = baseline == "raw"
            rows.append(
                [
                    f"{title(name, contender, baseline)}, K={k}",
                    _cell(ours),
                    f"{_cell(raw)} ({LABELS.get(baseline) or RAW_CLIENTS[name][2]})",
                    f"**{fmt(ratio)}**" if judged else fmt(ratio),
                    f">= {TARGET:g}" if judged else "none",
                    result if judged else "",
                    fmt(to_redis),
                ]
            )
    head = [
        "backend",
        "sioadapter broadcasts/s",
        "raw client broadcasts/s",
        "ratio",
        "target",
        "result",
        'sioadapter: this backend / the Redis backend, protocol="cluster"',
    ]
    return table(head, rows)


def _delivered(case: dict[str, Any]) -> str:
    rx = case.get("receiver") or {}
    text = f"{fmt(rx.get('received'))} / {fmt(rx.get('expected'))}"
    return text + ("" if rx.get("complete") else " (incomplete)")


def sections(data: dict[str, Any]) -> list[str]:
    """The absolute figures of every broker and contender, one table per K."""
    parts: list[str] = []
    head = [
        "broker",
        "contender",
        "N",
        "broadcasts/s, end to end",
        "deliveries/s, end to end",
        "broadcasts/s over B's delivery span",
        "receiver CPU s / 10k broadcasts",
        "sender emit time s",
        "delivered / expected",
        "every run, broadcasts/s",
    ]
    for k in KS:
        rows = []
        for name in BACKENDS:
            broker = f"{TITLES[name]} ({get(data, 'backends', name, 'broker') or 'n/a'})"
            server = (_case(data, name, k, "raw").get("receiver") or {}).get("server")
            if server:
                broker += f", server {server}"
            for contender in ("sioadapter", CLUSTER, "raw", EACH):
                case = _case(data, name, k, contender)
                if not case and contender in (CLUSTER, EACH):
                    continue
                label = LABELS.get(contender) or RAW_CLIENTS[name][2]
                if "missing" in case or "error" in case or not case:
                    rows.append([broker, label, "", _cell(case) if case else "n/a", *[""] * 6])
                    continue
                rx, tx = case.get("receiver") or {}, case.get("sender") or {}
                rows.append(
                    [
                        broker,
                        label,
                        fmt(get(data, "backends", name, f"n_k{k}")),
                        fmt(rx.get("broadcasts_per_s")),
                        fmt(rx.get("deliveries_per_s")),
                        fmt(rx.get("span_broadcasts_per_s")),
                        fmt(rx.get("cpu_per_10k")),
                        fmt(tx.get("send_seconds")),
                        _delivered(case),
                        ", ".join(fmt(r) for r in case.get("runs", [])),
                    ]
                )
        title = f"## Backends: cross-node throughput, K={k}"
        parts += ["", title, "", table(head, rows)]
    return parts


METHOD = """\
- Backends: the same two-node throughput scenario (A broadcasts N times to room1 as fast as
  the API allows, B delivers to its K sockets) with `sioadapter.AsyncClusterManager(url)` over
  each broker, the backend chosen by the URL's scheme: the run's private Redis, a private
  `nats-server` on a loopback port, and the machine's PostgreSQL and RabbitMQ (fresh channel
  and exchange names each run). Each is compared with that broker's own Python client doing
  the same publish/subscribe work in its fastest plain form: redis-py pipelines of 1,000
  `PUBLISH`; nats-py `publish` (buffered by nats-py) and `subscribe(cb=...)`; psycopg 3
  `SELECT pg_notify(...)` by `executemany` in pipelines of 1,000 on an autocommit connection
  (the 1,000 share one transaction) and `LISTEN` with `notifies()`; aio-pika `publish` to a
  direct exchange on a channel without publisher confirms, and an exclusive queue consumed
  with `no_ack=True`. On PostgreSQL the raw client also runs with a transaction per message
  (a Sync after each statement), the cost of never letting PostgreSQL fold identical
  notifications of one transaction (the backend shares transactions and begins a new one only
  before a duplicate): an extra row, with no target. The raw subscriber does
  no Socket.IO work: it hands each message to K sockets through the stub the Socket.IO
  receivers' per-socket writes are replaced by (an awaited coroutine that reads the clock and
  counts), the least a server delivering to K sockets does. Each case runs {repeats} times, the
  contenders in turns, and its best run is kept; N is {n_k1:,} broadcasts at K=1 and
  {n_k100:,} at K=100 (a fifth of that on RabbitMQ, which moves far fewer messages per
  second). Target: sioadapter at least {target:g}x its broker's raw client, in broadcasts
  per second end to end. On Redis, sioadapter also runs with `protocol="cluster"`, the
  ClusterAdapter protocol (JSON) that every other backend uses instead of the classic one
  (msgpack): the last column compares each backend with that run, so it shows what the
  backend costs apart from the protocol. A backend whose entry point (or client library, or
  broker) is missing reads `n/a (why)`."""
