"""The streams family's table, drawn from a small made-up result: a receiver that missed
deliveries (a streams reader that fell more than MAXLEN behind skips what was trimmed) shows as
incomplete, and no ratio is computed from its rate."""

from __future__ import annotations

from typing import Any

from benchmarks import streams_suite


def case(rate: float, received: int = 10, expected: int = 10) -> dict[str, Any]:
    receiver = {
        "broadcasts_per_s": rate,
        "cpu_per_10k": 0.2,
        "received": received,
        "expected": expected,
        "complete": received >= expected,
    }
    return {"sender": {"send_seconds": 0.5}, "receiver": receiver}


def test_an_incomplete_receiver_gives_no_rate_and_no_ratio() -> None:
    k1 = {
        "sioadapter": case(20e3),
        "sioadapter-streams": case(10e3),
        "sioadapter-csr": {"error": "a node failed"},
        "node-streams": case(29e3, received=6, expected=10),
    }
    data = {"results": {"streams": {"k1": k1, "k100": k1, "rooms": {}}}}
    page = "\n".join(streams_suite.sections(data))
    rows: dict[str, str] = {}
    for line in page.splitlines():  # the throughput table's rows (the rooms table follows)
        rows.setdefault(line.split(" | ")[0].lstrip("| "), line)
    node = rows[streams_suite.STREAMS["node-streams"]]
    assert "incomplete (6 of 10)" in node and "29,000" not in node
    streams = rows[streams_suite.STREAMS["sioadapter-streams"]]
    assert "10,000" in streams and "0.5x" in streams and "n/a" in streams  # no Node ratio
    assert not streams_suite.complete(case(1.0, received=10, expected=20))
    assert not streams_suite.complete({"receiver": {"complete": True, "received": 3}})
    assert streams_suite.complete(case(1.0))
