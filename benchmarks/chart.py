"""The chart of the results file: one PNG of six bar panels (matplotlib, Agg backend).

Contract: :func:`chart` draws throughput at K=1 and K=100 (end to end and draining, log
scale), receiver CPU per 10,000 broadcasts, CPU on a delivering node and on a node with no
member (log scale), latency p50/p99 and request round trips: the figures of
:mod:`benchmarks.ratios` that :mod:`benchmarks.report` tabulates. Missing figures draw as empty
bars labelled ``n/a``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .ratios import (
    CPU1,
    CPU_DRAIN,
    CPU_RATE,
    DRAIN1,
    DRAIN100,
    NAMES,
    SHORT,
    TP1,
    TP100,
    Figure,
    bystander,
    fmt,
    latency,
    num,
    receiver,
    request,
)

COLORS = {
    "sioadapter": "#2a7ab9",
    "socketio": "#d9822b",
    "node": "#5aa469",
    "raw-single": "#999999",
    "raw-pipelined": "#555555",
    "raw-gevent": "#333333",
    "sioadapter-sync": "#8fc1e8",
    "socketio-sync": "#f0c08f",
    "sioadapter-gevent": "#1b4f78",
    "socketio-gevent": "#9c5a1c",
}
THREE = ["sioadapter", "socketio", "node"]


def _bars(
    ax: Any,
    title: str,
    groups: list[str],
    series: dict[str, list[float]],
    unit: str,
    log: bool = False,
) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + i * width for g in range(len(groups))]
        ys = [0.0 if math.isnan(v) else v for v in values]
        ax.bar(xs, ys, width, label=SHORT.get(name, name), color=COLORS.get(name))
        for x, v in zip(xs, values, strict=True):
            y = v if v > 0 else (1e-9 if log else 0)
            ax.annotate(fmt(v), (x, y), ha="center", va="bottom", fontsize=7)
    ticks = [g + width * (len(series) - 1) / 2 for g in range(len(groups))]
    ax.set_xticks(ticks, groups, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    top = max((v for values in series.values() for v in values if v > 0), default=1.0)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(top=top * 8)  # room for the legend above the bars
    else:
        ax.set_ylim(0, top * 1.35)
    ax.legend(fontsize=7, loc="upper right", ncols=2)


def chart(data: dict[str, Any], path: Path) -> None:
    """Draw the six panels into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(names: list[str], figures: list[Figure]) -> dict[str, list[float]]:
        return {c: [num(f(data, c)) for f in figures] for c in names}

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    _bars(
        axes[0][0],
        "Cross-node throughput, K=1",
        ["end to end", "B's delivery span", "B draining a backlog"],
        series(list(NAMES), [TP1, receiver("throughput_k1", "span_broadcasts_per_s"), DRAIN1]),
        "broadcasts/s",
        log=True,
    )
    _bars(
        axes[0][1],
        "Cross-node throughput, K=100 (deliveries/s = 100 x broadcasts/s)",
        ["end to end", "B draining a backlog"],
        series(THREE, [TP100, lambda d, c: num(DRAIN100(d, c)) * 100]),
        "deliveries/s",
        log=True,
    )
    cpu100 = receiver("throughput_k100", "cpu_per_10k")
    _bars(
        axes[0][2],
        "Receiving node: CPU s per 10k broadcasts",
        ["K=1, flat out", "K=1, draining", "K=1, 2,000/s", "K=100, flat out"],
        series(THREE, [CPU1, CPU_DRAIN, CPU_RATE, cpu100]),
        "CPU s",
        log=True,
    )
    groups = [
        "delivering,\nflat out",
        "no member,\nflat out",
        "delivering,\n2,000/s",
        "no member,\n2,000/s",
    ]
    figures = [receiver("idle", "cpu_per_10k"), bystander("idle"), CPU_RATE, bystander("idle_rate")]
    _bars(
        axes[1][0],
        "CPU s per 10k broadcasts: delivering node vs node with no member",
        groups,
        series(THREE, figures),
        "CPU s",
        log=True,
    )
    _bars(
        axes[1][1],
        "Latency emit -> delivery at 2,000/s, K=1",
        ["p50", "p99"],
        series(THREE, [latency("p50"), latency("p99")]),
        "ms",
    )
    ops = [(op, q) for op in ("fetch_sockets", "server_side_call") for q in ("p50", "p99")]
    _bars(
        axes[1][2],
        "Request round trip over 3 nodes",
        [f"{op}\n{q}" for op, q in ops],
        series(["sioadapter", "node"], [request(op, q) for op, q in ops]),
        "ms",
    )
    machine = data["machine"]
    fig.suptitle(
        f"sioadapter benchmarks, {machine['date']}, {machine['nproc']} CPUs ({machine['cpu']})",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
