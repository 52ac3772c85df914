"""How the cost of a cluster grows: with the number of nodes, and with the payload's size.

Contract: :func:`run` returns ``{"nproc", "full", "nodes": {contender: {"2": case, ...}},
"payload": {contender: {"100": case, ...}}, "limit": case}`` for sioadapter, python-socketio's
AsyncRedisManager and Node's @socket.io/redis-adapter, on the Redis at ``url``.

* ``nodes``: a cluster of 2, 4 or 8 node processes on this machine, one sender and the rest
  receivers, each receiver holding one socket in room1 (K=1). The cluster's throughput is N
  divided by the time from the sender's first emit to the *last* receiver's last delivery.
* ``payload``: two nodes, each broadcast padded with a 100 B ... 1 MB string; fewer broadcasts
  at large sizes (a byte budget), so that each case stays short.
* ``limit``: sioadapter's ``max_message_size`` (default 1 MiB; an emit whose encoded message
  is larger raises ``MessageTooLargeError`` before anything is published): the sender,
  configured with a small limit, first tries one broadcast above it, then sends N ordinary
  ones to a receiver that has no limit, so that a published oversized message would show as
  one delivery too many.

A case is :func:`cluster`'s ``{"n", "payload", "sender", "receivers": [...]}`` or
``{"error"}``; its figures count only when every receiver got every broadcast
(:func:`complete`). :func:`sections` (the page's part: tables, and sentences computed from
the figures) and :func:`draw` (its chart) come from :mod:`benchmarks.scaling_report`.
Every node is stopped by PID (procs.Children), also on errors; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .procs import Children
from .scaling_report import CONTENDERS, KEY, complete, draw, sections, size_name

__all__ = ["KEY", "cluster", "complete", "draw", "run", "sections"]
BENCH_DIR = Path(__file__).resolve().parent
NODE_MODULES = BENCH_DIR.parent / "tests" / "interop" / "node_modules"
SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)  # bytes of padding per broadcast
LIMIT = 16_384  # the sender's max_message_size in the limit case
LIMIT_PAYLOAD = 1_000  # ordinary broadcasts of the limit case


def sizes(full: bool) -> dict[str, Any]:
    """The run's dimensions: node counts, payload sizes and their broadcast counts."""
    if full:
        return {
            "nodes": (2, 4, 8),
            "n_nodes": 10_000,
            "sizes": SIZES,
            "budget": 50_000_000,
            "most": 10_000,
            "least": 100,
        }
    # quick: a smoke test of every path, under ~20 s (the ends of each dimension)
    return {
        "nodes": (2, 4),
        "n_nodes": 1_000,
        "sizes": (100, 10_000, 1_000_000),
        "budget": 10_000_000,
        "most": 1_000,
        "least": 20,
    }


def count(size: int, dims: dict[str, Any]) -> int:
    """Broadcasts of ``size`` bytes: a byte budget, between ``least`` and ``most``."""
    return int(max(dims["least"], min(dims["most"], dims["budget"] // size)))


def command(contender: str, cfg: dict[str, Any]) -> list[str]:
    """The node program of a contender (the subset of scenarios._command this module uses:
    importing scenarios would be an import cycle once it lists this family)."""
    if contender == "node":
        return [shutil.which("node") or "node", str(BENCH_DIR / "node_js.js"), json.dumps(cfg)]
    return [sys.executable, "-m", "benchmarks.node_python", json.dumps(cfg)]


def cluster(
    url: str,
    contender: str,
    plan: Any,
    *,
    nodes: int,
    n: int,
    payload: int = 0,
    sender: dict[str, Any] | None = None,
    receiver: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """scenarios.broadcast's pattern over ``nodes`` processes: ``nodes - 1`` receivers (one
    socket in room1 each), then one sender of ``n`` broadcasts. The receivers start at once,
    each waiting until Redis counts all ``nodes - 1`` of them subscribed (so each knows it is
    itself subscribed, as broadcast()'s ``expect_subscribers=index`` does one at a time)."""
    os.environ.setdefault("NODE_PATH", str(NODE_MODULES))  # as scenarios.check_node_modules
    key = f"bench-{uuid.uuid4().hex[:8]}"
    base = {
        "contender": contender,
        "redis": url,
        "url": url,
        "key": key,
        "n": n,
        "timeout": plan.timeout,
        "payload": payload,
    }
    cwd = str(BENCH_DIR.parent)
    with Children() as children:
        started = []
        for i in range(1, nodes):
            cfg = {
                **base,
                **(receiver or {}),
                "role": "receiver",
                "room": "room1",
                "k": 1,
                "expect_subscribers": nodes - 1,
            }
            started.append(children.start(f"{contender} receiver{i}", command(contender, cfg), cwd))
        for child in started:
            child.wait_for("ready", 60)
        cfg = {**base, **(sender or {}), "role": "sender", "k": 1}
        tx = children.start(f"{contender} sender", command(contender, cfg), cwd)
        out = {"n": n, "payload": payload, "sender": tx.wait_for("result", plan.timeout + 30)}
        out["receivers"] = [child.wait_for("result", plan.timeout + 30) for child in started]
    return out


def run(url: str, plan: Any, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every case (see the module docstring); a case that fails is kept as ``{"error"}``."""
    full = plan.n_k1 >= 10_000
    dims = sizes(full)
    out: dict[str, Any] = {"nproc": os.cpu_count(), "full": full, "nodes": {}, "payload": {}}

    def case(label: str, contender: str, **kwargs: Any) -> dict[str, Any]:
        log(f"  scaling: {label}: {contender} ...")
        try:
            return cluster(url, contender, plan, **kwargs)
        except Exception as error:  # one failed case does not stop the family
            return {"error": str(error)}

    for contender in CONTENDERS:
        out["nodes"][contender] = {
            str(m): case(f"{m} nodes, N={dims['n_nodes']:,}", contender, nodes=m, n=dims["n_nodes"])
            for m in dims["nodes"]
        }
    for contender in CONTENDERS:
        out["payload"][contender] = {
            str(s): case(
                f"{size_name(s)} payload, N={count(s, dims):,}",
                contender,
                nodes=2,
                n=count(s, dims),
                payload=s,
            )
            for s in dims["sizes"]
        }
    out["limit"] = case(
        f"max_message_size={LIMIT:,}, one broadcast of {2 * LIMIT:,} B",
        "sioadapter",
        nodes=2,
        n=100,
        payload=LIMIT_PAYLOAD,
        sender={"max_message_size": LIMIT, "oversize": 2 * LIMIT},
        receiver={"max_message_size": None},
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.scaling_cluster [--quick] [--json PATH] [--png PATH]``: this
    family alone (:mod:`benchmarks.alone`)."""
    from . import alone

    return alone.main("benchmarks.scaling_cluster", KEY, run, sections, draw, argv)


if __name__ == "__main__":
    sys.exit(main())
