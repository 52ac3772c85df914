"""The scaling family: its page part drawn from a small made-up result (the sentences follow
the figures: flat, linear, falling; an incomplete or failed case gives no figure), and a quick
run of the family on a private Redis, which must give every figure and a refused oversized
broadcast."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import scaling_cluster, scaling_report


def case(n: int, rate: float, rx: float, tx: float, receivers: int = 1) -> dict[str, Any]:
    receiver = {"received": n, "expected": n, "complete": True, "broadcasts_per_s": rate,
                "cpu_per_10k": rx}  # fmt: skip
    # the slowest receiver sets the cluster's throughput
    slow = {**receiver, "broadcasts_per_s": rate * 0.9}
    return {"n": n, "payload": 0, "sender": {"cpu_per_10k": tx},
            "receivers": [receiver] * (receivers - 1) + [slow]}  # fmt: skip


def results() -> dict[str, Any]:
    nodes = {str(m): case(1000, 10_000.0, 0.1, 0.2, m - 1) for m in (2, 4, 8)}
    payload = {str(s): case(100, 10_000.0 if s <= 10_000 else 1e8 / s, 0.1, 0.1)
               for s in (100, 10_000, 100_000, 1_000_000)}  # fmt: skip
    refused = {"payload": 200, "limit": 100, "error": "MessageTooLargeError",
               "message": "the encoded message is 289 bytes", "published": 0}  # fmt: skip
    limit = {**case(100, 1.0, 0.1, 0.1), "sender": {"refused": refused}}
    short = case(1000, 1.0, 0.1, 0.1, 3)
    short["receivers"][0] = {**short["receivers"][0], "received": 999}
    scaling = {
        "nproc": 2,
        "nodes": {"sioadapter": nodes, "socketio": {"2": {"error": "a node failed"}, "4": short}},
        "payload": {"sioadapter": payload},
        "limit": limit,
    }
    return {"results": {"scaling": scaling}}


def test_the_sentences_follow_the_figures_and_bad_cases_give_none(tmp_path: Path) -> None:
    data = results()
    page = "\n".join(scaling_cluster.sections(data))
    # the same per-node CPU on 1, 3 and 7 receivers: flat; the cluster's total: linear-ish
    line = next(x for x in page.splitlines() if x.startswith("- sioadapter, 2 to 8 nodes"))
    assert "CPU per receiver stays flat (0.1 to 0.1: x1 for x7 receivers)" in line
    assert "the whole cluster's grows less than linearly (0.3 to 0.9: x3 for x7)" in line
    assert "throughput stays flat (9,000 to 9,000" in line
    assert "| python-socketio AsyncRedisManager | 2 | 1 | failed |" in page
    assert "| python-socketio AsyncRedisManager | 4 | 3 | incomplete |" in page
    line = next(x for x in page.splitlines() if x.startswith("- sioadapter: broadcasts/s"))
    assert "holds within 25% of its 100 B rate up to 10 KB" in line
    assert "MB/s stays flat (90 to 90: x1 for x10)" in line
    assert "| 100 KB | 100 | 900 | 90 |" in page
    assert "was refused before anything was published, and nothing of it was delivered" in page
    assert "| 100 | 200 | MessageTooLargeError | 0 | 0 | 100 of 100 |" in page
    # a published oversized broadcast is one delivery too many: no longer "refused"
    data["results"]["scaling"]["limit"]["receivers"][0]["received"] = 101
    assert "was NOT refused" in "\n".join(scaling_cluster.sections(data))
    assert not scaling_cluster.complete(data["results"]["scaling"]["limit"])
    assert scaling_cluster.sections({"results": {}}) == []
    pytest.importorskip("matplotlib", reason="the chart needs matplotlib")
    scaling_cluster.draw(results(), tmp_path / "scaling.png")
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


def test_trend_words() -> None:
    assert scaling_report.trend([1, 10], [5, 6]).startswith("stays flat")
    assert scaling_report.trend([1, 10], [5, 50]).startswith("grows about linearly")
    assert scaling_report.trend([1, 10], [5, 1]).startswith("falls")
    assert scaling_report.trend([1, 10], [5, math.nan]) == "n/a"


def check_quick_run(out: dict[str, Any]) -> None:
    """What a quick run's scaling results must hold: every figure, and the refused broadcast
    (test_benchmark_command runs the suite, with this family, and calls this)."""
    data = {"results": {"scaling": out}}
    assert not out["full"]
    for contender in scaling_report.CONTENDERS:
        for part in ("nodes", "payload"):
            for x, one in out[part][contender].items():
                assert scaling_cluster.complete(one), (contender, part, x, one)
                assert scaling_report.throughput(one) > 0
                assert scaling_report.rx_cpu(one) > 0 and scaling_report.tx_cpu(one) > 0
    assert len(out["nodes"]["node"]) >= 2 and len(out["payload"]["node"]) >= 2
    refused = out["limit"]["sender"]["refused"]
    assert refused["error"] == "MessageTooLargeError" and refused["published"] == 0
    assert scaling_cluster.complete(out["limit"])  # exactly N delivered: not N + 1
    assert "n/a" not in "\n".join(scaling_cluster.sections(data))
