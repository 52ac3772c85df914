"""The page's part of the rooms-and-sockets scaling family (:mod:`benchmarks.scaling_rooms`):
its figures, tables, trend sentences and chart.

Contract: every figure comes from ``results["scaling_rooms"]``; a size a node failed at, or
whose deliveries did not all arrive, gives no figure (NaN, ``n/a``). The sentences under each
table are computed from the figures (:func:`benchmarks.scaling_report.trend`: flat, linear,
...; limits extrapolated from the largest size), never written by hand. :func:`sections`
returns the Markdown lines (none when the family did not run); :func:`draw` one PNG
(matplotlib, Agg backend): a column per dimension.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .ratios import fmt, get, num, table
from .scaling_report import COLORS, factor, trend

KEY = "scaling_rooms"  # the results' key (scenarios.SCENARIOS)
NAMES = {
    "sioadapter": "sioadapter",
    "sioadapter-rooms": "sioadapter, dynamic-private",
    "socketio": "python-socketio AsyncRedisManager",
    "node": "Node @socket.io/redis-adapter",
}
STYLE = {**COLORS, "sioadapter-rooms": "#7b3fa0"}
DEFAULT_TIMEOUT_MS = 5_000.0  # sioadapter's requests_timeout and Node's requestsTimeout
DEFAULT_MAX_MESSAGE = 1 << 20  # sioadapter's max_message_size
FETCH_NODES = 2  # the fetch dimension's nodes (scaling_rooms), the sockets split evenly


def levels(data: dict[str, Any], part: str, contender: str) -> list[tuple[int, dict[str, Any]]]:
    cases = get(data, KEY, part, contender, "levels") or {}
    return sorted((int(x), c) for x, c in cases.items())


def room_cpu(case: dict[str, Any]) -> float:
    """CPU s per 10,000 broadcasts to a room the node has no member in (markers seen)."""
    return num(case.get("cpu_per_10k")) if (case.get("window") or {}).get("complete") else math.nan


def deliveries(case: dict[str, Any]) -> float:
    return num(case.get("deliveries_per_s")) if case.get("complete") else math.nan


def delivery_cpu(case: dict[str, Any]) -> float:
    return num(case.get("cpu_us_per_delivery")) if case.get("complete") else math.nan


def call_ms(case: dict[str, Any], op: str, q: str = "p50") -> float:
    return num((case.get(op) or {}).get(q))


def _failed(data: dict[str, Any], part: str, contender: str) -> list[str]:
    error = get(data, KEY, part, contender, "error")
    if not error:
        return []
    first = str(error).strip().splitlines()[0][:200]
    return [f"- {NAMES[contender]} failed after the sizes shown: `{first}`"]


def _rooms_section(data: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for contender, name in NAMES.items():
        every = levels(data, "rooms", contender)
        cases = [(r, c) for r, c in every if not c.get("skipped")]
        for r, c in every:
            if c.get("skipped"):
                rows.append([name, fmt(r), "", f"skipped: {fmt(c.get('projected_s'))} s "
                             "projected", "", "", "", "", ""])  # fmt: skip
                continue
            rows.append([name, fmt(r), fmt(c.get("sockets")), fmt(c.get("create_s")),
                         fmt(num(c.get("create_s")) / r * 1e6), fmt(c.get("rss_growth_mb")),
                         fmt(num(c.get("rss_growth_mb")) * 1024 / r) if r >= 100 else "",
                         fmt(c.get("channels")), fmt(room_cpu(c))])  # fmt: skip
        if len(cases) >= 2:
            rs = [float(r) for r, _ in cases]
            big = [(r, c) for r, c in cases if r >= 100]  # 1 room is the baseline itself
            (top, last) = cases[-1]
            notes.append(
                f"- {name}, {fmt(cases[0][0])} to {fmt(top)} rooms: creating them "
                f"{trend(rs, [num(c.get('create_s')) for _, c in cases])} s "
                f"({fmt(num(last.get('create_s')) / top * 1e6)} µs a room at {fmt(top)}); RSS "
                f"growth {trend([float(r) for r, _ in big], [num(c.get('rss_growth_mb')) for _, c in big])} MB; "  # noqa: E501
                f"CPU per 10,000 broadcasts for another room "
                f"{trend(rs, [room_cpu(c) for _, c in cases])}."
            )
        notes += [f"- {name}, {fmt(r)} rooms: not run, creating them projected at "
                  f"{fmt(c.get('projected_s'))} s (over this run's budget)."
                  for r, c in every if c.get("skipped")]  # fmt: skip
        notes += _failed(data, "rooms", contender)
    notes += _rooms_limits(data)
    head = ["contender", "rooms", "sockets", "time to create (s)", "µs a room",
            "RSS growth (MB)", "KB a room", "Redis channels",
            "CPU s / 10k broadcasts, no member"]  # fmt: skip
    return [
        "### Rooms on one node",
        "",
        "Node B holds R rooms over at most 100 sockets (socket i mod 100 joins room i: the "
        "rooms' cost, not the sockets'); node A broadcasts to room1, which B has no member in, "
        f"at {fmt(_first(data, 'rooms', 'rate'))}/s for {fmt(_first(data, 'rooms', 'n'))} "
        "broadcasts per size, and B's CPU meanwhile is the cost of other rooms' traffic. The "
        "time to create is cumulative (from no room), the RSS growth from before the first "
        "room (up to 100 rooms, each room brings its socket: those rows count the socket's "
        "memory too); Redis channels counts the whole cluster's (A's included). Trends:",
        "",
        *notes,
        "",
        table(head, rows),
        "",
    ]


def _first(data: dict[str, Any], part: str, field: str) -> Any:
    for contender in NAMES:
        for _, c in levels(data, part, contender):
            return c.get(field)
    return None


def _rooms_limits(data: dict[str, Any]) -> list[str]:
    """dynamic-private against the pattern mode and python-socketio, at the largest size
    both have."""
    private = {r: c for r, c in levels(data, "rooms", "sioadapter-rooms") if "window" in c}
    notes = []
    for other in ("sioadapter", "socketio"):
        theirs = {r: c for r, c in levels(data, "rooms", other) if "window" in c}
        common = sorted(set(private) & set(theirs))
        if not common:
            continue
        r = common[-1]
        mine, base = private[r], theirs[r]
        cpu = room_cpu(mine) / room_cpu(base)
        create = num(mine.get("create_s")) / num(base.get("create_s"))
        notes.append(
            f"- At {fmt(r)} rooms, dynamic-private spends {fmt(cpu)} of {NAMES[other]}'s CPU "
            f"on broadcasts for other rooms, and takes {factor(create)} its time to create the "
            f"rooms (one SUBSCRIBE each: {fmt(r / num(mine.get('create_s')))} rooms/s)."
        )
    return notes


def _clients_section(data: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for contender in ("sioadapter", "socketio", "node"):
        name, cases = NAMES[contender], levels(data, "clients", contender)
        for k, c in cases:
            state = "yes" if c.get("complete") else "incomplete"
            rows.append([name, fmt(k), fmt(c.get("n")), fmt(deliveries(c)),
                         fmt(delivery_cpu(c)), state])  # fmt: skip
        if len(cases) >= 2:
            ks = [float(k) for k, _ in cases]
            rates = [deliveries(c) for _, c in cases]
            best = max(((r, k) for r, (k, _) in zip(rates, cases, strict=True) if r == r),
                       default=(math.nan, 0))  # fmt: skip
            notes.append(
                f"- {name}, K={fmt(cases[0][0])} to {fmt(cases[-1][0])}: deliveries/s "
                f"{trend(ks, rates)}, receiver CPU per delivery {trend(ks, [delivery_cpu(c) for _, c in cases])} µs; "  # noqa: E501
                f"the most, {fmt(best[0])} deliveries/s, at K={fmt(best[1])}."
            )
        notes += _failed(data, "clients", contender)
    head = ["contender", "sockets in the room (K)", "broadcasts", "deliveries/s",
            "receiver CPU µs / delivery", "all delivered"]  # fmt: skip
    return [
        "### Sockets in one room",
        "",
        "Node B holds K sockets in room1, node A broadcasts to it flat out; fewer broadcasts at "
        "large K (a delivery budget) keep each case short. Deliveries/s run from A's first "
        "emit to B's last delivery. Past the K where deliveries/s stops growing, the "
        "per-socket write dominates the per-broadcast cost (decoding, routing). Trends:",
        "",
        *notes,
        "",
        table(head, rows),
        "",
    ]


def exponent(points: list[tuple[int, float]]) -> float:
    """The log-log slope between the last two points (1: linear, 2: quadratic)."""
    (t1, m1), (t2, m2) = points[-2], points[-1]
    return math.log(m2 / m1) / math.log(t2 / t1)


def answer_bytes(t: int, case: dict[str, Any]) -> float:
    """Bytes Redis read per answered socket: its input during the fetch calls (warm-up
    included; server_count's few bytes and the request itself are noise), over the calls and
    the sockets of the answering nodes."""
    calls = num(case.get("warmup")) + num(case.get("calls"))
    remote = t // FETCH_NODES * (FETCH_NODES - 1)
    return num(case.get("redis_in_bytes")) / calls / remote if calls > 0 and remote else math.nan


def _fetch_notes(contender: str, cases: list[tuple[int, dict[str, Any]]]) -> list[str]:
    name = NAMES[contender]
    timed = [(t, call_ms(c, "fetch_sockets")) for t, c in cases if call_ms(c, "fetch_sockets") > 0]
    notes = []
    if len(timed) >= 2:
        ts = [float(t) for t, _ in timed]
        slope = max(exponent(timed), 0.5)
        (top, ms) = timed[-1]
        # where the default requests timeout is reached, along the last two sizes' growth
        reach = top * (DEFAULT_TIMEOUT_MS / ms) ** (1 / slope)
        counts = [call_ms(c, "server_count") for t, c in cases if call_ms(c, "fetch_sockets") > 0]
        notes.append(
            f"- {name}, {fmt(timed[0][0])} to {fmt(top)} sockets: fetch_sockets' median "
            f"{trend(ts, [m for _, m in timed])} ms (exponent {exponent(timed):.2g} from "
            f"{fmt(timed[-2][0])} to {fmt(top)}: 1 is linear, 2 quadratic); server_count's "
            f"{trend(ts, counts)} ms. Along that growth a fetch_sockets() of every socket "
            f"{'reaches' if reach > top else 'is past'} the default 5 s requests timeout near "
            f"{fmt(reach)} sockets."
        )
    sizes = [answer_bytes(t, c) for t, c in cases if answer_bytes(t, c) > 0]
    if sizes:
        per = sizes[-1]  # the largest size's: the fixed part of a message weighs least there
        limit = (
            f", so a node's answer reaches 1 MiB (the default `max_message_size`, past which "
            f"it is not sent and the request times out) near {fmt(DEFAULT_MAX_MESSAGE / per)} "
            "sockets on that node"
            if contender == "sioadapter"
            else " (the adapter sets no size limit)"
        )
        notes.append(f"- {name}: about {fmt(per)} bytes of answer a socket{limit}.")
    for t, c in cases:
        if c.get("skipped"):
            notes.append(
                f"- {name}, {fmt(t)} sockets: not run, one fetch_sockets() projected at "
                f"{fmt(c.get('projected_s'))} s (over this run's time budget for a size)."
            )
    return notes


def _fetch_section(data: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for contender in ("sioadapter", "node"):
        name, cases = NAMES[contender], levels(data, "fetch", contender)
        for t, c in cases:
            if c.get("skipped"):
                rows.append([name, fmt(t), f"skipped: {fmt(c.get('projected_s'))} s projected",
                             "", "", "", "", ""])  # fmt: skip
                continue
            rows.append([name, fmt(t), fmt(call_ms(c, "fetch_sockets")),
                         fmt(call_ms(c, "fetch_sockets", "p99")),
                         fmt(call_ms(c, "fetch_sockets") / t * 1000),
                         fmt(call_ms(c, "server_count")),
                         fmt(call_ms(c, "server_count", "p99")), fmt(c.get("calls"))])  # fmt: skip
        notes += _fetch_notes(contender, cases) + _failed(data, "fetch", contender)
    head = ["contender", "sockets in the cluster", "fetch_sockets p50 (ms)", "p99 (ms)",
            "µs a socket (p50)", "server_count p50 (ms)", "p99 (ms)", "timed calls"]  # fmt: skip
    return [
        "### fetch_sockets() and server_count() against the cluster's sockets",
        "",
        "The sockets spread evenly over 2 nodes; the requesting node holds half, the other "
        "half comes over Redis. As many timed calls as fit a time budget per size (at most 5, "
        "after one warm-up call when it fits; p99 of a few calls is their slowest); a size "
        "whose one call is projected over the budget is not run. The runs lift the limits "
        "that would cut them short (requests timeout 60 s, sioadapter's `max_message_size` "
        "off). python-socketio has no cluster requests. Trends:",
        "",
        *notes,
        "",
        table(head, rows),
        "",
    ]


def sections(data: dict[str, Any]) -> list[str]:
    """The rooms-and-sockets section of the results page (empty when the family did not run)."""
    if not get(data, KEY):
        return []
    parts = ["", "## Scaling: rooms per node, sockets per room, sockets in the cluster", ""]
    return parts + _rooms_section(data) + _clients_section(data) + _fetch_section(data)


def draw(data: dict[str, Any], path: Path) -> None:
    """One PNG, a column per dimension (rooms, sockets in a room, sockets in the cluster),
    a line per contender, log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for contender, name in NAMES.items():
        style = {"color": STYLE[contender], "label": name}
        rooms = levels(data, "rooms", contender)
        xs = [r for r, _ in rooms]
        if rooms:
            axes[0][0].plot(xs, [room_cpu(c) for _, c in rooms], "o-", **style)
            growth = [num(c.get("rss_growth_mb")) for _, c in rooms]
            # no growth (the first room) has no place on a log axis
            growth = [g if g > 0 else math.nan for g in growth]
            axes[1][0].plot(xs, growth, "o-", **style)
        clients = levels(data, "clients", contender)
        ks = [k for k, _ in clients]
        if clients:
            axes[0][1].plot(ks, [deliveries(c) for _, c in clients], "o-", **style)
            axes[1][1].plot(ks, [delivery_cpu(c) for _, c in clients], "o-", **style)
        fetch = levels(data, "fetch", contender)
        ts = [t for t, _ in fetch]
        for row, op in enumerate(("fetch_sockets", "server_count")):
            if not fetch:
                continue
            axes[row][2].plot(ts, [call_ms(c, op) for _, c in fetch], "o-",
                              **{**style, "label": f"{name}, p50"})  # fmt: skip
            axes[row][2].plot(ts, [call_ms(c, op, "p99") for _, c in fetch], "s:",
                              **{**style, "label": f"{name}, p99"})  # fmt: skip
    titles = [
        ("CPU s / 10k broadcasts to a room not on the node", "rooms on the node", "CPU s"),
        ("Deliveries/s, one room", "sockets in the room (K)", "deliveries/s"),
        ("fetch_sockets() time", "sockets in the cluster (2 nodes)", "ms"),
        ("RSS growth of the node", "rooms on the node", "MB"),
        ("Receiver CPU per delivery", "sockets in the room (K)", "µs"),
        ("server_count() time", "sockets in the cluster (2 nodes)", "ms"),
    ]
    for ax, (title, xlabel, ylabel) in zip(axes.flat, titles, strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(f"sioadapter: rooms and sockets ({fmt(get(data, KEY, 'nproc'))} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
