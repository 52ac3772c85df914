"""Prometheus metrics of managers: ``AsyncClusterManager(url, metrics=True)``.

``metrics=True`` registers in prometheus_client's default registry (``REGISTRY``, what
``make_asgi_app()``, ``make_wsgi_app()`` and ``start_http_server()`` serve);
``metrics=<CollectorRegistry>`` in that one. ``ClusterManager`` takes the same option. Needs the
``[prometheus]`` extra (``pip install 'sioadapter[prometheus]'``); without it the manager's
constructor raises ImportError saying so.

Every sample has the labels ``node`` (the manager's uid) and ``key`` (its channel prefix), so
several managers of one process share a registry. The names, what they count and their other
labels are in docs/operations.md ("Metrics"); `COUNTERS`, `DROP_REASONS`,
`SKIP_REASONS` and `GAUGES` map them to ``mgr.stats``.

Costs: counters and gauges are read from ``mgr.stats`` and the manager's state when scraped,
so traffic pays nothing for them; the request duration histogram adds one bucket increment when
a cluster request ends (through the ``sioadapter_request_done`` hook). Scrapes may come from
any thread (a ``ClusterManager`` runs on a loop thread of its own): they only read.

One collector per registry serves every manager attached to it (prometheus_client refuses two
collectors exporting the same names); it leaves the registry with the last manager's ``close()``.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .hooks import hookimpl
from .stats import Stats

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from ._runtime.bus import AsyncBus
    from .backends.base import Backend
    from .core.node import ClusterNode

__all__ = [
    "COUNTERS",
    "DROP_REASONS",
    "DURATION_BUCKETS",
    "GAUGES",
    "INSTALL_HINT",
    "SKIP_REASONS",
    "ManagerMetrics",
    "Probes",
    "attach",
    "probes_of",
    "resolve_registry",
]

INSTALL_HINT = "pip install 'sioadapter[prometheus]'"
"""What to install for ``metrics=``."""

LABELS = ("node", "key")

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of ``sioadapter_request_duration_seconds``'s buckets (+Inf added):
from a round trip to a Redis on the same host to past the default ``requests_timeout``."""
_BOUNDS = (*(repr(bound) for bound in DURATION_BUCKETS), "+Inf")

COUNTERS = {
    "published": ("sioadapter_messages_published", "Messages the backend accepted."),
    "publish_batches": ("sioadapter_publish_batches", "Backend publish calls."),
    "publish_failed": (
        "sioadapter_messages_publish_failed",
        "Messages that may not have reached the cluster (refused, queue full during an "
        "outage, or unconfirmed when a connection died).",
    ),
    "received": (
        "sioadapter_messages_received",
        "Messages received from the backend, before any filtering.",
    ),
    "delivered": (
        "sioadapter_broadcasts_delivered",
        "Remote broadcasts delivered to this node's clients.",
    ),
    "bad_numbers": (
        "sioadapter_bad_numbers",
        "Numbers from the wire replaced by this node's own value (NaN, out of range).",
    ),
    "requests_timed_out": ("sioadapter_requests_timed_out", "Requests that timed out."),
    "late_responses": (
        "sioadapter_late_responses",
        "Responses to requests no longer pending.",
    ),
    "handler_errors": (
        "sioadapter_handler_errors",
        "Exceptions raised while handling received messages.",
    ),
    "backend_errors": ("sioadapter_backend_errors", "Errors the backend reported."),
    "buffer_limit_disconnects": (
        "sioadapter_buffer_limit_disconnects",
        "Times Redis closed the subscriber for its output buffer.",
    ),
    "stream_gaps": (
        "sioadapter_stream_gaps",
        "Times stream entries were gone before this node read them (streams protocol).",
    ),
    "stream_entries_lost": (
        "sioadapter_stream_entries_lost",
        "Stream entries lost in those gaps, where Redis could tell.",
    ),
}
"""``mgr.stats`` counter -> (metric name without ``_total``, help)."""

DROP_REASONS = {
    "dropped_malformed": "malformed",
    "dropped_oversized": "oversized",
    "dropped_foreign_namespace": "foreign_namespace",
    "dropped_unknown_channel": "unknown_channel",
    "dropped_unsigned": "unsigned",
    "dropped_forged": "forged",
    "dropped_unreadable": "unreadable",
}
"""``mgr.stats`` counter -> ``reason`` of ``sioadapter_messages_dropped_total``."""

SKIP_REASONS = {"skipped_rooms": "no_local_member", "ignored_own": "own"}
"""``mgr.stats`` counter -> ``reason`` of ``sioadapter_messages_skipped_total`` (messages with
nothing to do here: not losses)."""

GAUGES = {
    "pending_requests": ("sioadapter_requests_pending", "Cluster requests waiting for answers."),
    "pending_ack_callbacks": (
        "sioadapter_ack_callbacks_pending",
        "Acknowledgement callbacks waiting for a client's answer.",
    ),
    "pending_timers": ("sioadapter_timers_pending", "Request deadlines and callback expiries."),
    "queued_messages": ("sioadapter_publish_queue_messages", "Messages waiting to be published."),
    "queued_bytes": ("sioadapter_publish_queue_bytes", "Bytes waiting to be published."),
}
"""``mgr.stats`` gauge -> (metric name, help)."""

_DROPPED = ("sioadapter_messages_dropped", "Received messages dropped, by reason.")
_SKIPPED = ("sioadapter_messages_skipped", "Received messages skipped undecoded, by reason.")
_DURATION = (
    "sioadapter_request_duration_seconds",
    "Cluster requests, from publishing them to their last answer or timeout.",
)
_NODES = (
    "sioadapter_cluster_nodes",
    "Servers of the namespace, this one included, as last counted.",
)
_STATES = {
    "backend_connected": (
        "sioadapter_backend_connected",
        "1 when the backend is connected and no outage holds publishing.",
    ),
    "subscriber_connected": (
        "sioadapter_subscriber_connected",
        "1 when this node's subscriber connections are up, subscriptions confirmed.",
    ),
    "healthy": ("sioadapter_healthy", "1 when mgr.healthy is true."),
}


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as error:
        raise ImportError(
            f"metrics= needs prometheus_client: {INSTALL_HINT}", name=error.name
        ) from error
    return prometheus_client


def resolve_registry(metrics: Any) -> CollectorRegistry | None:
    """The registry ``metrics=`` names: None for False/None, prometheus_client's ``REGISTRY``
    for True, a ``CollectorRegistry`` as is. ImportError (naming `INSTALL_HINT`)
    without prometheus_client; TypeError for anything else."""
    if metrics is None or metrics is False:
        return None
    prometheus = _prometheus()
    if metrics is True:
        registry: CollectorRegistry = prometheus.REGISTRY
        return registry
    if isinstance(metrics, prometheus.CollectorRegistry):
        given: CollectorRegistry = metrics
        return given
    raise TypeError(
        f"metrics= takes True, False or a prometheus_client CollectorRegistry, not {metrics!r}"
    )


@dataclass(frozen=True, slots=True)
class Probes:
    """What a manager tells its metrics when scraped (each call cheap, no I/O, any thread)."""

    uid: Callable[[], str]
    key: str
    stats: Stats
    nodes: Callable[[], dict[str, int]]
    """Servers per namespace this node serves, itself included, as last counted."""
    backend_connected: Callable[[], bool]
    subscriber_connected: Callable[[], bool]
    healthy: Callable[[], bool]


class _Manager(Protocol):
    """What `probes_of` reads of an ``AsyncClusterManager``."""

    uid: str
    key: str
    stats: Stats
    backend: Backend

    @property
    def healthy(self) -> bool: ...


def probes_of(manager: _Manager, node: ClusterNode, bus: AsyncBus) -> Probes:
    """The probes of a manager, its node and its bus (the manager passes its own parts)."""

    def nodes() -> dict[str, int]:
        # Heartbeat mode: the node table; else the last subscriber count of each served
        # namespace's count channel (the census refreshes it every second, requests too).
        served = sorted(node.served)
        if node.membership is not None:
            return {nsp: 1 + len(node.members(nsp)) for nsp in served}
        last = bus.counts.last
        counted = {nsp: last.get(node.count_channel(nsp)) for nsp in served}
        return {nsp: count for nsp, count in counted.items() if count is not None}

    return Probes(
        uid=lambda: manager.uid,
        key=manager.key,
        stats=manager.stats,
        nodes=nodes,
        backend_connected=lambda: bus.connected and not bus.in_outage,
        subscriber_connected=lambda: bus.connected and manager.backend.receiving,
        healthy=lambda: manager.healthy,
    )


class ManagerMetrics:
    """The metrics of one manager: a plugin (it times requests through
    ``sioadapter_request_done``) and the source the registry's collector reads.

    Made by `attach`; `close` takes the manager's samples out of the registry.
    """

    def __init__(self, probes: Probes, registry: CollectorRegistry) -> None:
        self.probes = probes
        self.registry = registry
        # operation -> [count per bucket (the last is +Inf), sum]; observed on the manager's
        # loop, read by scrapes (a torn read is at most one observation behind).
        self._durations: dict[str, tuple[list[int], list[float]]] = {}

    @hookimpl
    def sioadapter_request_done(self, operation: str, duration: float) -> None:
        entry = self._durations.get(operation)
        if entry is None:
            entry = self._durations[operation] = ([0] * (len(DURATION_BUCKETS) + 1), [0.0])
        entry[0][bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
        entry[1][0] += duration

    def close(self) -> None:
        """Remove this manager's samples from the registry. Idempotent."""
        _detach(self)

    def families(self, families: dict[str, Any]) -> None:
        """Add this manager's samples to ``families`` (by name, made by the collector)."""
        probes = self.probes
        labels = [probes.uid(), probes.key]
        counters = probes.stats.counters()
        for stat, (name, _) in COUNTERS.items():
            families[name].add_metric(labels, counters[stat])
        for stat, reason in DROP_REASONS.items():
            families[_DROPPED[0]].add_metric([*labels, reason], counters[stat])
        for stat, reason in SKIP_REASONS.items():
            families[_SKIPPED[0]].add_metric([*labels, reason], counters[stat])
        gauges = _read(probes.stats.gauges)
        if gauges is not None:  # skipped this scrape when a torn read kept failing
            for stat, (name, _) in GAUGES.items():
                families[name].add_metric(labels, gauges[stat])
        nodes = _read(probes.nodes) or {}
        for namespace, count in nodes.items():
            families[_NODES[0]].add_metric([*labels, namespace], count)
        for attribute, (name, _) in _STATES.items():
            families[name].add_metric(labels, 1 if getattr(probes, attribute)() else 0)
        for operation, (counts, total) in list(self._durations.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(_BOUNDS, list(counts), strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            families[_DURATION[0]].add_metric([*labels, operation], buckets, total[0])


def _read(source: Callable[[], Any]) -> Any:
    """``source()``, read from a scrape thread while the manager's loop may be changing what
    it reads (python-socketio's callback tables): a dict that changes size mid-iteration
    raises RuntimeError, so read again; after three tries give up for this scrape."""
    for _ in range(3):
        try:
            return source()
        except RuntimeError:
            continue
    return None


class _RegistryCollector:
    """The one collector of a registry: the samples of every manager attached to it."""

    def __init__(self) -> None:
        self.members: list[ManagerMetrics] = []

    def _empty(self) -> dict[str, Any]:
        prometheus = _prometheus().metrics_core
        counter, gauge = prometheus.CounterMetricFamily, prometheus.GaugeMetricFamily
        families: dict[str, Any] = {}
        for name, text in COUNTERS.values():
            families[name] = counter(name, text, labels=LABELS)
        for name, text in (_DROPPED, _SKIPPED):
            families[name] = counter(name, text, labels=(*LABELS, "reason"))
        for name, text in GAUGES.values():
            families[name] = gauge(name, text, labels=LABELS)
        families[_NODES[0]] = gauge(*_NODES, labels=(*LABELS, "namespace"))
        for name, text in _STATES.values():
            families[name] = gauge(name, text, labels=LABELS)
        families[_DURATION[0]] = prometheus.HistogramMetricFamily(
            *_DURATION, labels=(*LABELS, "operation")
        )
        return families

    def describe(self) -> Iterator[Metric]:
        """The families without samples: the registry checks names against other collectors."""
        return iter(self._empty().values())

    def collect(self) -> Iterator[Metric]:
        families = self._empty()
        for member in list(self.members):
            member.families(families)
        return iter(families.values())


_lock = threading.Lock()
_collectors: weakref.WeakKeyDictionary[Any, _RegistryCollector] = weakref.WeakKeyDictionary()


def attach(probes: Probes, registry: CollectorRegistry) -> ManagerMetrics:
    """Export a manager's metrics in ``registry`` (the manager registers the result as a
    plugin, and closes it in its ``close()``)."""
    metrics = ManagerMetrics(probes, registry)
    with _lock:
        collector = _collectors.get(registry)
        if collector is None:
            collector = _RegistryCollector()
            registry.register(collector)
            _collectors[registry] = collector
        collector.members = [*collector.members, metrics]  # scrapes iterate a stable list
    return metrics


def _detach(metrics: ManagerMetrics) -> None:
    with _lock:
        collector = _collectors.get(metrics.registry)
        if collector is None or metrics not in collector.members:
            return
        collector.members = [m for m in collector.members if m is not metrics]
        if not collector.members:
            metrics.registry.unregister(collector)
            del _collectors[metrics.registry]
