"""The backend family's tables, drawn from a small made-up result: each broker's verdict
against its raw client, ``n/a (why)`` where a contender could not run, ``failed`` where a node
failed (which also makes the command exit 1), and the comparison with the Redis backend on the
same (ClusterAdapter) protocol."""

from __future__ import annotations

from typing import Any

from benchmarks import backend_report, backend_suite


def case(rate: float, k: int = 1) -> dict[str, Any]:
    receiver = {
        "broadcasts_per_s": rate,
        "deliveries_per_s": rate * k,
        "received": 10 * k,
        "expected": 10 * k,
        "complete": True,
    }
    return {"sender": {"send_seconds": 0.5}, "receiver": receiver, "runs": [rate, rate - 1]}


def results() -> dict[str, Any]:
    def broker(**rates: float | dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"broker": "x://h", "n_k1": 10, "n_k100": 10}
        for k in (1, 100):
            entry[f"k{k}"] = {
                name.replace("_", "-"): case(rate, k) if isinstance(rate, float) else rate
                for name, rate in rates.items()
            }
        return entry

    backends = {
        "redis": broker(sioadapter=60e3, sioadapter_cluster=29e3, raw=50e3),
        "nats": broker(sioadapter=27e3, raw=100e3),
        "postgres": broker(
            sioadapter={"missing": "backend not installed"}, raw=70e3, raw_each=35e3
        ),
        "amqp": broker(sioadapter={"error": "amqp node exited (1)"}, raw=8e3),
    }
    plan = {"n_backend_k1": 10, "n_backend_k100": 10}
    return {"plan": plan, "results": {"backends": backends}}


def rows(text: str) -> dict[str, list[str]]:
    out = {}
    for line in text.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0]] = cells
    return out


def test_each_broker_is_judged_against_its_own_raw_client() -> None:
    table = rows(backend_report.targets(results()))
    assert table["Redis, K=1"][3:6] == ["**1.2**", ">= 0.6", "**PASS**"]
    assert table['Redis, protocol="cluster", K=1'][5] == "**FAIL**"  # 29,000 / 50,000 = 0.58
    assert table["NATS, K=100"][3] == "**0.27**" and table["NATS, K=100"][5] == "**FAIL**"
    assert table["NATS, K=1"][6] == "0.931"  # 27,000 over Redis with protocol="cluster"
    assert table["PostgreSQL, K=1"][1] == "n/a (backend not installed)"
    assert table["PostgreSQL, K=1"][5] == "n/a"  # not judged: nothing to judge
    each = table["PostgreSQL (raw: a transaction per message), K=100"]
    assert each[2].startswith("35,000 (") and each[4:6] == ["none", ""]  # no target
    assert table["RabbitMQ, K=1"][1] == "failed" and table["RabbitMQ, K=1"][5] == "**FAIL**"


def test_failed_nodes_are_listed_and_every_run_is_shown() -> None:
    data = results()
    assert backend_suite.failures(data["results"]["backends"]) == [
        "amqp k1 sioadapter: amqp node exited (1)",
        "amqp k100 sioadapter: amqp node exited (1)",
    ]
    page = "\n".join(backend_report.sections(data))
    assert "## Backends: cross-node throughput, K=100" in page
    assert "| 10 | 29,000 | 2,900,000 |" in page  # Redis, protocol="cluster", K=100: deliveries
    assert "60,000, 59,999" in page  # every run
    assert page.count("n/a (backend not installed)") == 2


def test_best_of_the_runs_is_kept_and_a_failure_wins() -> None:
    best = backend_suite._best(None, case(10.0))
    best = backend_suite._best(best, case(30.0))
    best = backend_suite._best(best, case(20.0))
    assert best["receiver"]["broadcasts_per_s"] == 30.0 and best["runs"] == [10, 30, 20]
    failed = backend_suite._best(best, {"error": "boom"})
    assert failed["error"] == "boom" and failed["runs"] == [10, 30, 20, -1]
