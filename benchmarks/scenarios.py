"""The benchmark scenarios: which node processes each one starts, with what, and what it keeps.

Contract: every function here runs one scenario for one contender on the Redis at ``url`` and
returns the node processes' results (the dicts they print). Each run uses a fresh channel key,
starts one OS process per node (:mod:`benchmarks.node_python`, :mod:`benchmarks.node_js`,
:mod:`benchmarks.raw_redis`), waits for every receiver to be subscribed before the sender
starts, warms every broadcast run up before measuring it (:mod:`benchmarks.warm`), and stops all
of its processes by PID before returning, also on errors. Every wait is bounded; a node that
fails or hangs raises :class:`~benchmarks.procs.ChildError`.

Contenders: ``sioadapter``, ``socketio`` (python-socketio's AsyncRedisManager) and ``node``
(@socket.io/redis-adapter); ``raw-single`` / ``raw-pipelined`` for raw redis-py pub/sub
(``raw-gevent``: sync redis-py under gevent);
``raw-nats`` / ``raw-postgres`` / ``raw-amqp`` for the other brokers' raw clients (the
backend family, :mod:`benchmarks.backend_suite`, where ``url`` is that broker's);
``sioadapter-sync`` / ``socketio-sync`` for sync servers (ClusterManager / RedisManager), and
``sioadapter-gevent`` / ``socketio-gevent`` for the same under gevent, in the throughput
scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import backend_suite, scaling_cluster, scaling_rooms, streams_suite
from .procs import Children
from .soak import soak

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
NODE_MODULES = ROOT / "tests" / "interop" / "node_modules"
CONTENDERS = ("sioadapter", "socketio", "node")
# raw-gevent: sync redis-py under gevent (benchmarks.raw_redis_gevent)
RAW_MODES = ("raw-single", "raw-pipelined", "raw-gevent")
# sync socketio.Server nodes (Flask-SocketIO's): threads, and greenlets under gevent
# (shell-gevent: the prototype of ClusterManager's other possible green shell, green_shell.py)
SYNC = ("sioadapter-sync", "socketio-sync", "sioadapter-gevent", "socketio-gevent", "shell-gevent")


@dataclass(frozen=True)
class Plan:
    """Sizes of one suite run (the same for every contender)."""

    n_k1: int = 50_000  # broadcasts, throughput at K=1
    n_k100: int = 20_000  # broadcasts, throughput at K=100
    n_idle: int = 20_000  # broadcasts, cost on a node with no member (flat out)
    rate: int = 2_000  # broadcasts per second, latency and fixed-rate cost
    seconds: float = 5.0  # duration at the fixed rate
    requests: int = 200  # sequential requests per operation
    sockets: int = 5  # sockets on each of the 3 nodes of the request scenario
    timeout: float = 180.0  # seconds any one node may take
    soak_requests: int = 100_000  # successful requests per kind, soak scenario
    soak_warmup: int = 10_000  # the first of them, before the first memory reading
    soak_batch: int = 1_000  # concurrent requests at a time
    soak_timeouts: int = 10_000  # concurrent requests nobody answers
    soak_timeout: float = 0.5  # their timeout, seconds
    soak_concurrent: int = 10_000  # fetch_sockets() at once
    soak_sockets: int = 2  # sockets on each of the 3 nodes of the soak scenario
    soak_seconds: float = 1800.0  # seconds the soaking node may take
    n_backend_k1: int = 50_000  # broadcasts, backend family, K=1
    n_backend_k100: int = 20_000  # broadcasts, backend family, K=100
    backend_repeats: int = 2  # runs of each backend case, the best kept (a busy machine)
    warm: int = 5_000  # unmeasured broadcasts before each broadcast run (benchmarks.warm)

    @property
    def n_rate(self) -> int:
        return int(self.rate * self.seconds)


QUICK = Plan(
    n_k1=2_000,
    n_k100=300,
    n_idle=2_000,
    seconds=1.0,
    requests=30,
    timeout=60.0,
    soak_requests=2_000,
    soak_warmup=500,
    soak_batch=500,
    soak_timeouts=500,
    soak_concurrent=1_000,
    soak_seconds=120.0,
    n_backend_k1=1_000,
    n_backend_k100=200,
    backend_repeats=1,
    warm=200,
)
SCENARIOS = (
    "throughput_k1",
    "throughput_k100",
    "drain_k1",
    "drain_k100",
    "idle",
    "idle_rate",
    "latency",
    "requests",
    "soak",
    "backends",
    "streams",
    "scaling",
    "scaling_rooms",
)
# the raw clients of the other brokers (benchmarks.backend_suite)
RAW_BROKERS = {
    "raw-nats": "benchmarks.raw_nats",
    "raw-postgres": "benchmarks.raw_postgres",
    "raw-postgres-each": "benchmarks.raw_postgres",
    "raw-amqp": "benchmarks.raw_amqp",
}


def _command(contender: str, cfg: dict[str, Any]) -> list[str]:
    if contender in ("node", "node-streams"):
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH")
        return [node, str(BENCH_DIR / "node_js.js"), json.dumps(cfg)]
    if contender in RAW_BROKERS:
        module = RAW_BROKERS[contender]
    elif contender == "raw-gevent":
        module = "benchmarks.raw_redis_gevent"
    elif contender.startswith("raw"):
        module = "benchmarks.raw_redis"
    elif contender.endswith("-sync"):
        module = "benchmarks.node_python_sync"
    elif contender.endswith("-gevent"):
        module = "benchmarks.node_python_gevent"
    else:
        module = "benchmarks.node_python"
    return [sys.executable, "-m", module, json.dumps(cfg)]


def check_node_modules() -> None:
    """Fail early, with the fix, when tests/interop's packages are not installed."""
    if not (NODE_MODULES / "@socket.io" / "redis-adapter").is_dir():
        raise RuntimeError(f"run `npm ci` in {NODE_MODULES.parent} first")
    os.environ["NODE_PATH"] = str(NODE_MODULES)


def broadcast(
    url: str,
    contender: str,
    plan: Plan,
    *,
    n: int,
    k: int,
    rate: float = 0.0,
    latency: bool = False,
    bystander: bool = False,
    paused: bool = False,
    key: str | None = None,
) -> dict[str, Any]:
    """Node A sends ``n`` broadcasts to room1 (flat out, or at ``rate``); node B holds ``k``
    sockets in room1; with ``bystander``, node C holds one socket in room2 only. With
    ``paused``, B is stopped (SIGSTOP) until A is done, so that B drains a full backlog: its
    delivery span then measures B alone. First the warm-up (:mod:`benchmarks.warm`): A sends
    ``plan.warm`` broadcasts (at most ``n``) flat out, and the measured run starts once every
    receiver got all of them.

    Returns ``{"sender": ..., "receiver": ..., "bystander": ..., "warmup": {"broadcasts",
    "seconds"}}`` (``warmup``: from the sender's ``ready`` to the last receiver's ``warmed``).
    """
    key = key or f"bench-{uuid.uuid4().hex[:8]}"
    # "redis" is the URL of any broker (the Python nodes pass it to AsyncClusterManager)
    base = {"contender": contender, "redis": url, "url": url, "key": key, "n": n}
    base["timeout"] = plan.timeout
    # never longer than the measured run (the quick plan's K=100 and RabbitMQ's shares)
    base["warm"] = warm = min(plan.warm, n)
    if contender.startswith("raw"):
        base["mode"] = contender.split("-", 1)[1]
    nodes = [("receiver", {"room": "room1", "k": k, "latency": latency})]
    if bystander:
        nodes.append(("bystander", {"room": "room2", "k": 1}))
    results: dict[str, Any] = {}
    with Children() as children:
        receivers = []
        for index, (name, extra) in enumerate(nodes, start=1):
            role = "subscriber" if contender.startswith("raw") else "receiver"
            cfg = {
                **base,
                **extra,
                "role": role,
                "expect_subscribers": index,
                "expect_readers": index,
            }
            child = children.start(f"{contender} {name}", _command(contender, cfg), cwd=str(ROOT))
            child.wait_for("ready", 60)
            receivers.append((name, child))
        role = "publisher" if contender.startswith("raw") else "sender"
        cfg = {**base, "role": role, "k": k, "rate": rate}
        sender = children.start(f"{contender} sender", _command(contender, cfg), cwd=str(ROOT))
        if warm:  # every warm delivery made before the measured run starts
            sender.wait_for("ready", 60)
            began = time.monotonic()
            sender.wait_for("warmed", plan.timeout)
            for _, child in receivers:
                child.wait_for("warmed", plan.timeout)
            # from the sender's ready line: what the warm-up adds to the run's wall time
            results["warmup"] = {"broadcasts": warm, "seconds": time.monotonic() - began}
        if paused:
            for _, child in receivers:
                os.kill(child.proc.pid, signal.SIGSTOP)
        if warm:
            sender.send("go")
        results["sender"] = sender.wait_for("result", plan.timeout + 30)
        if paused:
            time.sleep(0.2)  # the last messages reach Redis's buffer for B
            for _, child in receivers:
                os.kill(child.proc.pid, signal.SIGCONT)
        for name, child in receivers:
            results[name] = child.wait_for("result", plan.timeout + 30)
    return results


def requests(url: str, contender: str, plan: Plan) -> dict[str, Any]:
    """fetch_sockets and server_side_call from one node of three, each holding a few sockets.

    Returns the requester's ``{"fetch_sockets": summary, "server_side_call": summary}``.
    """
    key = f"bench-{uuid.uuid4().hex[:8]}"
    base = {"contender": contender, "redis": url, "key": key, "sockets": plan.sockets}
    with Children() as children:
        for name in ("responder1", "responder2"):
            cfg = {**base, "role": "responder", "name": name}
            child = children.start(f"{contender} {name}", _command(contender, cfg), cwd=str(ROOT))
            child.wait_for("ready", 60)
        cfg = {**base, "role": "requester", "nodes": 3, "requests": plan.requests}
        child = children.start(f"{contender} requester", _command(contender, cfg), cwd=str(ROOT))
        child.wait_for("ready", 60)
        result: dict[str, Any] = child.wait_for("result", plan.timeout)
    return result


def run_suite(
    url: str, plan: Plan, log: Any = print, only: Collection[str] | None = None
) -> dict[str, Any]:
    """Every scenario for every contender, in one run (or only the scenarios named in
    ``only``); returns the results by scenario (every name of :data:`SCENARIOS`, empty when
    not run)."""
    out: dict[str, Any] = {name: {} for name in SCENARIOS}
    wanted = set(SCENARIOS if only is None else only)

    def step(label: str, run: Any) -> Any:
        log(f"  {label} ...")
        return run()

    if "throughput_k1" in wanted:
        for contender in (*CONTENDERS, *RAW_MODES, *SYNC):
            out["throughput_k1"][contender] = step(
                f"throughput K=1, N={plan.n_k1:,}: {contender}",
                lambda c=contender: broadcast(url, c, plan, n=plan.n_k1, k=1),
            )
    if "throughput_k100" in wanted:
        for contender in (*CONTENDERS, *SYNC):
            out["throughput_k100"][contender] = step(
                f"throughput K=100, N={plan.n_k100:,}: {contender}",
                lambda c=contender: broadcast(url, c, plan, n=plan.n_k100, k=100),
            )
    for k, n in ((1, plan.n_k1), (100, plan.n_k100)):
        for contender in CONTENDERS if f"drain_k{k}" in wanted else ():
            out[f"drain_k{k}"][contender] = step(
                f"receiver drain, K={k}, N={n:,}: {contender}",
                lambda c=contender, k=k, n=n: broadcast(url, c, plan, n=n, k=k, paused=True),
            )
    for contender in (*CONTENDERS, "sioadapter-rooms") if "idle" in wanted else ():
        out["idle"][contender] = step(
            f"node with no member, N={plan.n_idle:,} flat out: {contender}",
            lambda c=contender: broadcast(url, c, plan, n=plan.n_idle, k=1, bystander=True),
        )
    for contender in (*CONTENDERS, "sioadapter-rooms") if "idle_rate" in wanted else ():
        out["idle_rate"][contender] = step(
            f"node with no member, {plan.rate:,}/s for {plan.seconds:g} s: {contender}",
            lambda c=contender: broadcast(
                url, c, plan, n=plan.n_rate, k=1, rate=plan.rate, bystander=True
            ),
        )
    for contender in CONTENDERS if "latency" in wanted else ():
        out["latency"][contender] = step(
            f"latency, {plan.rate:,}/s for {plan.seconds:g} s: {contender}",
            lambda c=contender: broadcast(
                url, c, plan, n=plan.n_rate, k=1, rate=plan.rate, latency=True
            ),
        )
    # python-socketio has no cluster requests
    for contender in ("sioadapter", "node") if "requests" in wanted else ():
        out["requests"][contender] = step(
            f"requests over 3 nodes, {plan.requests} each: {contender}",
            lambda c=contender: requests(url, c, plan),
        )
    if "soak" in wanted:
        out["soak"]["sioadapter"] = step(
            f"soak over 3 nodes, {plan.soak_requests:,} requests per kind, "
            f"{plan.soak_timeouts:,} timed out, {plan.soak_concurrent:,} at once: sioadapter",
            lambda: soak(url, plan, str(ROOT)),
        )
    if "backends" in wanted:
        log("  backends: cross-node throughput over each broker, and its raw client")
        out["backends"] = backend_suite.run(url, plan, broadcast, log)
    if "streams" in wanted:
        log("  streams: the streams protocol, Node's streams adapter, recovery's cost")
        out["streams"] = streams_suite.run(url, plan, broadcast, _command, log, str(ROOT))
    if "scaling" in wanted:
        log("  scaling: nodes in the cluster, payload size, max_message_size")
        out["scaling"] = scaling_cluster.run(url, plan, log)
    if "scaling_rooms" in wanted:
        log("  scaling: rooms per node, sockets per room, sockets in the cluster")
        out["scaling_rooms"] = scaling_rooms.run(url, plan, log)
    return out
