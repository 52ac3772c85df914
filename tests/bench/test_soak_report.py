"""The soak scenario's verdicts and table, from results as the soak node reports them."""

from __future__ import annotations

import copy
from typing import Any

from benchmarks import report, scenarios
from benchmarks.ratios import SOAK_KINDS, SOAK_TARGETS, soak_table
from sioadapter.stats import GAUGES

ZERO = dict.fromkeys(GAUGES, 0)


def snap(rss_mb: float, **gauges: int) -> dict[str, Any]:
    return {"rss": int(rss_mb * 1e6), "gauges": {**ZERO, **gauges}}


def responders(**gauges: int) -> list[dict[str, Any]]:
    return [{"name": f"responder{i}", **snap(50, **gauges)} for i in (1, 2)]


def clean_run() -> dict[str, Any]:
    kind = {
        "requests": 100_000,
        "failed": 0,
        "errors": {},
        "req_per_s": 2_000.0,
        "warm": snap(60),
        "end": snap(61.5),
        "growth_mb": 1.5,
        "responders_warm": responders(),
        "responders": responders(),
    }
    soak = {
        "kinds": {name: copy.deepcopy(kind) for name in SOAK_KINDS},
        "timeouts": {
            "requests": 10_000,
            "timeout": 0.5,
            "timed_out": 10_000,
            "seconds": 0.6,
            "before": snap(61.5),
            "after": snap(62),
            "growth_mb": 0.5,
            "responders": responders(),
        },
        "concurrent": {
            "requests": 10_000,
            "ok": 10_000,
            "errors": [],
            "seconds": 4.0,
            "connections_idle": 4,
            "connections_after": 4,
            "connections_max": 4,
            "before": snap(62),
            "after": snap(90),
            "growth_mb": 28.0,
            "responders": responders(),
        },
    }
    results: dict[str, Any] = {name: {} for name in scenarios.SCENARIOS}
    results["soak"] = {"sioadapter": soak}
    return {"plan": vars(scenarios.Plan()), "results": results}


def verdicts(data: dict[str, Any]) -> dict[str, bool]:
    plan = data["plan"]
    return {spec.title(plan): spec.passed(data) for spec in SOAK_TARGETS}


def test_a_clean_soak_passes_every_target() -> None:
    data = clean_run()
    assert all(verdicts(data).values())
    assert soak_table(data).count("| **PASS** |") == len(SOAK_TARGETS)
    assert "100,000 successful fetch_sockets" in soak_table(data)


def test_growth_left_gauges_failures_and_connections_each_fail_their_target() -> None:
    data = clean_run()
    soak = data["results"]["soak"]["sioadapter"]
    soak["kinds"]["fetch_sockets"]["growth_mb"] = 12.0
    soak["kinds"]["emit_with_ack"]["responders"] = responders(pending_timers=3)
    soak["kinds"]["callback"]["end"] = snap(61, pending_ack_callbacks=1)
    soak["timeouts"]["after"] = snap(62, pending_requests=1)
    soak["concurrent"]["ok"] = 9_999
    soak["concurrent"]["connections_max"] = 5
    failed = {title for title, ok in verdicts(data).items() if not ok}
    assert failed == {
        "RSS growth of the requesting node, 100,000 successful fetch_sockets, after the warm-up",
        "gauges at the end, responding nodes, emit_with_ack",
        "gauges at the end, requesting node, callback",
        "gauges after 10,000 timed-out requests, requesting node",
        "requests that failed of 10,000 concurrent fetch_sockets",
        "Redis connections of the requesting node, 10,000 concurrent fetch_sockets",
    }


def test_a_run_without_the_soak_fails_its_targets_and_reads_n_a() -> None:
    data = clean_run()
    data["results"]["soak"] = {}
    assert not any(verdicts(data).values())
    section = "\n".join(report._soak(data))
    assert "| fetch_sockets | n/a |" in section


def test_the_table_names_the_gauges_left_and_sums_them_over_the_responders() -> None:
    data = clean_run()
    soak = data["results"]["soak"]["sioadapter"]
    soak["kinds"]["emit_with_ack"]["responders"] = responders(pending_timers=2_000)
    section = "\n".join(report._soak(data))
    row = next(line for line in section.splitlines() if line.startswith("| emit_with_ack |"))
    assert "pending_timers 4,000" in row
    assert "| 60 | 61.5 | 1.5 | 0 |" in row
