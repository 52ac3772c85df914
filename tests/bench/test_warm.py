"""The warm-up before every measured broadcast run (benchmarks/warm.py): a receiver counts warm
deliveries apart from the measured ones and says when it has them all, the page's method says
how many there were, and short warmed runs of each kind of node program (asyncio, Node, sync
under gevent, raw client; paused, with a bystander, at a fixed rate) count exactly N x K."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest

from benchmarks import backend_suite, report, scenarios
from benchmarks.node_python import Receipt
from benchmarks.raw_common import Tally
from benchmarks.redis_server import private_redis
from benchmarks.warm import Warmup


def warmed_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if json.loads(line) == {"warmed": True})


def test_warm_deliveries_are_counted_apart_and_reported_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    receipt = Receipt({"n": 2, "k": 3, "room": "room1", "warm": 2})
    for _ in range(5):  # the marker may overtake the last warm deliveries: still warming
        receipt.on_packet("eio0", '2["ev",{"i":0,"t":1.0}]')
    receipt.on_packet("ctl", '2["warmed",{"i":-4,"t":1.0}]')
    assert receipt.warmup.active and warmed_lines(capsys.readouterr().out) == 0
    receipt.on_packet("eio1", '2["ev",{"i":1,"t":1.0}]')  # the 6th: 2 broadcasts x K=3
    assert not receipt.warmup.active and warmed_lines(capsys.readouterr().out) == 1
    receipt.on_packet("eio0", '2["ev",{"i":0,"t":2.0}]')  # measured from here on
    assert receipt.count == 1 and receipt.warmup.count == 6
    # a bystander gets no warm delivery: the marker ends its warm-up
    bystander = Warmup(warm=5, k=1, member=False)
    bystander.mark()
    assert not bystander.active and warmed_lines(capsys.readouterr().out) == 1
    # without a warm-up, nothing is held back and nothing is printed
    cold = Receipt({"n": 1, "k": 1, "room": "room1"})
    cold.on_packet("eio0", '2["ev",{"i":0,"t":1.0}]')
    assert cold.count == 1 and capsys.readouterr().out == ""


@pytest.mark.asyncio
async def test_a_raw_tally_counts_warm_payloads_apart(capsys: pytest.CaptureFixture[str]) -> None:
    tally = Tally(n=3, k=2, warm=2)
    for data in (b'{"i": 0}', b'{"i": 1}', b"warmed", b'{"start": 1.0}', b'{"i": 0}', b"end"):
        await tally.on_message(data)
    assert tally.count == 2 and warmed_lines(capsys.readouterr().out) == 1


def test_the_method_says_how_many_broadcasts_warm_each_run() -> None:
    data: dict[str, Any] = {
        "machine": {"date": "2026-12-03", "duration": "1 s", "nproc": 2, "cpu": "Test CPU"},
        "command": "python -m benchmarks --quick",
        "plan": vars(scenarios.QUICK),
        "results": {name: {} for name in scenarios.SCENARIOS},
    }
    warmed = {"receiver": {"received": 1}, "warmup": {"broadcasts": 200, "seconds": 1.25}}
    data["results"]["throughput_k1"]["node"] = warmed
    data["results"]["backends"] = {"nats": {"k1": {"raw": {**warmed, "runs": [1]}}}}
    page = report.markdown(data)
    assert f"A first sends {scenarios.QUICK.warm:,} broadcasts (at\n  most N)" in page
    assert "The warm-ups took 2 s of this run, over 2 runs." in page
    # the backend family keeps a case's best run, and the warm-ups of all its runs
    best = backend_suite._best(backend_suite._best(None, warmed), warmed)
    assert best["warmup"] == {"broadcasts": 200, "seconds": 2.5}
    data["plan"] = {k: v for k, v in vars(scenarios.QUICK).items() if k != "warm"}
    assert "- No warm-up:" in report.markdown(data)  # results saved before the warm-up


@pytest.mark.timeout(90)
def test_warmed_runs_count_exactly_the_measured_deliveries() -> None:
    scenarios.check_node_modules()
    plan = replace(scenarios.QUICK, warm=300, timeout=30.0)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("sioadapter", {"n": 500, "k": 1, "bystander": True}),
        ("node", {"n": 100, "k": 20, "paused": True}),
        ("sioadapter-gevent", {"n": 500, "k": 1}),
        ("raw-pipelined", {"n": 500, "k": 1}),
        ("node", {"n": 200, "k": 1, "rate": 1_000.0, "latency": True}),
    ]
    with private_redis() as url:
        for contender, kw in cases:
            got = scenarios.broadcast(url, contender, plan, **kw)
            receiver = got["receiver"]
            want = kw["n"] * kw["k"]
            assert receiver["received"] == receiver["expected"] == want, (contender, receiver)
            assert receiver["complete"] and receiver["broadcasts_per_s"] > 0
            assert not math.isnan(receiver["cpu_per_10k"] or math.nan), (contender, receiver)
            if kw.get("latency"):
                assert receiver["latency_ms"]["n"] == want  # no warm sample among them
            assert got["warmup"]["broadcasts"] == min(300, kw["n"])
            if kw.get("bystander"):
                assert got["bystander"]["received"] == 0 and got["bystander"]["complete"]
