"""How the cost of a node grows with its rooms, with the sockets of a room, and how cluster
requests grow with the sockets of the cluster.

Contract: :func:`run` returns ``{"nproc", "full", "rooms": {contender: dim}, "clients":
{contender: dim}, "fetch": {contender: dim}}`` on the Redis at ``url``, where ``dim`` is
``{"levels": {str(size): case}}`` plus ``"error"`` when a node failed (the levels measured
before stay). Each dimension reuses its processes from the smallest size to the largest
(:mod:`benchmarks.scale_node` grows on command), except Node's, started afresh per size
(:mod:`benchmarks.node_js`, which starts in a fraction of a second).

* ``rooms`` (sioadapter, sioadapter with ``subscription_mode="dynamic-private"``,
  python-socketio): node B holds R rooms, ``min(R, 100)`` sockets each in R/100 of them (room
  i joined by socket i mod 100: the rooms' cost, not the sockets'). Per size: the time to
  create (and in dynamic-private mode subscribe) the rooms, B's RSS growth from before its
  first room, Redis's channel count, and B's CPU while node A broadcasts to room1, which B
  has no member in, at ``rate``/s for ``seconds`` (scenarios.broadcast's bystander). A size
  whose rooms would take longer than a budget to create (projected from the time per room so
  far: dynamic-private subscribes one room at a time) is kept as ``{"skipped",
  "projected_s"}``.
* ``clients`` (sioadapter, python-socketio, Node): K sockets in room1 on B, A broadcasting
  flat out; N shrinks as K grows (a delivery budget) so that each case stays short.
  Deliveries/s from A's first emit to B's last delivery, and B's CPU per delivery.
* ``fetch`` (sioadapter, Node; python-socketio has none): T sockets spread evenly over 2
  nodes; the median and p99 of a few fetch_sockets() (every socket of the cluster, half of
  them over Redis; the scale_nodes' ``ctl`` sockets add one per node) and server_count()
  calls: as many as fit a time budget per size (:func:`calls_for`, projected from the sizes
  before), after one warm-up call when it fits; a size whose single call is projected over
  the budget is kept as ``{"skipped", "projected_s"}``, a limit. Requests may take 60 s and
  sioadapter's ``max_message_size`` is lifted, so that the limits are read off the figures
  (the defaults are 5 s and 1 MiB, see the page's sentence): ``redis_in_bytes``, what Redis
  read meanwhile, gives the answers' bytes a socket.

Every node is stopped by PID (procs.Children), also on errors; every wait is bounded.
:func:`sections` and :func:`draw` come from :mod:`benchmarks.scaling_rooms_report`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .procs import Child, Children
from .scaling_rooms_report import FETCH_NODES, KEY, draw, sections

__all__ = ["KEY", "draw", "run", "sections", "sizes"]
BENCH_DIR = Path(__file__).resolve().parent
NODE_MODULES = BENCH_DIR.parent / "tests" / "interop" / "node_modules"
ROOM_SOCKETS = 100  # sockets of node B in the rooms dimension, at most
REQUESTS_TIMEOUT = 60.0


def sizes(full: bool) -> dict[str, Any]:
    """The run's dimensions; quick keeps the small end of each."""
    if full:
        return {"rooms": (1, 100, 10_000, 100_000), "seconds": 1.0,
                "clients": (1, 10, 100, 1_000, 10_000), "budget": 200_000, "most": 3_000,
                "least": 20, "fetch": (100, 1_000, 10_000, 100_000), "calls": 5,
                "fetch_budget": 10.0, "rooms_budget": 40.0}  # fmt: skip
    return {"rooms": (1, 100, 1_000), "seconds": 0.3, "clients": (1, 100), "budget": 20_000,
            "most": 1_000, "least": 20, "fetch": (100, 1_000), "calls": 5,
            "fetch_budget": 3.0, "rooms_budget": 10.0}  # fmt: skip


def broadcasts(k: int, dims: dict[str, Any]) -> int:
    """Broadcasts to K sockets: a delivery budget, between ``least`` and ``most``."""
    return int(max(dims["least"], min(dims["most"], dims["budget"] // k)))


def _python(cfg: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "benchmarks.scale_node", json.dumps(cfg)]


def _node(cfg: dict[str, Any]) -> list[str]:
    return ["node", str(BENCH_DIR / "node_js.js"), json.dumps(cfg)]


def ask(child: Child, answer: str, timeout: float, **cmd: Any) -> Any:
    """One command to a scale_node, and its answer."""
    assert child.proc.stdin is not None
    child.proc.stdin.write((json.dumps(cmd) + "\n").encode())
    child.proc.stdin.flush()
    return child.wait_for(answer, timeout)


class Family:
    """The run's settings, and one dimension's nodes started in a fresh key."""

    def __init__(self, url: str, plan: Any, log: Callable[[str], None]) -> None:
        self.url, self.plan, self.log = url, plan, log
        self.cwd = str(BENCH_DIR.parent)
        self.full = plan.n_k1 >= 10_000
        self.dims = sizes(self.full)
        self.timeout = float(plan.timeout)

    def base(self, contender: str) -> dict[str, Any]:
        return {"contender": contender, "redis": self.url, "url": self.url,
                "key": f"bench-{uuid.uuid4().hex[:8]}", "timeout": self.timeout,
                "requests_timeout": REQUESTS_TIMEOUT}  # fmt: skip

    def start(self, children: Children, name: str, cfg: dict[str, Any], index: int) -> Child:
        child = children.start(name, _python({**cfg, "expect_subscribers": index}), self.cwd)
        child.wait_for("ready", 60)
        return child

    def channels(self) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return len(client.pubsub_channels())
        finally:
            client.close()

    def bytes_in(self) -> int:
        """What Redis has read from its clients so far: around fetch calls, mostly their
        answers (what max_message_size limits)."""
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.info("stats")["total_net_input_bytes"])
        finally:
            client.close()

    def rooms(self, contender: str) -> dict[str, Any]:
        out: dict[str, Any] = {"levels": {}}
        base = self.base(contender)
        rate = float(self.plan.rate)
        n = int(rate * self.dims["seconds"])
        with Children() as children:
            b = self.start(children, "bystander", base, 1)
            a = self.start(children, "sender", base, 2)
            out["base_rss_mb"] = ask(b, "grown", 30, op="rooms", rooms=0, sockets=0)["rss_mb"]
            total, made = 0.0, 0
            for r in self.dims["rooms"]:
                # the time to create grows with the rooms: past the budget, a limit, not run
                projected = total / made * (r - made) if made else 0.0
                if projected > self.dims["rooms_budget"]:
                    out["levels"][str(r)] = {"skipped": True, "projected_s": total + projected}
                    continue
                made = r
                self.log(f"  scaling rooms: {r:,} rooms on one node: {contender} ...")
                grown = ask(b, "grown", self.timeout, op="rooms", rooms=r,
                            sockets=min(r, ROOM_SOCKETS))  # fmt: skip
                total += grown["seconds"]
                sent = ask(a, "sent", self.timeout, op="send", n=n, rate=rate, room="room1")
                window = b.wait_for("window", 30)
                out["levels"][str(r)] = {
                    **grown, "create_s": total, "rss_growth_mb": grown["rss_mb"] -
                    out["base_rss_mb"], "channels": self.channels(), "n": n, "rate": rate,
                    "sent": sent, "window": window,
                    "cpu_per_10k": window["cpu_s"] / n * 10_000,
                }  # fmt: skip
        return out

    def clients(self, contender: str) -> dict[str, Any]:
        out: dict[str, Any] = {"levels": {}}
        if contender == "node":
            for k in self.dims["clients"]:
                out["levels"][str(k)] = self.node_clients(k)
            return out
        base = self.base(contender)
        with Children() as children:
            b = self.start(children, "receiver", base, 1)
            a = self.start(children, "sender", base, 2)
            for k in self.dims["clients"]:
                n = broadcasts(k, self.dims)
                self.log(f"  scaling clients: {k:,} sockets in the room, N={n:,}: {contender} ...")
                grown = ask(b, "grown", self.timeout, op="sockets", count=k, room="room1")
                sent = ask(a, "sent", self.timeout, op="send", n=n, rate=0, room="room1")
                window = b.wait_for("window", self.timeout)
                out["levels"][str(k)] = {"n": n, "k": k, "grown": grown, "sent": sent,
                                         **_delivery(window)}  # fmt: skip
        return out

    def node_clients(self, k: int) -> dict[str, Any]:
        n = broadcasts(k, self.dims)
        self.log(f"  scaling clients: {k:,} sockets in the room, N={n:,}: node ...")
        base = {**self.base("node"), "n": n, "k": k}
        with Children() as children:
            cfg = {**base, "role": "receiver", "room": "room1"}
            b = children.start("node receiver", _node(cfg), self.cwd)
            b.wait_for("ready", 60)
            tx = children.start("node sender", _node({**base, "role": "sender"}), self.cwd)
            sent = tx.wait_for("result", self.timeout + 30)
            rx = b.wait_for("result", self.timeout + 30)
        window = {"cpu_s": rx["cpu_s"], "delivered": rx["received"], "expected": rx["expected"],
                  "complete": rx["complete"], "seconds": rx["seconds"]}  # fmt: skip
        return {"n": n, "k": k, "sent": sent, **_delivery(window)}

    def fetch(self, contender: str) -> dict[str, Any]:
        out: dict[str, Any] = {"levels": {}}
        levels = out["levels"]
        base = {**self.base(contender), "max_message_size": None}
        with Children() as children:
            nodes = []
            if contender != "node":  # one cluster of scale_nodes grows through the sizes
                nodes = [self.start(children, f"node{i}", base, 1) for i in range(FETCH_NODES)]
            for t in self.dims["fetch"]:
                calls = calls_for(levels, t, self.dims["calls"], self.dims["fetch_budget"])
                if "skipped" in calls:
                    levels[str(t)] = calls
                    continue
                self.log(f"  scaling fetch: {t:,} sockets over {FETCH_NODES} nodes, "
                         f"{calls['calls']} calls: {contender} ...")  # fmt: skip
                if contender == "node":
                    before = self.bytes_in()
                    levels[str(t)] = self.node_fetch(t, calls)
                    levels[str(t)]["redis_in_bytes"] = self.bytes_in() - before
                    continue
                for node in nodes:
                    ask(node, "grown", self.timeout, op="sockets", count=t // FETCH_NODES,
                        room="r")  # fmt: skip
                total = t // FETCH_NODES * FETCH_NODES + FETCH_NODES  # the ctl sockets too
                before = self.bytes_in()
                got = ask(nodes[0], "fetched", self.timeout, op="fetch", total=total,
                          nodes=FETCH_NODES, budget=self.dims["fetch_budget"], **calls)  # fmt: skip
                levels[str(t)] = {**calls, **got, "calls": got["fetch_sockets"]["n"],
                                  "redis_in_bytes": self.bytes_in() - before}  # fmt: skip
        return out

    def node_fetch(self, t: int, calls: dict[str, Any]) -> dict[str, Any]:
        base = {**self.base("node"), "sockets": t // FETCH_NODES}
        with Children() as children:
            for i in range(1, FETCH_NODES):
                cfg = {**base, "role": "responder", "name": f"node{i}"}
                children.start(f"node responder{i}", _node(cfg), self.cwd).wait_for("ready", 60)
            cfg = {**base, "role": "requester", "nodes": FETCH_NODES,
                   "requests": calls["calls"], "warmup": calls["warmup"],
                   "ops": ["fetch_sockets", "server_count"]}  # fmt: skip
            child = children.start("node requester", _node(cfg), self.cwd)
            child.wait_for("ready", 60)
            result: dict[str, Any] = child.wait_for("result", self.timeout)
        return {**calls, **result, "calls": result["fetch_sockets"]["n"]}


def calls_for(levels: dict[str, Any], t: int, most: int, budget: float) -> dict[str, Any]:
    """How many fetch_sockets() calls fit the size's time budget, projected from the sizes
    measured before (the growth exponent of the last two, at least linear): ``{"warmup",
    "calls"}``, or ``{"skipped", "projected_s"}`` when even one call would take longer than
    the budget (a limit: the figures stop there)."""
    done = sorted((int(x), num_ms(c)) for x, c in levels.items() if num_ms(c) > 0)
    if not done:
        return {"warmup": 1, "calls": most}
    (t2, m2), slope = done[-1], 1.0
    if len(done) >= 2:
        (t1, m1) = done[-2]
        slope = min(2.5, max(1.0, math.log(m2 / m1) / math.log(t2 / t1)))
    projected = m2 / 1000 * (t / t2) ** slope  # seconds a call
    if projected > budget:
        return {"skipped": True, "projected_s": projected}
    calls = max(1, min(most, int(budget / projected) - 1))
    return {"warmup": 1 if projected * (calls + 1) <= budget else 0, "calls": calls}


def num_ms(case: dict[str, Any]) -> float:
    value = (case.get("fetch_sockets") or {}).get("p50")
    return float(value) if isinstance(value, (int, float)) and value == value else math.nan


def _delivery(window: dict[str, Any]) -> dict[str, Any]:
    delivered, seconds, cpu = window["delivered"], window["seconds"], window["cpu_s"]
    return {"window": window, "complete": bool(window["complete"]),
            "deliveries_per_s": delivered / seconds if delivered and seconds > 0 else 0.0,
            "cpu_us_per_delivery": cpu / delivered * 1e6 if delivered else None}  # fmt: skip


PARTS = {
    "rooms": ("sioadapter", "sioadapter-rooms", "socketio"),
    "clients": ("sioadapter", "socketio", "node"),
    "fetch": ("sioadapter", "node"),
}


def run(url: str, plan: Any, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every dimension for its contenders; a node that fails ends that contender's dimension
    there, kept as ``"error"`` beside the sizes already measured."""
    os.environ.setdefault("NODE_PATH", str(NODE_MODULES))  # as scenarios.check_node_modules
    family = Family(url, plan, log)
    out: dict[str, Any] = {"nproc": os.cpu_count(), "full": family.full}
    for part, contenders in PARTS.items():
        out[part] = {}
        for contender in contenders:
            try:
                out[part][contender] = getattr(family, part)(contender)
            except Exception as error:  # one failed contender does not stop the family
                out[part][contender] = {"levels": {}, "error": str(error)[:2000]}
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.scaling_rooms [--quick] [--json PATH] [--png PATH]``: this
    family alone (:mod:`benchmarks.alone`)."""
    from . import alone

    return alone.main("benchmarks.scaling_rooms", KEY, run, sections, draw, argv)


if __name__ == "__main__":
    sys.exit(main())
