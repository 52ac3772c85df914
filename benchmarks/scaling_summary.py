"""The page's first words on how sioadapter's cost grows (issue 16 asks for them where a user
reads first): one sentence per dimension of the scaling families, computed from this run's
figures with :func:`benchmarks.scaling_report.trend`, never written in advance.

Contract: :func:`summary` returns Markdown lines (a heading, then one bullet a dimension that
ran), or nothing when neither family ran. The sections further down hold the tables.
"""

from __future__ import annotations

import math
from typing import Any

from .ratios import fmt, get, num
from .scaling_report import _cases, complete, rx_cpu, size_name, throughput, trend
from .scaling_rooms_report import (
    DEFAULT_MAX_MESSAGE,
    answer_bytes,
    call_ms,
    delivery_cpu,
    levels,
    room_cpu,
)


def _nodes(data: dict[str, Any]) -> str | None:
    cases = [(m, c) for m, c in _cases(data, "nodes", "sioadapter") if complete(c)]
    if len(cases) < 2:
        return None
    ms = [float(m) for m, _ in cases]
    return (
        f"**Nodes** ({fmt(cases[0][0])} to {fmt(cases[-1][0])}, one of them sending): each "
        f"receiving node's CPU per broadcast {trend(ms, [rx_cpu(c) for _, c in cases])}, so "
        "the cluster's total grows with its nodes; throughput to all of them "
        f"{trend(ms, [throughput(c) for _, c in cases])} (broadcasts/s; here every node "
        "shares this machine's cores)."
    )


def _payload(data: dict[str, Any]) -> str | None:
    cases = [(s, c) for s, c in _cases(data, "payload", "sioadapter") if complete(c)]
    big = [(s, c) for s, c in cases if s >= 100_000]
    if len(cases) < 2:
        return None
    mbs = [throughput(c) * s / 1e6 for s, c in cases]
    words = (
        f"**Payload size** ({size_name(cases[0][0])} to {size_name(cases[-1][0])}): "
        "broadcasts/s "
        f"{trend([float(s) for s, _ in cases], [throughput(c) for _, c in cases])}; "
    )
    if len(big) >= 2:
        sizes = [float(s) for s, _ in big]
        words += f"from 100 KB on, MB/s {trend(sizes, [throughput(c) * s / 1e6 for s, c in big])}"
        words += ": past there the bytes cost, not the messages."
    else:
        words += f"MB/s peaks at {fmt(max(mbs))}."
    refused = get(data, "scaling", "limit", "sender", "refused") or {}
    if refused.get("error"):
        words += (
            f" A broadcast over `max_message_size` raises {refused['error']} and publishes "
            f"nothing ({fmt(refused.get('published'))} messages)."
        )
    return words


def _rooms(data: dict[str, Any]) -> str | None:
    default = [(r, c) for r, c in levels(data, "rooms", "sioadapter") if not c.get("skipped")]
    private = [(r, c) for r, c in levels(data, "rooms", "sioadapter-rooms") if not c.get("skipped")]
    if len(default) < 2:
        return None
    rs = [float(r) for r, _ in default]
    top_r, top = default[-1]
    words = (
        f"**Rooms on a node** (1 to {fmt(top_r)}): memory grows with them "
        f"({fmt(num(top.get('rss_growth_mb')))} MB at {fmt(top_r)}), and the CPU a node spends "
        f"on broadcasts to rooms it has no member in {trend(rs, [room_cpu(c) for _, c in default])}"
        " (s per 10,000, pattern subscription: every node reads every broadcast)"
    )
    if private:
        p_r, p = private[-1]
        per_room = num(p.get("create_s")) / p_r * 1000 if p_r else math.nan
        words += (
            f'; with per-room subscriptions (`subscription_mode="dynamic-private"`) that cost '
            f"is {fmt(room_cpu(p))} s at {fmt(p_r)} rooms, and creating a room costs "
            f"{fmt(per_room)} ms (one SUBSCRIBE each)"
        )
    skipped = [r for r, c in levels(data, "rooms", "sioadapter-rooms") if c.get("skipped")]
    if skipped:
        words += f" ({fmt(skipped[0])} rooms in that mode were past this run's time budget)"
    return words + "."


def _clients(data: dict[str, Any]) -> str | None:
    cases = [(k, c) for k, c in levels(data, "clients", "sioadapter") if c.get("complete")]
    if len(cases) < 2:
        return None
    ks = [float(k) for k, _ in cases]
    return (
        f"**Sockets in a room** (K={fmt(cases[0][0])} to {fmt(cases[-1][0])} on the receiving "
        f"node): receiver CPU per delivery {trend(ks, [delivery_cpu(c) for _, c in cases])} µs,"
        " as a broadcast is decoded and encoded once whatever K is; the per-socket write is what"
        " grows linearly."
    )


def _fetch(data: dict[str, Any]) -> str | None:
    cases = [(t, c) for t, c in levels(data, "fetch", "sioadapter") if not c.get("skipped")]
    timed = [(t, c) for t, c in cases if call_ms(c, "fetch_sockets") > 0]
    if len(timed) < 2:
        return None
    ts = [float(t) for t, _ in timed]
    words = (
        f"**Sockets in the cluster** ({fmt(timed[0][0])} to {fmt(timed[-1][0])}): "
        f"`fetch_sockets()` {trend(ts, [call_ms(c, 'fetch_sockets') for _, c in timed])} ms, "
        f"`server_count()` {trend(ts, [call_ms(c, 'server_count') for _, c in timed])} ms"
    )
    sizes = [answer_bytes(t, c) for t, c in timed if answer_bytes(t, c) > 0]
    if sizes:
        words += (
            f". Limit: a node's answer is about {fmt(sizes[-1])} bytes a socket, so past about "
            f"{fmt(DEFAULT_MAX_MESSAGE / sizes[-1])} sockets on one node it is over the default "
            "`max_message_size` (1 MiB): it is not sent (logged) and the request times out; "
            "raise `max_message_size` for such clusters"
        )
    return words + "."


def summary(data: dict[str, Any]) -> list[str]:
    """The sentences (see the module docstring)."""
    sentences = [s for s in (_nodes(data), _payload(data), _rooms(data), _clients(data),
                             _fetch(data)) if s]  # fmt: skip
    if not sentences:
        return []
    return ["", "### How the cost grows", "", *(f"- {s}" for s in sentences)]
