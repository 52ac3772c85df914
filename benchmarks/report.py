"""The results file (Markdown), from one suite run's results.

Contract: :func:`markdown` returns the whole page, for a user first: the headline figures
(`benchmarks.chart.HEADLINE`) as a small table and the headline chart, then date, machine,
command, the ratio tables of :mod:`benchmarks.ratios`, the detail chart, how it is measured,
then one table of absolute figures per scenario for every contender. A missing figure shows as
``n/a``. Nothing here measures; the charts are :mod:`benchmarks.chart`'s.
"""

from __future__ import annotations

import math
from typing import Any

from . import backend_report, scaling_cluster, scaling_rooms, scaling_summary, streams_suite
from .chart import HEADLINE, THREE
from .ratios import NAMES, RATE, SHORT, SOAK_KINDS, fmt, get, num, ratio_table, table


def delivered(data: dict[str, Any], scenario: str, contender: str) -> str:
    got = get(data, scenario, contender, "receiver", "received")
    want = get(data, scenario, contender, "receiver", "expected")
    complete = get(data, scenario, contender, "receiver", "complete")
    return f"{fmt(got)} / {fmt(want)}" + ("" if complete else " (incomplete)")


def _present(data: dict[str, Any], scenario: str) -> list[str]:
    return [c for c in NAMES if get(data, scenario, c)]


def _throughput(data: dict[str, Any], scenario: str, title: str) -> list[str]:
    head = [
        "contender",
        "broadcasts/s, end to end",
        "deliveries/s, end to end",
        "broadcasts/s over B's delivery span",
        "receiver CPU s / 10k broadcasts",
        "sender emit time s",
        "delivered / expected",
    ]
    rows = [
        [
            NAMES[c],
            fmt(get(data, scenario, c, "receiver", "broadcasts_per_s")),
            fmt(get(data, scenario, c, "receiver", "deliveries_per_s")),
            fmt(get(data, scenario, c, "receiver", "span_broadcasts_per_s")),
            fmt(get(data, scenario, c, "receiver", "cpu_per_10k")),
            fmt(get(data, scenario, c, "sender", "send_seconds")),
            delivered(data, scenario, c),
        ]
        for c in _present(data, scenario)
    ]
    return ["", f"## {title}", "", table(head, rows)]


def _drain(data: dict[str, Any], scenario: str, title: str, k: int) -> list[str]:
    head = [
        "contender",
        "broadcasts/s",
        "deliveries/s",
        "receiver CPU s / 10k broadcasts",
        "delivered / expected",
    ]
    rows = []
    for c in _present(data, scenario):
        rate = num(get(data, scenario, c, "receiver", "span_broadcasts_per_s"))
        cpu = get(data, scenario, c, "receiver", "cpu_per_10k")
        rows.append([NAMES[c], fmt(rate), fmt(rate * k), fmt(cpu), delivered(data, scenario, c)])
    return ["", f"## {title}", "", table(head, rows)]


def _idle(data: dict[str, Any], scenario: str, title: str) -> list[str]:
    head = [
        "contender",
        "delivering node: CPU s / 10k broadcasts",
        "node with no member: CPU s / 10k broadcasts",
        "no member / delivering",
        "delivered / expected",
    ]
    rows = []
    for c in _present(data, scenario):
        deliver = num(get(data, scenario, c, "receiver", "cpu_per_10k"))
        idle = num(get(data, scenario, c, "bystander", "cpu_per_10k"))
        share = idle / deliver if deliver else math.nan
        rows.append([NAMES[c], fmt(deliver), fmt(idle), fmt(share), delivered(data, scenario, c)])
    return ["", f"## {title}", "", table(head, rows)]


def _mb(value: Any) -> str:
    return fmt(num(value) / 1e6)


def _gauges(snaps: Any) -> str:
    """Gauges summed over snapshots: ``0`` when all are, else the ones that are not."""
    if isinstance(snaps, dict):
        snaps = [snaps]
    if not isinstance(snaps, list) or not snaps:
        return "n/a"
    totals: dict[str, int] = {}
    for snap in snaps:
        for name, value in (snap.get("gauges") or {}).items():
            totals[name] = totals.get(name, 0) + value
    busy = [f"{name} {value:,}" for name, value in totals.items() if value]
    return ", ".join(busy) if busy else "0"


def _growth(before: Any, after: Any) -> str:
    """The largest RSS growth among the responders, MB."""
    if not isinstance(before, list) or not isinstance(after, list):
        return "n/a"
    start = {snap.get("name"): num(snap.get("rss")) for snap in before}
    grown = [num(snap.get("rss")) - start.get(snap.get("name"), math.nan) for snap in after]
    return fmt(max(grown) / 1e6) if grown else "n/a"


def _soak(data: dict[str, Any]) -> list[str]:
    plan = data["plan"]
    head = [
        "run",
        "requests",
        "succeeded",
        "req/s",
        f"RSS after {plan['soak_warmup']:,} (before) MB",
        "RSS at the end MB",
        "growth MB",
        "gauges at the end, requesting node",
        "gauges at the end, responders",
        "responders' growth MB",
        "Redis connections, max",
    ]
    rows = []
    for kind in SOAK_KINDS:
        r = get(data, "soak", "sioadapter", "kinds", kind) or {}
        done = num(r.get("requests")) - num(r.get("failed"))
        warm, end = r.get("warm") or {}, r.get("end") or {}
        rows.append(
            [
                kind,
                fmt(r.get("requests")),
                fmt(done),
                fmt(r.get("req_per_s")),
                _mb(warm.get("rss")),
                _mb(end.get("rss")),
                fmt(r.get("growth_mb")),
                _gauges(end or None),
                _gauges(r.get("responders")),
                _growth(r.get("responders_warm"), r.get("responders")),
                "",
            ]
        )
    runs = (
        ("timeouts", "server_side_call, timed out"),
        ("concurrent", "fetch_sockets, all at once"),
    )
    for name, label in runs:
        r = get(data, "soak", "sioadapter", name) or {}
        before, after = r.get("before") or {}, r.get("after") or {}
        n, seconds = num(r.get("requests")), num(r.get("seconds"))
        if name == "timeouts":
            outcome = f"0: {fmt(r.get('timed_out'))} timed out ({fmt(r.get('timeout'))} s)"
            rate, connections = "", ""
        else:
            outcome = fmt(r.get("ok"))
            rate = fmt(n / seconds if seconds else math.nan)
            connections = fmt(r.get("connections_max"))
        rows.append(
            [
                label,
                fmt(n),
                f"{outcome}, in {fmt(seconds)} s",
                rate,
                _mb(before.get("rss")),
                _mb(after.get("rss")),
                fmt(r.get("growth_mb")),
                _gauges(after or None),
                _gauges(r.get("responders")),
                "",
                connections,
            ]
        )
    return [
        "",
        f"## Soak: memory and gauges over {plan['soak_requests']:,} requests per kind",
        "",
        table(head, rows),
        "",
        "Gauges are `mgr.stats.gauges()` (`pending_requests`, `pending_ack_callbacks`, "
        "`pending_timers`, `queued_messages`, `queued_bytes`), summed over the responders; "
        "`0` means all of them are 0. A responder's gauges carry over to the next rows until "
        "what it holds expires.",
    ]


def headline(data: dict[str, Any], chart: str | None = None) -> list[str]:
    """The page's first section: the headline figures, each baseline's with sioadapter's
    ratio to it, and the headline chart."""
    head = ["", *(SHORT[c] for c in THREE)]
    rows = []
    for title, figure, _, higher in HEADLINE:
        ours = num(figure(data, "sioadapter"))
        cells = [f"**{fmt(ours)}**"]
        for contender in THREE[1:]:
            theirs = num(figure(data, contender))
            ratio = ours / theirs if theirs else math.nan
            cells.append(
                fmt(theirs) + ("" if math.isnan(ratio) else f" (sioadapter: {fmt(ratio)}x)")
            )
        rows.append([f"{title} ({'higher' if higher else 'lower'} is better)", *cells])
    parts = [
        "## In short",
        "",
        "Two server processes on one Redis, one broadcasting to a room, the other delivering "
        "it to the room's sockets (K of them), for sioadapter, python-socketio's "
        "`AsyncRedisManager` and Node.js's `@socket.io/redis-adapter`, all on the machine "
        "below. In parentheses, sioadapter's figure as a multiple of that baseline's. The "
        "rest of the page holds every figure and how it is measured.",
        "",
        table(head, rows),
    ]
    if chart:
        parts += ["", f"![headline benchmark chart]({chart})"]
    return parts + scaling_summary.summary(data)


def markdown(data: dict[str, Any], chart: str | None = None, detail: str | None = None) -> str:
    """The whole results page; ``chart`` and ``detail`` name the headline and detail charts
    (the scaling charts are ``chart``'s name with ``-scaling`` and ``-rooms`` added)."""
    m, plan = data["machine"], data["plan"]
    rate = f"{plan['rate']:,}/s for {plan['seconds']:g} s"
    parts = [
        "# Benchmarks",
        "",
        *headline(data, chart),
        "",
        "## The run",
        "",
        f"Measured {m['date']} by `{data['command']}` ({m['duration']}); every run of that "
        "command rewrites this page and its charts. Ratios are sioadapter / baseline, all "
        "measured in this one run.",
        "",
        table(["machine", ""], [[k, str(v)] for k, v in m.items() if k != "date"]),
        "",
        "## Ratios and targets",
        "",
        ratio_table(data),
        "",
        "### Backend targets: each broker against its own raw client",
        "",
        backend_report.targets(data),
    ]
    parts += [
        "",
        "Throughput is end to end (A's first emit to B's last delivery) unless stated. CPU "
        "figures are CPU seconds of the receiving process per 10,000 broadcasts sent. The "
        "second table applies the same bounds to other runs: B's own delivery span in the "
        "throughput run, B draining a backlog (B paused while A sends), and the fixed-rate "
        f"runs ({RATE}), where each broadcast reaches the receiving process on its own.",
    ]
    if detail:
        parts += ["", f"![benchmark chart, every figure]({detail})"]
    method = METHOD.format(
        **{**plan, "n_rate": int(plan["rate"] * plan["seconds"]), "warmup": warmup(data)}
    )
    method += "\n" + backend_report.METHOD.format(
        target=backend_report.TARGET,
        repeats=plan.get("backend_repeats", 1),
        n_k1=plan.get("n_backend_k1", 0),
        n_k100=plan.get("n_backend_k100", 0),
    )
    parts += ["", "## How it is measured", "", method]
    parts += _throughput(data, "throughput_k1", f"Cross-node throughput, K=1, N={plan['n_k1']:,}")
    parts += _throughput(
        data, "throughput_k100", f"Cross-node throughput, K=100, N={plan['n_k100']:,}"
    )
    for k in (1, 100):
        n = plan[f"n_k{k}"]
        title = f"Receiver alone: B drains a backlog, K={k}, N={n:,}"
        parts += _drain(data, f"drain_k{k}", title, k)
    parts += _idle(data, "idle", f"Traffic a node does not need, flat out, N={plan['n_idle']:,}")
    parts += _idle(data, "idle_rate", f"Traffic a node does not need, {rate}")
    rows = []
    for c in _present(data, "latency"):
        lat = get(data, "latency", c, "receiver", "latency_ms") or {}
        figures = [fmt(lat.get(q)) for q in ("p50", "p99", "mean", "max")]
        rows.append([NAMES[c], *figures, delivered(data, "latency", c)])
    head = ["contender", "p50 ms", "p99 ms", "mean ms", "max ms", "delivered / expected"]
    parts += ["", f"## Latency, emit on A to delivery on B, {rate}, K=1", "", table(head, rows)]
    ops = [(op, q) for op in ("fetch_sockets", "server_side_call") for q in ("p50", "p99")]
    rows = [
        [NAMES[c], *(fmt(get(data, "requests", c, op, q)) for op, q in ops)]
        for c in _present(data, "requests")
    ]
    rows.append([NAMES["socketio"], "n/a", "n/a", "n/a", "n/a"])
    head = ["contender", *(f"{op} {q} ms" for op, q in ops)]
    parts += [
        "",
        f"## Request round trip over 3 nodes, {plan['requests']} sequential requests each",
        "",
        table(head, rows),
        "",
        "python-socketio's AsyncRedisManager has no cluster-wide fetch_sockets or server-side "
        "calls.",
    ]
    parts += _soak(data)
    parts += [*backend_report.sections(data), *streams_suite.sections(data)]
    scaling = scaling_cluster.sections(data)
    if scaling and chart:  # its chart is drawn next to the headline one (benchmarks/__main__)
        scaling += ["", f"![scaling charts]({chart.rsplit('.', 1)[0]}-scaling.png)"]
    rooms = scaling_rooms.sections(data)
    if rooms and chart:
        rooms += ["", f"![rooms and sockets charts]({chart.rsplit('.', 1)[0]}-rooms.png)"]
    parts += [*scaling, *rooms, ""]
    return "\n".join(parts)


WARMUP = """\
- Warm-up, before every broadcast run (the throughput, drain, no-member, fixed-rate and
  latency runs, and the backend and streams families): A first sends {warm:,} broadcasts (at
  most N), flat out whatever the run's rate, the same payload through the same code path,
  then a `warmed` event to `ctl` (the raw clients: a `warmed` message on their channel). Each
  receiver counts them apart, K per broadcast on B and none on the node with no member, and
  reports once it has the marker and all of them; only then is a draining B paused and A
  told to begin, so the measured run (from `start` to `end`, and its CPU windows) holds no
  warm delivery. Why: a cold process is slower than a warm one (Node's JIT compiles hot
  code only after it ran a while; an independent harness found cold Node 2-3x slower than
  warm), and a short unwarmed run would measure start-up and flatter the slowest to warm.
  The warm-ups took {seconds:.0f} s of this run, over {runs} runs."""


def _warmups(node: Any) -> list[float]:
    """The seconds of every warm-up in the results (each broadcast run's ``warmup``)."""
    if not isinstance(node, dict):
        return []
    here = node.get("warmup")
    found = [float(here["seconds"])] if isinstance(here, dict) and "seconds" in here else []
    return found + [s for value in node.values() for s in _warmups(value)]


def warmup(data: dict[str, Any]) -> str:
    """The method's warm-up item (results saved before the warm-up existed: none)."""
    warm = data["plan"].get("warm") or 0
    if not warm:
        return "- No warm-up: every run was measured from its processes' first broadcast."
    seconds = _warmups(data.get("results"))
    return WARMUP.format(warm=warm, seconds=sum(seconds), runs=len(seconds))


METHOD = """\
- Every node is its own OS process; Redis is a private `redis-server` started for the run
  (`--save '' --appendonly no`, pub/sub output buffers unlimited) on a loopback port. Each
  scenario uses a fresh channel key; receivers are subscribed before the sender starts.
- Python nodes are a real `socketio.AsyncServer` whose client manager is
  `sioadapter.AsyncClusterManager(url, key=...)` or `socketio.AsyncRedisManager(url,
  channel=...)`. Sockets are registered through the manager as the server does for a client
  (`pre_connect`, `connect`, `enter_room`); the server's `_send_eio_packet` (the write of an
  encoded packet to one engine.io socket) is replaced by a counter. Sync servers (throughput
  only): a `socketio.Server(async_mode="threading")`, Flask-SocketIO's server, with
  `sioadapter.ClusterManager` or python-socketio's `socketio.RedisManager`, the same way; the
  sender is a loop of `sio.emit` in one thread. The gevent rows: the same server in
  `async_mode="gevent"`, in a process `gevent.monkey.patch_all()` patched first (the
  sender's loop and the manager's work are greenlets on one OS thread).
- Node nodes are a socket.io 4.8 `Server` with `createAdapter(pub, sub, {{key}})`; sockets are
  registered as the server registers a connected one (`namespace.sockets`, `adapter.addAll`),
  with `socket.client.writeToEngine` (the adapter's per-recipient write of the packet it
  encoded once) replaced by the same counter. No engine.io transport runs for any contender.
- The sender emits `to="room1"` (Node: `io.to("room1").emit`) the payload `{{"i": n, "t":
  time}}`, after a `start` and before an `end` event to room `ctl`, where each receiver holds
  one socket. Throughput: N broadcasts as fast as the API allows (Python: a loop of `await
  sio.emit`; Node: a loop of `emit`, which is synchronous and never waits), from A's first
  emit (the time in the `start` event) to B's last delivery; B's own span (first to last
  delivery) is shown too: when A bursts ahead, as Node's loop does, it is B's drain rate.
  Draining: B is stopped (SIGSTOP) until A has sent everything, then resumed; its delivery
  span measures B alone. CPU: `getrusage` (Node: `process.cpuUsage`) of the receiving
  process from the `start` event to the last delivery (to `end` on a node with no member),
  divided by N. Fixed rate: {rate:,} broadcasts/s for {seconds:g} s ({n_rate:,}); latency
  reads `t`, CLOCK_MONOTONIC (`time.monotonic()`, `process.hrtime`), again at delivery.
{warmup}
- Node with no member: the same sender and receiver (K=1) plus a third node whose only room
  is room2; both receivers report CPU per 10,000 broadcasts of the same run, flat out and at
  the fixed rate (at a fixed rate every broadcast wakes the process on its own, the costliest
  case per broadcast).
- Raw redis-py: one process publishes the same JSON payloads (awaited one by one, or in
  non-transactional pipelines of 1,000), another subscribes with `pubsub.get_message()` and
  only counts: the ceiling of Python pub/sub through redis-py, with no Socket.IO work.
- Requests: three nodes hold {sockets} sockets each; one runs `fetch_sockets()` (Node:
  `io.fetchSockets()`), then `server_side_call("ping", 1)` (Node: `serverSideEmitWithAck`),
  {requests} times each in sequence after 10 warm-ups.
- Soak (sioadapter only): three nodes hold {soak_sockets} sockets each, whose clients
  acknowledge: the server's `_send_packet` is replaced by a stand-in client that answers each
  packet carrying an ack id with an ACK packet fed to `sio._handle_eio_message`, the path a
  client's ACK takes. One node sends, per kind, {soak_requests:,} requests, {soak_batch:,}
  concurrent at a time: `fetch_sockets()`, `server_side_call("ping", 1)`,
  `emit_with_ack("ack-me", 1)` to every socket of the cluster, and `sio.emit("ack-me", 1,
  to=<a sid on another node>, callback=...)`; each waits up to 60 s and checks its answers.
  RSS (`/proc/self/statm`) and gauges are read after `gc.collect()`, after the first
  {soak_warmup:,} and at the end; the responders report theirs through a server-side call.
  Then {soak_timeouts:,} concurrent `server_side_call("silent", timeout={soak_timeout:g})` that
  nobody answers, and {soak_concurrent:,} `fetch_sockets()` at once, while the sending node's
  Redis connections (named through the URL option `client_name`) are counted by `CLIENT LIST`.
- Sender, receivers and Redis share the machine's cores: figures move from run to run;
  compare the ratios of one run."""
