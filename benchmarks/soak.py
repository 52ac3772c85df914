"""The soak scenario: memory and gauges of a node over many cluster requests.

Contract: :func:`soak` starts three node processes of :mod:`benchmarks.soak_node` on the Redis
at ``url`` (two responders, then the soaker, whose connections are named
``soak-<key>`` through the URL option ``client_name``), waits for the soaker's result and stops
all three by PID, also on errors. The result holds, per request kind, the RSS and gauges after
the warm-up and at the end, requests/s and failures; the timed-out run; the concurrent run
with the soaker's Redis connections. Sizes come from the :class:`~benchmarks.scenarios.Plan`.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from .procs import Children


def _command(cfg: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "benchmarks.soak_node", json.dumps(cfg)]


def with_client_name(url: str, name: str) -> str:
    """``url`` with the ``client_name`` query option set to ``name``."""
    return url + ("&" if "?" in url else "?") + f"client_name={name}"


def soak(url: str, plan: Any, cwd: str) -> dict[str, Any]:
    """Runs the scenario; returns the soaker's result."""
    key = f"bench-{uuid.uuid4().hex[:8]}"
    base = {"redis": url, "key": key, "sockets": plan.soak_sockets}
    with Children() as children:
        for name in ("responder1", "responder2"):
            cfg = {**base, "role": "responder", "name": name}
            child = children.start(f"soak {name}", _command(cfg), cwd=cwd)
            child.wait_for("ready", 60)
        client_name = f"soak-{key}"
        cfg = {
            **base,
            "role": "soaker",
            "name": "soaker",
            "redis": with_client_name(url, client_name),
            "probe": url,
            "client_name": client_name,
            "nodes": 3,
            "requests": plan.soak_requests,
            "warmup": plan.soak_warmup,
            "batch": plan.soak_batch,
            "timeouts": plan.soak_timeouts,
            "timeout": plan.soak_timeout,
            "concurrent": plan.soak_concurrent,
        }
        child = children.start("soak soaker", _command(cfg), cwd=cwd)
        child.wait_for("ready", 60)
        result: dict[str, Any] = child.wait_for("result", plan.soak_seconds)
    return result
