"""The Prometheus export (``metrics=``): the option, the names, the histogram, registries.

Tests that scrape need prometheus_client and skip without it (the lowest-versions run of .ci/run
has no extras); the live suite fails instead (tests/live/test_metrics_live.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

import sioadapter
from sioadapter.metrics import (
    COUNTERS,
    DROP_REASONS,
    DURATION_BUCKETS,
    GAUGES,
    INSTALL_HINT,
    SKIP_REASONS,
    ManagerMetrics,
    Probes,
)
from sioadapter.stats import GAUGES as STATS_GAUGES
from sioadapter.stats import Stats

OPERATIONS_MD = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def prometheus() -> Any:
    return pytest.importorskip("prometheus_client", reason=f"needs {INSTALL_HINT}")


def samples(registry: Any, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels: value} of every sample called ``name`` in a scrape of ``registry``."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.mark.parametrize("manager", [sioadapter.AsyncClusterManager, sioadapter.ClusterManager])
def test_metrics_without_prometheus_client_names_the_extra(
    manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    with pytest.raises(ImportError, match=re.escape(INSTALL_HINT)):
        manager("memory://no-prometheus", metrics=True)


def test_metrics_refuses_what_is_not_a_registry() -> None:
    prometheus()
    with pytest.raises(TypeError, match="CollectorRegistry"):
        sioadapter.AsyncClusterManager("memory://bad-registry", metrics="yes")


def test_every_stats_counter_and_gauge_is_exported() -> None:
    exported = set(COUNTERS) | set(DROP_REASONS) | set(SKIP_REASONS)
    assert exported == set(Stats().counters())
    assert set(GAUGES) == set(STATS_GAUGES)


def test_the_metrics_table_of_the_docs_is_what_is_exported() -> None:
    section = OPERATIONS_MD.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(sioadapter_[a-z_]+)`", section, re.MULTILINE))
    counters = {f"{name}_total" for name, _ in COUNTERS.values()}
    exported = (
        counters
        | {name for name, _ in GAUGES.values()}
        | {
            "sioadapter_messages_dropped_total",
            "sioadapter_messages_skipped_total",
            "sioadapter_request_duration_seconds",
            "sioadapter_cluster_nodes",
            "sioadapter_backend_connected",
            "sioadapter_subscriber_connected",
            "sioadapter_healthy",
        }
    )
    assert documented == exported


def test_request_durations_fall_in_cumulative_buckets() -> None:
    prometheus_client = prometheus()
    registry = prometheus_client.CollectorRegistry()
    probes = Probes(
        uid=lambda: "n1", key="k", stats=Stats(), nodes=dict, backend_connected=lambda: True,
        subscriber_connected=lambda: True, healthy=lambda: True,
    )  # fmt: skip
    from sioadapter.metrics import attach

    metrics = attach(probes, registry)
    assert isinstance(metrics, ManagerMetrics)
    for seconds in (0.0005, 0.001, 0.003, 20.0):
        metrics.sioadapter_request_done(operation="fetch_sockets", duration=seconds)
    buckets = {
        dict(labels)["le"]: value
        for labels, value in samples(registry, "sioadapter_request_duration_seconds_bucket").items()
    }
    assert buckets["0.001"] == 2  # "le": 0.001 itself included
    assert buckets["0.005"] == 3
    assert buckets[repr(DURATION_BUCKETS[-1])] == 3
    assert buckets["+Inf"] == 4
    (total,) = samples(registry, "sioadapter_request_duration_seconds_sum").values()
    assert total == pytest.approx(20.0045)
    metrics.close()
    metrics.close()  # idempotent
    assert samples(registry, "sioadapter_request_duration_seconds_bucket") == {}


async def test_metrics_true_uses_the_default_registry_until_close() -> None:
    prometheus_client = prometheus()
    mgr = sioadapter.AsyncClusterManager("memory://default-registry", metrics=True)
    await mgr.start()
    try:
        healthy = samples(prometheus_client.REGISTRY, "sioadapter_healthy")
        assert healthy[(("key", "socket.io"), ("node", mgr.uid))] == 1
    finally:
        await mgr.close()
    published = samples(prometheus_client.REGISTRY, "sioadapter_messages_published_total")
    assert not [labels for labels in published if ("node", mgr.uid) in labels]


async def test_two_managers_share_one_registry_each_with_its_own_labels() -> None:
    prometheus_client = prometheus()
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    first = sioadapter.AsyncClusterManager("memory://shared-registry", metrics=registry)
    second = sioadapter.AsyncClusterManager("memory://shared-registry", metrics=registry)
    try:
        for mgr in (first, second):
            await mgr.start()
        nodes = {dict(k)["node"] for k in samples(registry, "sioadapter_backend_connected")}
        assert nodes == {first.uid, second.uid}
        await first.close()
        nodes = {dict(k)["node"] for k in samples(registry, "sioadapter_backend_connected")}
        assert nodes == {second.uid}
    finally:
        await first.close()
        await second.close()
    assert samples(registry, "sioadapter_backend_connected") == {}
    # The collector left with the last manager: the names are free again.
    prometheus_client.Gauge("sioadapter_backend_connected", "another exporter", registry=registry)


def test_a_sync_manager_is_scraped_from_another_thread() -> None:
    prometheus_client = prometheus()
    registry = prometheus_client.CollectorRegistry()
    mgr = sioadapter.ClusterManager("memory://sync-registry", metrics=registry)
    try:
        mgr.start()
        mgr.emit("news", 1, namespace="/")
        mgr.flush()
        assert mgr.server_count() == 1
        labels = (("key", "socket.io"), ("node", mgr.uid))
        assert samples(registry, "sioadapter_messages_published_total")[labels] >= 1
        assert samples(registry, "sioadapter_healthy")[labels] == 1
    finally:
        mgr.close()
    assert samples(registry, "sioadapter_healthy") == {}
