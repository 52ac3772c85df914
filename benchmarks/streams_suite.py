"""The streams family of the benchmarks (``--only streams``): the streams protocol against the
pub/sub protocol and against Node's ``@socket.io/redis-streams-adapter``, and what connection
state recovery costs, all in one run on the run's private Redis.

Contract: :func:`run` returns ``{"k1": {contender: case}, "k100": {...}, "rooms": {...}}``,
where a throughput case is :func:`benchmarks.scenarios.broadcast`'s result (node A sends, node
B's K sockets in room1 receive; its figures count only when B got all N x K deliveries,
:func:`complete`), and a rooms case is one ``roomer`` node's (room joins and
leaves at a fixed rate, with and without recovery). :func:`sections` is the page's part.
Nothing here decides a target: the issue asks for figures, not a bound.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from .procs import Children
from .ratios import fmt, get, num, table

# contender -> (what it is, on the page)
STREAMS = {
    "sioadapter": 'sioadapter, pub/sub (protocol="classic")',
    "sioadapter-streams": 'sioadapter, protocol="streams"',
    "sioadapter-csr": 'sioadapter, protocol="streams" + connection_state_recovery',
    "node-streams": "Node socket.io 4.8 + @socket.io/redis-streams-adapter 0.3.1",
}
ROOM_CHANGES = 6_000  # joins and leaves, at ROOM_RATE a second over ROOM_SOCKETS sockets
ROOM_RATE = 2_000.0
ROOM_SOCKETS = 100


def run(url: str, plan: Any, broadcast: Callable[..., Any], command: Callable[..., Any],
        log: Callable[[str], None], cwd: str) -> dict[str, Any]:  # fmt: skip
    """Every case (see the module docstring); a case that fails is kept as ``{"error"}``."""
    out: dict[str, Any] = {"k1": {}, "k100": {}, "rooms": {}}
    for k, n in ((1, plan.n_k1), (100, plan.n_k100)):
        for contender in STREAMS:
            log(f"  streams: throughput K={k}, N={n:,}: {contender} ...")
            try:
                out[f"k{k}"][contender] = broadcast(url, contender, plan, n=n, k=k)
            except Exception as error:
                out[f"k{k}"][contender] = {"error": str(error)}
    changes = max(200, ROOM_CHANGES if plan.n_k1 >= 10_000 else 600)
    for contender in ("sioadapter-streams", "sioadapter-csr"):
        log(f"  streams: {changes:,} room changes at {ROOM_RATE:,.0f}/s: {contender} ...")
        cfg = {"contender": contender, "redis": url, "key": f"bench-{uuid.uuid4().hex[:8]}",
               "role": "roomer", "sockets": ROOM_SOCKETS, "changes": changes,
               "rate": ROOM_RATE}  # fmt: skip
        try:
            with Children() as children:
                child = children.start(f"{contender} roomer", command(contender, cfg), cwd=cwd)
                out["rooms"][contender] = child.wait_for("result", plan.timeout + 30)
        except Exception as error:
            out["rooms"][contender] = {"error": str(error)}
    return out


def ran(data: dict[str, Any]) -> bool:
    return bool(get(data, "streams"))


def complete(case: dict[str, Any]) -> bool:
    """Whether the receiver of a throughput case got every delivery it expected. A rate from
    a receiver that missed some is no throughput (it may even look higher: a streams reader
    that falls more than ``MAXLEN`` entries behind skips what was trimmed, and finishes
    sooner), so the page shows it as incomplete and computes no ratio from it."""
    receiver = case.get("receiver") or {}
    expected = receiver.get("expected")
    return (
        bool(receiver.get("complete"))
        and isinstance(expected, int)
        and receiver.get("received") == expected
    )


def _rate(data: dict[str, Any], k: int, contender: str) -> float:
    if not complete(get(data, "streams", f"k{k}", contender) or {}):
        return math.nan
    return num(get(data, "streams", f"k{k}", contender, "receiver", "broadcasts_per_s"))


def _cpu(data: dict[str, Any], k: int, contender: str) -> float:
    return num(get(data, "streams", f"k{k}", contender, "receiver", "cpu_per_10k"))


def _ratio(a: float, b: float) -> str:
    return fmt(a / b) + "x" if b and b == b and a == a else "n/a"


def sections(data: dict[str, Any]) -> list[str]:
    """The streams section of the results page (empty when the family did not run)."""
    if not ran(data):
        return []
    parts = ["", "## The streams protocol and connection state recovery", ""]
    rows = []
    for contender, name in STREAMS.items():
        row = [name]
        for k in (1, 100):
            case = get(data, "streams", f"k{k}", contender) or {}
            if "error" in case:
                row += ["failed", "", "", ""]
                continue
            if not complete(case):
                receiver = case.get("receiver") or {}
                got, want = receiver.get("received"), receiver.get("expected")
                row += [f"incomplete ({fmt(got)} of {fmt(want)})", "", "", ""]
                continue
            rate = _rate(data, k, contender)
            row += [fmt(rate), fmt(_cpu(data, k, contender)),
                    _ratio(rate, _rate(data, k, "sioadapter")),
                    _ratio(rate, _rate(data, k, "node-streams"))]  # fmt: skip
        rows.append(row)
    head = ["contender"]
    for k in (1, 100):
        head += [f"K={k} broadcasts/s", f"K={k} receiver CPU s / 10k",
                 f"K={k} / pub/sub", f"K={k} / Node streams"]  # fmt: skip
    parts += [table(head, rows), ""]
    rooms = [(c, get(data, "streams", "rooms", c) or {}) for c in ("sioadapter-streams",
                                                                   "sioadapter-csr")]  # fmt: skip
    rows = []
    for contender, case in rooms:
        changes = num(case.get("changes"))
        writes = num(case.get("redis_writes")) / changes if changes else None
        rows.append([STREAMS[contender], fmt(case.get("cpu_us_per_change")), fmt(writes)])
    parts += [
        f"Room changes ({ROOM_RATE:,.0f} joins and leaves a second over {ROOM_SOCKETS} local "
        "sockets): what persisting recovery sessions as they change costs the node, and the "
        "Redis writes (SET, PEXPIRE) it makes per change (coalesced within 50 ms).",
        "",
        table(["contender", "CPU µs per room change", "Redis writes per room change"], rows),
    ]
    return parts
