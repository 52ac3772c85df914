"""The charts of the results file (matplotlib, Agg backend).

Contract: :func:`headline` draws the few figures a user compares first (`HEADLINE`:
throughput at K=1 and K=100, receiving CPU, p99 latency) for sioadapter, python-socketio and
Node's adapter, one horizontal bar panel each, every value written at the end of its bar.
:func:`chart` draws the detail: throughput at K=1 and K=100 (end to end and draining, log
scale), receiver CPU per 10,000 broadcasts, CPU on a delivering node and on a node with no
member (log scale), latency p50/p99 and request round trips: the figures of
:mod:`benchmarks.ratios` that :mod:`benchmarks.report` tabulates. Missing figures draw as empty
bars labelled ``n/a``. Value labels never overlap: in a panel of more than three series they
are compact (``60.7k``) and vertical.
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
    "shell-gevent": "#6a3d9a",
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
    # A contender with no figure in this panel gets no bars (nor a legend entry).
    series = {name: v for name, v in series.items() if not all(math.isnan(x) for x in v)}
    width = 0.8 / max(len(series), 1)
    dense = len(series) > 3
    for i, (name, values) in enumerate(series.items()):
        xs = [g + i * width for g in range(len(groups))]
        ys = [0.0 if math.isnan(v) else v for v in values]
        ax.bar(xs, ys, width, label=SHORT.get(name, name), color=COLORS.get(name))
        for x, v in zip(xs, values, strict=True):
            if math.isnan(v):  # at the foot of the empty bar, inside the panel
                ax.annotate("n/a", (x, 0), xycoords=("data", "axes fraction"), ha="center",
                            va="bottom", fontsize=6, rotation=90 if dense else 0)  # fmt: skip
                continue
            y = v if v > 0 else (1e-9 if log else 0)
            if dense:  # narrow bars: a vertical compact label fits the bar's own width
                ax.annotate(compact(v), (x, y), ha="center", va="bottom", fontsize=6,
                            rotation=90, xytext=(0, 2), textcoords="offset points")  # fmt: skip
            else:
                ax.annotate(fmt(v), (x, y), ha="center", va="bottom", fontsize=7)
    ticks = [g + width * (len(series) - 1) / 2 for g in range(len(groups))]
    ax.set_xticks(ticks, groups, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    top = max((v for values in series.values() for v in values if v > 0), default=1.0)
    if log:
        ax.set_yscale("log")
        # Room for the legend above the bars (and for vertical labels on dense panels).
        ax.set_ylim(top=top * (40 if dense else 8))
    else:
        ax.set_ylim(0, top * 1.35)
    ax.legend(fontsize=7, loc="upper right", ncols=2)


def compact(value: float) -> str:
    """``60.7k``, ``1.72M``, ``0.137``: a figure in at most 5 characters or so."""
    if math.isnan(value):
        return "n/a"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


HEADLINE: list[tuple[str, Figure, str, bool]] = [
    ("Broadcasts/s from one server to another (K=1)", TP1, "broadcasts/s", True),
    ("Deliveries/s, 100 sockets per broadcast (K=100)", TP100, "deliveries/s", True),
    ("Receiving server: CPU s per 10,000 broadcasts", CPU1, "CPU s", False),
    ("p99 latency, emit to delivery, at 2,000/s", latency("p99"), "ms", False),
]
"""The headline panels: (title, figure, unit, higher is better)."""


def headline(data: dict[str, Any], path: Path) -> None:
    """Draw the headline figures of ``data`` into ``path`` (see `headline_figure`)."""
    import matplotlib.pyplot as plt

    fig = headline_figure(data)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def headline_figure(data: dict[str, Any]) -> Any:
    """The headline figure: a horizontal bar panel per `HEADLINE` entry, sioadapter on top,
    each bar's value at its end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig, axes = plt.subplots(2, 2, figsize=(11, 5.6))
    names = [SHORT.get(c, c) for c in THREE]
    for ax, (title, figure, unit, higher) in zip(axes.flat, HEADLINE, strict=True):
        values = [num(figure(data, c)) for c in THREE]
        shown = [0.0 if math.isnan(v) else v for v in values]
        rows = list(range(len(THREE)))[::-1]  # sioadapter on top
        ax.barh(rows, shown, 0.6, color=[COLORS[c] for c in THREE])
        top = max(shown, default=0.0) or 1.0
        for row, value in zip(rows, values, strict=True):
            x = 0.0 if math.isnan(value) else value
            ax.annotate(compact(value), (x, row), xytext=(4, 0), textcoords="offset points",
                        va="center", ha="left", fontsize=9)  # fmt: skip
        ax.set_xlim(0, top * 1.3)  # room for the labels at the bars' ends
        ax.set_yticks(rows, names, fontsize=9)
        ax.set_xlabel(f"{unit} ({'higher' if higher else 'lower'} is better)", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else compact(v)))
        ax.set_title(title, fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    machine = data["machine"]
    fig.suptitle(
        f"Two servers on one Redis: sioadapter, python-socketio's AsyncRedisManager, Node's "
        f"@socket.io/redis-adapter ({machine['nproc']} CPUs, {machine['date']})",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def chart(data: dict[str, Any], path: Path) -> None:
    """Draw the six detail panels into ``path`` (see `detail_figure`)."""
    import matplotlib.pyplot as plt

    fig = detail_figure(data)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def detail_figure(data: dict[str, Any]) -> Any:
    """The detail figure: six bar panels, every figure of every contender."""
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
    return fig
