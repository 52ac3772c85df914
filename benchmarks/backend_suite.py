"""The backend family: cross-node throughput of sioadapter over each broker, against that
broker's raw client, in one run.

Contract: :func:`run` measures, for each broker of :data:`benchmarks.brokers.BACKENDS`
(Redis: the run's private redis-server; NATS: a private nats-server; PostgreSQL and RabbitMQ:
the machine's services), at K=1 and K=100 (K: sockets of the receiving node in the room, as
in every throughput scenario), the scenario of :func:`benchmarks.scenarios.broadcast`: node A
broadcasts N times to a room, node B delivers to its K sockets, one OS process each. The
contenders are ``sioadapter`` (``AsyncClusterManager(url)``, the backend chosen by the URL's
scheme; on Redis also ``sioadapter-cluster``, with ``protocol="cluster"``, the wire family
the other backends use) and ``raw``, the broker's own Python client doing the same
publish/subscribe work (:mod:`benchmarks.raw_redis` pipelined, :mod:`benchmarks.raw_nats`,
:mod:`benchmarks.raw_postgres`, :mod:`benchmarks.raw_amqp`), whose subscriber hands each
message to K sockets through the receivers' counting stub
(:class:`benchmarks.raw_common.Tally`); on PostgreSQL also ``raw-each``, that client with a
transaction per message, as the backend sent them before it shared transactions (now a new
one only before a duplicate message).

Results: ``{broker: {"broker": shown URL, "n_k1": N, "k1": {contender: result}, "n_k100": N,
"k100": {...}}}`` (N: the plan's, times the broker's :data:`SHARE`), where
a result is what :func:`~benchmarks.scenarios.broadcast` returns for the best of the plan's
``backend_repeats`` runs (the highest end-to-end rate; the contenders take turns, and
``runs`` lists every run's rate), or ``{"missing": why}``
when the contender cannot run here (its text follows ``n/a`` on the page: the backend's entry
point or the client library is not installed, the broker is not reachable), or ``{"error":
text}`` when a node failed: the other cases still run, and :func:`failures` lists the failed
ones (the command then exits with status 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from .brokers import (
    AMQP_URL,
    BACKENDS,
    POSTGRES_URL,
    TITLES,
    missing_backend,
    missing_broker,
    missing_raw,
    private_nats,
    shown,
)
from .procs import ChildError

KS = (1, 100)
# The share of the plan's N each broker gets: RabbitMQ through aio-pika moves ~5-10k
# messages/s here, so its runs would take most of the family's time at the full N.
SHARE = {"redis": 1.0, "nats": 1.0, "postgres": 1.0, "amqp": 0.2}


def size(plan: Any, name: str, k: int) -> int:
    """N for this broker and K."""
    n = plan.n_backend_k1 if k == 1 else plan.n_backend_k100
    return max(1, int(n * SHARE[name]))


CLUSTER = "sioadapter-cluster"  # Redis with the ClusterAdapter protocol, the others' family
EACH = "raw-each"  # PostgreSQL's raw client with a transaction per message


def contenders(name: str) -> tuple[str, ...]:
    """sioadapter, on Redis also with ``protocol="cluster"`` (the wire family of every other
    backend: what separates the backend's cost from the protocol's), then the raw client."""
    if name == "redis":
        return ("sioadapter", CLUSTER, "raw")
    if name == "postgres":  # also the raw client with a transaction per message
        return ("sioadapter", "raw", EACH)
    return ("sioadapter", "raw")


def raw_contender(name: str) -> str:
    """The contender name :func:`benchmarks.scenarios.broadcast` knows the raw client by."""
    return "raw-pipelined" if name == "redis" else f"raw-{name}"


def _url(name: str, redis_url: str, stack: contextlib.ExitStack) -> str | None:
    if name == "redis":
        return redis_url
    if name == "nats":
        if missing_broker("nats", "nats://") is not None:
            return None
        return stack.enter_context(private_nats())
    return POSTGRES_URL if name == "postgres" else AMQP_URL


def _measure(
    url: str,
    name: str,
    contender: str,
    plan: Any,
    n: int,
    k: int,
    broadcast: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    runner = {"raw": raw_contender(name), EACH: f"{raw_contender(name)}-each"}.get(
        contender, contender
    )
    key = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        return broadcast(url, runner, plan, n=n, k=k, key=key)
    except ChildError as error:
        text = str(error)
        return {"error": text.splitlines()[0] if text else "failed"}
    finally:
        if name == "amqp" and not runner.startswith("raw"):
            # The backend's exchange outlives its nodes (it is not auto-deleted): remove it.
            with contextlib.suppress(Exception):
                asyncio.run(_delete_exchange(url, f"sioadapter.{key}"))


async def _delete_exchange(url: str, name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url, timeout=5)
    try:
        channel = await connection.channel()
        await channel.exchange_delete(name)
    finally:
        await connection.close()


def _rate(case: dict[str, Any] | None) -> float:
    rate = ((case or {}).get("receiver") or {}).get("broadcasts_per_s")
    return float(rate) if isinstance(rate, (int, float)) else -1.0


def _best(kept: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Of the runs so far, the one with the highest end-to-end rate (a failed run wins, so
    that it is reported); ``runs`` lists every run's rate, and ``warmup`` its ``seconds``
    adds up every run's warm-up (what the case cost, :mod:`benchmarks.warm`)."""
    runs = [*(kept or {}).get("runs", []), round(_rate(new))]
    best = new if "error" in new or kept is None or _rate(new) > _rate(kept) else kept
    out = {**best, "runs": runs}
    warmups = [w for w in ((kept or {}).get("warmup"), new.get("warmup")) if w]
    if warmups:
        out["warmup"] = {**warmups[-1], "seconds": sum(w["seconds"] for w in warmups)}
    return out


def run(
    redis_url: str, plan: Any, broadcast: Callable[..., dict[str, Any]], log: Any = print
) -> dict[str, Any]:
    """Every broker, both K, both contenders; ``broadcast`` is
    :func:`benchmarks.scenarios.broadcast` (passed in: scenarios imports this module)."""
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        for name in BACKENDS:
            url = _url(name, redis_url, stack)
            entry: dict[str, Any] = {"broker": shown(url) if url else "n/a"}
            out[name] = entry
            broker = missing_broker(name, url)
            ours = broker or missing_backend(name)
            raw = broker or missing_raw(name)
            why = {"sioadapter": ours, CLUSTER: ours, "raw": raw, EACH: raw}
            for k in KS:
                entry[f"n_k{k}"] = n = size(plan, name, k)
                cases = entry[f"k{k}"] = {}
                for contender in contenders(name):
                    if why[contender] is not None:
                        log(f"  {TITLES[name]}, K={k}: {contender}: n/a ({why[contender]})")
                        cases[contender] = {"missing": why[contender]}
                # the contenders take turns, so that a busy moment of the machine hits each
                for turn in range(max(1, plan.backend_repeats)):
                    for contender in contenders(name):
                        if why[contender] is None and "error" not in cases.get(contender, {}):
                            assert url is not None
                            log(f"  {TITLES[name]}, throughput K={k}, N={n:,}, "
                                f"run {turn + 1}: {contender} ...")  # fmt: skip
                            case = _measure(url, name, contender, plan, n, k, broadcast)
                            if "error" in case:
                                log(f"    failed: {case['error']}")
                            cases[contender] = _best(cases.get(contender), case)
    return out


def failures(results: dict[str, Any]) -> list[str]:
    """``"<broker> K=<k> <contender>: <error>"`` for each case whose node failed."""
    return [
        f"{name} {k} {contender}: {case['error']}"
        for name, entry in results.items()
        for k in ("k1", "k100")
        for contender, case in (entry.get(k) or {}).items()
        if isinstance(case, dict) and "error" in case
    ]
