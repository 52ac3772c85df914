"""The page's part of the scaling family (:mod:`benchmarks.scaling_cluster`): its figures,
tables, trend sentences and chart.

Contract: every figure comes from a case of ``results["scaling"]`` and counts only when every
receiver got exactly the N broadcasts sent (:func:`complete`), otherwise it is NaN and reads
``n/a`` / ``incomplete``. The sentences under each table are computed from the figures
(:func:`trend`), never written by hand. :func:`sections` returns the Markdown lines (none when
the family did not run); :func:`draw` one PNG (matplotlib, Agg backend).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .ratios import fmt, get, num, table

KEY = "scaling"  # the results' key (scenarios.SCENARIOS)
CONTENDERS = {
    "sioadapter": "sioadapter",
    "socketio": "python-socketio AsyncRedisManager",
    "node": "Node @socket.io/redis-adapter",
}
COLORS = {"sioadapter": "#2a7ab9", "socketio": "#d9822b", "node": "#5aa469"}


def size_name(size: int) -> str:
    for scale, unit in ((1_000_000, "MB"), (1_000, "KB")):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} B"


def complete(case: dict[str, Any]) -> bool:
    """Whether every receiver got exactly the N broadcasts sent (no more: an extra one would
    be a broadcast that should not have been delivered)."""
    receivers = case.get("receivers") or []
    return bool(receivers) and all(
        r.get("complete") and r.get("received") == r.get("expected") == case.get("n")
        for r in receivers
    )


def throughput(case: dict[str, Any]) -> float:
    """Broadcasts/s delivered to all receivers: N over the slowest receiver's end to end."""
    if not complete(case):
        return math.nan
    return min(num(r.get("broadcasts_per_s")) for r in case["receivers"])


def rx_cpu(case: dict[str, Any]) -> float:
    """Receiver CPU s per 10,000 broadcasts, the mean over the receivers."""
    values = [num(r.get("cpu_per_10k")) for r in case.get("receivers") or []]
    return sum(values) / len(values) if values and complete(case) else math.nan


def tx_cpu(case: dict[str, Any]) -> float:
    sender = case.get("sender") or {}
    return num(sender.get("cpu_per_10k")) if complete(case) else math.nan


def factor(value: float) -> str:
    return f"x{value:,.0f}" if value >= 10 else f"x{value:.2g}"


def trend(xs: list[float], ys: list[float], unit: str = "") -> str:
    """How ``ys`` grows with ``xs`` from the first to the last finite point: ``stays flat``
    (within 25%), else by the log-log slope: ``falls`` (below 0), ``grows less than
    linearly``, ``grows about linearly`` (0.8-1.2), ``grows faster than linearly``."""
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y == y and y > 0]
    if len(points) < 2 or points[0][0] == points[-1][0]:
        return "n/a"
    (x0, y0), (x1, y1) = points[0], points[-1]
    slope = math.log(y1 / y0) / math.log(x1 / x0)
    word = (
        "stays flat"
        if 0.75 <= y1 / y0 <= 1 / 0.75
        else "falls"
        if slope < 0
        else "grows about linearly"
        if 0.8 <= slope <= 1.2
        else "grows less than linearly"
        if slope < 0.8
        else "grows faster than linearly"
    )
    return f"{word} ({fmt(y0)} to {fmt(y1)}: {factor(y1 / y0)} for {factor(x1 / x0)}{unit})"


def _cases(data: dict[str, Any], part: str, contender: str) -> list[tuple[int, dict[str, Any]]]:
    cases = get(data, KEY, part, contender) or {}
    return sorted((int(x), c) for x, c in cases.items())


def _nodes_section(data: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for contender, name in CONTENDERS.items():
        cases = _cases(data, "nodes", contender)
        for m, case in cases:
            if "error" in case or not complete(case):
                why = "failed" if "error" in case else "incomplete"
                rows.append([name, str(m), str(m - 1), why, "", "", ""])
                continue
            total = rx_cpu(case) * (m - 1) + tx_cpu(case)
            rows.append(
                [
                    name,
                    str(m),
                    str(m - 1),
                    fmt(throughput(case)),
                    fmt(rx_cpu(case)),
                    fmt(tx_cpu(case)),
                    fmt(total),
                ]
            )
        xs = [float(m - 1) for m, _ in cases]
        totals = [rx_cpu(c) * (m - 1) + tx_cpu(c) for m, c in cases]
        if len(cases) >= 2:
            notes.append(
                f"- {name}, {cases[0][0]} to {cases[-1][0]} nodes: CPU per receiver "
                f"{trend(xs, [rx_cpu(c) for _, c in cases], ' receivers')}, the sender's "
                f"{trend(xs, [tx_cpu(c) for _, c in cases])}, the whole cluster's "
                f"{trend(xs, totals)}; throughput {trend(xs, [throughput(c) for _, c in cases])}."
            )
    nproc = get(data, KEY, "nproc")
    head = [
        "contender",
        "nodes",
        "receivers",
        "broadcasts/s to all receivers",
        "receiver CPU s / 10k (mean)",
        "sender CPU s / 10k",
        "all nodes CPU s / 10k",
    ]
    return [
        "### Nodes in the cluster",
        "",
        "One sender and the rest receivers, each holding 1 socket in room1 (K=1), all on this "
        f"machine ({fmt(nproc)} CPUs: past that many nodes, they share cores, and throughput "
        "measures the machine as much as the adapter). Trends (x: the number of receivers):",
        "",
        *notes,
        "",
        table(head, rows),
        "",
    ]


def _payload_section(data: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for contender, name in CONTENDERS.items():
        cases = _cases(data, "payload", contender)
        for size, case in cases:
            if "error" in case or not complete(case):
                why = "failed" if "error" in case else "incomplete"
                rows.append([name, size_name(size), fmt(case.get("n")), why, "", ""])
                continue
            rate = throughput(case)
            rows.append(
                [
                    name,
                    size_name(size),
                    fmt(case["n"]),
                    fmt(rate),
                    fmt(rate * size / 1e6),
                    fmt(rx_cpu(case)),
                ]
            )
        rates = [(s, throughput(c)) for s, c in cases if throughput(c) == throughput(c)]
        if len(rates) >= 2:
            # The per-message cost dominates while broadcasts/s holds within 25% of the
            # smallest size's; the bytes' cost dominates where MB/s stays flat instead.
            flat = [s for s, r in rates if r >= 0.75 * rates[0][1]]
            holds = (
                f"holds within 25% of its {size_name(rates[0][0])} rate up to "
                f"{size_name(max(flat))}"
                if len(flat) > 1
                else f"already falls by more than 25% at {size_name(rates[1][0])}"
            )
            (s0, r0), (s1, r1) = rates[-2], rates[-1]
            top = max(rates, key=lambda p: p[0] * p[1])
            notes.append(
                f"- {name}: broadcasts/s {holds}; from {size_name(s0)} to {size_name(s1)} "
                f"it {trend([s0, s1], [r0, r1])} and MB/s "
                f"{trend([s0, s1], [r0 * s0 / 1e6, r1 * s1 / 1e6])}; MB/s peaks at "
                f"{fmt(top[0] * top[1] / 1e6)} ({size_name(top[0])})."
            )
    head = [
        "contender",
        "payload",
        "broadcasts",
        "broadcasts/s",
        "MB/s delivered",
        "receiver CPU s / 10k",
    ]
    return [
        "### Payload size",
        "",
        "Two nodes, one receiver with 1 socket; each broadcast carries a string of the given "
        "size (MB/s counts that string only). Where MB/s stays flat as the size grows, the "
        "bytes' cost (copying, encoding, Redis) dominates; where broadcasts/s does, the "
        "per-message cost does.",
        "",
        *notes,
        "",
        table(head, rows),
        "",
    ]


def _limit_section(data: dict[str, Any]) -> list[str]:
    case = get(data, KEY, "limit") or {}
    if "error" in case or not case.get("receivers"):
        return ["### max_message_size", "", f"The case failed: {case.get('error', 'n/a')}", ""]
    refused = case["sender"].get("refused") or {}
    rx = case["receivers"][0]
    extra = num(rx.get("received")) - num(case.get("n"))
    ok = (
        refused.get("error") == "MessageTooLargeError"
        and refused.get("published") == 0
        and extra == 0
    )
    row = [
        fmt(refused.get("limit")),
        fmt(refused.get("payload")),
        str(refused.get("error")),
        fmt(refused.get("published")),
        fmt(extra),
        f"{fmt(rx.get('received'))} of {fmt(case.get('n'))}",
    ]
    head = [
        "max_message_size (B)",
        "refused payload (B)",
        "error raised",
        "messages published by it",
        "deliveries of it",
        "ordinary broadcasts delivered",
    ]
    verdict = (
        "was refused before anything was published, and nothing of it was delivered"
        if ok
        else "was NOT refused as documented (see the row)"
    )
    return [
        "### max_message_size",
        "",
        "A sioadapter sender with a small `max_message_size` tries one broadcast above it, then "
        "sends ordinary ones to a receiver with no limit (which would deliver an oversized "
        f"message had it been published). The oversized broadcast {verdict}: "
        f"`{refused.get('message', '')}`",
        "",
        table(head, [row]),
        "",
    ]


def sections(data: dict[str, Any]) -> list[str]:
    """The scaling section of the results page (empty when the family did not run)."""
    if not get(data, KEY):
        return []
    parts = ["", "## Scaling: nodes in the cluster and payload size", ""]
    return parts + _nodes_section(data) + _payload_section(data) + _limit_section(data)


def draw(data: dict[str, Any], path: Path) -> None:
    """One PNG: throughput and CPU against the number of nodes (top), broadcasts/s and MB/s
    against the payload size (bottom), a line per contender, log axes where the range is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for contender, name in CONTENDERS.items():
        color = COLORS[contender]
        nodes = _cases(data, "nodes", contender)
        xs = [m for m, _ in nodes]
        axes[0][0].plot(xs, [throughput(c) for _, c in nodes], "o-", color=color, label=name)
        axes[0][1].plot(
            xs, [rx_cpu(c) for _, c in nodes], "o-", color=color, label=f"{name}, per receiver"
        )
        axes[0][1].plot(
            xs, [tx_cpu(c) for _, c in nodes], "s--", color=color, label=f"{name}, sender"
        )
        payload = _cases(data, "payload", contender)
        ss = [s for s, _ in payload]
        rates = [throughput(c) for _, c in payload]
        axes[1][0].plot(ss, rates, "o-", color=color, label=name)
        axes[1][1].plot(
            ss, [r * s / 1e6 for s, r in zip(ss, rates, strict=True)], "o-", color=color, label=name
        )
    titles = [
        ("Broadcasts/s delivered to all receivers", "nodes (1 sender)", "broadcasts/s"),
        ("CPU s per 10,000 broadcasts", "nodes (1 sender)", "CPU s"),
        ("Broadcasts/s, 2 nodes, by payload size", "payload (bytes)", "broadcasts/s"),
        ("MB/s delivered, 2 nodes, by payload size", "payload (bytes)", "MB/s"),
    ]
    for ax, (title, xlabel, ylabel) in zip(axes.flat, titles, strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")  # contenders differ by 10x and more
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[0]:
        ax.set_xscale("log", base=2)  # 2, 4, 8 nodes
        ax.set_xticks(sorted({m for c in CONTENDERS for m, _ in _cases(data, "nodes", c)}))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    for ax in axes[1]:
        ax.set_xscale("log")  # 100 B to 1 MB
    fig.suptitle(f"sioadapter scaling ({fmt(get(data, KEY, 'nproc'))} CPUs)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
