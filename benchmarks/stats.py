"""Small statistics helpers shared by the node processes and the report (no dependencies).

Contract: :func:`percentile` interpolates linearly between the two nearest ranks (numpy's
default); :func:`summary` turns samples into ``{"n", "p50", "p99", "mean", "max"}`` (NaN
figures for no samples), in the samples' unit; :func:`rates` gives a receiver's throughput
figures (``node_js.js`` computes the same ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Count, p50, p99, mean and max of ``values``."""
    if not values:
        nan = math.nan
        return {"n": 0, "p50": nan, "p99": nan, "mean": nan, "max": nan}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "mean": sum(values) / len(values),
        "max": max(values),
    }


def rates(count: int, k: int, emitted: float, first: float, last: float) -> dict[str, float]:
    """Throughput figures of a receiver that got ``count`` deliveries for ``k`` sockets.

    ``emitted`` is when the sender started emitting (CLOCK_MONOTONIC, from the ``start``
    marker), ``first`` and ``last`` the receiver's first and last delivery. End to end (the
    primary figure: from A's first emit to B's last delivery) and B's own delivery span (from
    its first to its last delivery: a drain rate when the sender bursts ahead of it).
    """
    e2e, span = last - emitted, last - first
    return {
        "seconds": e2e,
        "deliveries_per_s": count / e2e if count and e2e > 0 else 0.0,
        "broadcasts_per_s": count / k / e2e if count and k and e2e > 0 else 0.0,
        "span_seconds": span,
        "span_broadcasts_per_s": count / k / span if count and k and span > 0 else 0.0,
    }
