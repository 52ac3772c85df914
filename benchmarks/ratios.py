"""The ratios of the results file: each sioadapter / baseline comparison and its target.

Contract: a :class:`Ratio` names a figure of the results (a function of the results and a
contender), the baseline it is compared with and, for a target, ``>=`` or ``<=`` and a bound;
:data:`TARGETS` are the issue's targets as it states them, :data:`VARIANTS` the same bounds on
the same quantities measured another way, :data:`INFO` comparisons with no target. A missing
figure gives a NaN ratio, which fails its target. :func:`ratio_table` renders all three.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NAMES = {
    "sioadapter": "sioadapter",
    "sioadapter-rooms": "sioadapter, subscription_mode=dynamic-private",
    "socketio": "python-socketio AsyncRedisManager",
    "node": "Node @socket.io/redis-adapter",
    "raw-single": "raw redis-py, one publish at a time",
    "raw-pipelined": "raw redis-py, pipelined publish",
    "raw-gevent": "raw sync redis-py under gevent, pipelined publish",
    "sioadapter-sync": "sioadapter ClusterManager, sync Server",
    "socketio-sync": "python-socketio RedisManager, sync Server",
    "sioadapter-gevent": "sioadapter ClusterManager, sync Server under gevent",
    "socketio-gevent": "python-socketio RedisManager, sync Server under gevent",
    "shell-gevent": "prototype: sioadapter's core on sync redis-py, sync Server under gevent",
}
SHORT = {
    "sioadapter": "sioadapter",
    "sioadapter-rooms": "sioadapter (per-room subscriptions)",
    "socketio": "python-socketio",
    "node": "Node adapter",
    "raw-single": "raw single",
    "raw-pipelined": "raw pipelined",
    "raw-gevent": "raw sync redis-py, gevent",
    "sioadapter-sync": "sioadapter, sync",
    "socketio-sync": "python-socketio, sync",
    "sioadapter-gevent": "sioadapter, gevent",
    "socketio-gevent": "python-socketio, gevent",
    "shell-gevent": "core on sync redis-py, gevent",
}
RATE = "at 2,000/s"

Figure = Callable[[dict[str, Any], str], Any]  # (data, contender) -> a figure


def num(value: Any) -> float:
    """A figure as a float, NaN when missing."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


def fmt(value: Any, digits: int = 3) -> str:
    x = num(value)
    if math.isnan(x):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def get(data: dict[str, Any], *path: str) -> Any:
    node: Any = data["results"]
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def receiver(scenario: str, field: str) -> Figure:
    return lambda d, c: get(d, scenario, c, "receiver", field)


def bystander(scenario: str) -> Figure:
    return lambda d, c: get(d, scenario, c, "bystander", "cpu_per_10k")


def latency(q: str) -> Figure:
    return lambda d, c: get(d, "latency", c, "receiver", "latency_ms", q)


def request(op: str, q: str) -> Figure:
    return lambda d, c: get(d, "requests", c, op, q)


@dataclass(frozen=True)
class Ratio:
    """sioadapter's figure over a baseline's; with ``op`` and ``target``, a target."""

    label: str
    ours: Figure
    baseline: str
    base: Figure | None = None  # default: the same figure, for the baseline contender
    op: str = ""
    target: float = 0.0
    contender: str = "sioadapter"  # whose figure is "ours"

    def values(self, data: dict[str, Any]) -> tuple[float, float, float]:
        ours = num(self.ours(data, self.contender))
        base = num((self.base or self.ours)(data, self.baseline))
        return ours, base, ours / base if base and not math.isnan(base) else math.nan

    def passed(self, data: dict[str, Any]) -> bool | None:
        if not self.op:
            return None
        ratio = self.values(data)[2]
        compare = operator.ge if self.op == ">=" else operator.le
        return not math.isnan(ratio) and compare(ratio, self.target)


TP1 = receiver("throughput_k1", "broadcasts_per_s")
TP100 = receiver("throughput_k100", "deliveries_per_s")
SPAN1 = receiver("throughput_k1", "span_broadcasts_per_s")
DRAIN1 = receiver("drain_k1", "span_broadcasts_per_s")
DRAIN100 = receiver("drain_k100", "span_broadcasts_per_s")
CPU1 = receiver("throughput_k1", "cpu_per_10k")
CPU_DRAIN = receiver("drain_k1", "cpu_per_10k")
CPU_RATE = receiver("idle_rate", "cpu_per_10k")
TARGETS = [
    Ratio("throughput K=1, end to end", TP1, "socketio", op=">=", target=6),
    Ratio("throughput K=1, end to end", TP1, "node", op=">=", target=0.7),
    Ratio("throughput K=100 (deliveries), end to end", TP100, "socketio", op=">=", target=3),
    Ratio("throughput K=1, end to end", TP1, "raw-pipelined", op=">=", target=0.6),
    Ratio("receiving CPU per broadcast, K=1, flat out", CPU1, "socketio", op="<=", target=0.2),
    Ratio(
        "CPU per broadcast, node with no member / node delivering, flat out",
        bystander("idle"),
        "sioadapter",
        receiver("idle", "cpu_per_10k"),
        op="<=",
        target=0.2,
    ),
    Ratio(f"p99 latency {RATE}", latency("p99"), "socketio", op="<=", target=1.0),
]
# Issue 16's targets: ahead of Node's adapter, and cheap where nothing is delivered.
AHEAD = [
    Ratio("throughput K=1, end to end", TP1, "node", op=">=", target=1.0),
    Ratio("throughput K=100 (deliveries), end to end", TP100, "node", op=">=", target=1.0),
    Ratio("receiving CPU per broadcast, K=1, flat out", CPU1, "node", op="<=", target=1.2),
    Ratio(f"receiving CPU per broadcast, K=1, {RATE}", CPU_RATE, "node", op="<=", target=1.0),
    Ratio(f"p99 latency {RATE}", latency("p99"), "socketio", op="<=", target=0.8),
    Ratio(f"p99 latency {RATE}", latency("p99"), "node", op="<=", target=1.0),
    Ratio(f"p50 latency {RATE}", latency("p50"), "socketio", op="<=", target=0.8),
    Ratio(f"p50 latency {RATE}", latency("p50"), "node", op="<=", target=1.0),
    *(
        Ratio(
            f"CPU per broadcast, node with no member{mode} / node delivering, {when}",
            bystander(scenario),
            "sioadapter",
            receiver(scenario, "cpu_per_10k"),
            op="<=",
            target=0.2,
            contender=contender,
        )
        for contender, mode in (
            ("sioadapter", ""),
            ("sioadapter-rooms", " (per-room subscriptions)"),
        )
        for scenario, when in (("idle", "flat out"), ("idle_rate", RATE))
    ),
]
VARIANTS = [
    Ratio("throughput K=1, B's delivery span", SPAN1, "node", op=">=", target=0.7),
    Ratio("throughput K=1, B draining a backlog", DRAIN1, "node", op=">=", target=0.7),
    Ratio("throughput K=100, B draining a backlog", DRAIN100, "socketio", op=">=", target=3),
    Ratio("receiving CPU per broadcast, K=1, draining", CPU_DRAIN, "socketio", op="<=", target=0.2),
    Ratio(f"receiving CPU per broadcast, K=1, {RATE}", CPU_RATE, "socketio", op="<=", target=0.2),
]
INFO = [
    Ratio("throughput K=100 (deliveries), end to end", TP100, "node"),
    Ratio("throughput K=100, B draining a backlog", DRAIN100, "node"),
    Ratio("throughput K=1, B draining a backlog", DRAIN1, "socketio"),
    Ratio("throughput K=1, end to end", TP1, "raw-single"),
    Ratio("receiving CPU per broadcast, K=1, flat out", CPU1, "node"),
    Ratio("receiving CPU per broadcast, K=1, draining", CPU_DRAIN, "node"),
    Ratio(f"receiving CPU per broadcast, K=1, {RATE}", CPU_RATE, "node"),
    Ratio("CPU per broadcast on a node with no member, flat out", bystander("idle"), "socketio"),
    Ratio("CPU per broadcast on a node with no member, flat out", bystander("idle"), "node"),
    Ratio(f"p50 latency {RATE}", latency("p50"), "socketio"),
    Ratio("sync servers: throughput K=1", TP1, "socketio-sync", contender="sioadapter-sync"),
    Ratio("sync servers: throughput K=100", TP100, "socketio-sync", contender="sioadapter-sync"),
    Ratio("sync / async server: throughput K=1", TP1, "sioadapter", contender="sioadapter-sync"),
    Ratio("gevent servers: throughput K=1", TP1, "socketio-gevent", contender="sioadapter-gevent"),
    Ratio(
        "gevent servers: throughput K=100", TP100, "socketio-gevent", contender="sioadapter-gevent"
    ),
    Ratio(
        "gevent: loop greenlet / core on sync redis-py, throughput K=1",
        TP1,
        "shell-gevent",
        contender="sioadapter-gevent",
    ),
    Ratio(
        "gevent: loop greenlet / core on sync redis-py, throughput K=100",
        TP100,
        "shell-gevent",
        contender="sioadapter-gevent",
    ),
    Ratio(
        "gevent server (loop greenlet) / raw sync redis-py under gevent: throughput K=1",
        TP1,
        "raw-gevent",
        contender="sioadapter-gevent",
    ),
    Ratio(f"p99 latency {RATE}", latency("p99"), "node"),
    *(
        Ratio(f"{op} {q}", request(op, q), "node")
        for op in ("fetch_sockets", "server_side_call")
        for q in ("p50", "p99")
    ),
]


def soak(*path: str) -> Figure:
    return lambda d, c: get(d, "soak", c, *path)


def gauge_total(*path: str, nodes: str = "") -> Figure:
    """The sum of every gauge in the snapshot at ``path``; with ``nodes``, over the list of
    responders' snapshots at ``path[:-1] + (nodes,)``."""

    def figure(d: dict[str, Any], c: str) -> Any:
        snaps = [get(d, "soak", c, *path)] if not nodes else get(d, "soak", c, *path, nodes)
        if not isinstance(snaps, list) or not snaps:
            return None
        total = 0
        for snap in snaps:
            gauges = snap.get("gauges") if isinstance(snap, dict) else None
            if not isinstance(gauges, dict):
                return None
            total += sum(gauges.values())
        return total

    return figure


@dataclass(frozen=True)
class Bound:
    """An absolute target on one sioadapter figure (no baseline). ``label`` may name the
    plan's sizes as ``{soak_requests}`` and the like."""

    label: str
    figure: Figure
    op: str
    bound: float
    unit: str = ""

    def value(self, data: dict[str, Any]) -> float:
        return num(self.figure(data, "sioadapter"))

    def passed(self, data: dict[str, Any]) -> bool:
        value = self.value(data)
        compare = {"<": operator.lt, "<=": operator.le, "==": operator.eq}[self.op]
        return not math.isnan(value) and compare(value, self.bound)

    def title(self, plan: dict[str, Any]) -> str:
        sizes = {k: f"{v:,}" if isinstance(v, int) else v for k, v in plan.items()}
        try:
            return self.label.format(**sizes)
        except (KeyError, ValueError):
            return self.label


SOAK_KINDS = ("fetch_sockets", "server_side_call", "emit_with_ack", "callback")
SOAK_TARGETS = [
    *(
        Bound(
            f"RSS growth of the requesting node, {{soak_requests}} successful {kind}, "
            "after the warm-up",
            soak("kinds", kind, "growth_mb"),
            "<",
            10,
            " MB",
        )
        for kind in SOAK_KINDS
    ),
    *(
        Bound(
            f"gauges at the end, requesting node, {kind}",
            gauge_total("kinds", kind, "end"),
            "==",
            0,
        )
        for kind in SOAK_KINDS
    ),
    *(
        Bound(
            f"gauges at the end, responding nodes, {kind}",
            gauge_total("kinds", kind, nodes="responders"),
            "==",
            0,
        )
        for kind in SOAK_KINDS
    ),
    Bound(
        "gauges after {soak_timeouts} timed-out requests, requesting node",
        gauge_total("timeouts", "after"),
        "==",
        0,
    ),
    Bound(
        "requests that failed of {soak_concurrent} concurrent fetch_sockets",
        lambda d, c: (
            num(soak("concurrent", "requests")(d, c)) - num(soak("concurrent", "ok")(d, c))
        ),
        "==",
        0,
    ),
    Bound(
        "Redis connections of the requesting node, {soak_concurrent} concurrent fetch_sockets",
        soak("concurrent", "connections_max"),
        "<=",
        4,
    ),
]


def soak_table(data: dict[str, Any]) -> str:
    """The soak scenario's absolute targets."""
    plan = data.get("plan", {})
    rows = []
    for spec in SOAK_TARGETS:
        verdict = "**PASS**" if spec.passed(data) else "**FAIL**"
        value = fmt(spec.value(data))
        target = f"{spec.op} {spec.bound:g}{spec.unit}"
        rows.append([spec.title(plan), value + spec.unit, target, verdict])
    return table(["measure", "sioadapter", "target", "result"], rows)


def _ratio_rows(data: dict[str, Any], specs: list[Ratio]) -> str:
    rows = []
    for spec in specs:
        ours, base, ratio = spec.values(data)
        delivering = spec.baseline == "sioadapter" and spec.base is not None
        versus = "same node, delivering" if delivering else SHORT[spec.baseline]
        passed = spec.passed(data)
        if passed is None:
            rows.append([spec.label, versus, fmt(ours), fmt(base), fmt(ratio)])
        else:
            verdict = "**PASS**" if passed else "**FAIL**"
            target = f"{spec.op} {spec.target:g}"
            rows.append(
                [spec.label, versus, fmt(ours), fmt(base), f"**{fmt(ratio)}**", target, verdict]
            )
    head = ["measure", "baseline", "sioadapter", "baseline figure", "ratio"]
    if specs and specs[0].op:
        head += ["target", "result"]
    return table(head, rows)


def ratio_table(data: dict[str, Any]) -> str:
    """Ratios sioadapter / baseline: the targets, the same targets measured other ways, then
    figures with no target."""
    return "\n".join(
        [
            "### Targets",
            "",
            _ratio_rows(data, TARGETS),
            "",
            "### Soak targets (absolute, sioadapter alone)",
            "",
            soak_table(data),
            "",
            "### Ahead of Node's adapter (issue 16's targets)",
            "",
            _ratio_rows(data, AHEAD),
            "",
            "### The same targets, measured other ways",
            "",
            _ratio_rows(data, VARIANTS),
            "",
            "### Other ratios (no target)",
            "",
            _ratio_rows(data, INFO),
        ]
    )


def table(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
