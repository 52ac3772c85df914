"""``python -m benchmarks [--quick] [--only SCENARIO ...] [--out docs/benchmarks.md]``: the
benchmark suite, one command.

Contract: starts a private redis-server (never the one on 6379), runs every scenario of
:mod:`benchmarks.scenarios` for sioadapter and each baseline in this one run, one OS process per
node, then writes the results file (Markdown: machine, command, absolute figures, ratios
against the targets with PASS/FAIL) and its charts (PNG: the headline chart under the same
name, the detail chart with ``-detail`` added). The full run writes ``docs/benchmarks.md``,
``docs/benchmarks.png`` and ``docs/benchmarks-detail.png``; ``--quick`` (small sizes, a smoke test)
writes nothing unless ``--out`` is given, and so does ``--only`` (some scenarios, e.g.
``--only soak``: the other tables then read ``n/a``, and no chart is drawn; ``--only
backends``: the backend family, sioadapter over Redis, NATS, PostgreSQL and RabbitMQ against
each broker's raw client, :mod:`benchmarks.backend_suite`). ``--json PATH`` also saves the raw
results.
Exit status: 0 when the run completed (whatever the targets say), 1 when a node failed (in
the backend family, after the other cases ran and the page was written).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from . import (
    backend_report,
    backend_suite,
    brokers,
    chart,
    ratios,
    report,
    scaling_cluster,
    scaling_rooms,
    scenarios,
)
from .procs import ChildError
from .redis_server import private_redis, redis_version


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _node_package(name: str) -> str:
    try:
        package = scenarios.NODE_MODULES / name / "package.json"
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=10, cwd=scenarios.ROOT
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.strip() or "?"


def machine() -> dict[str, Any]:
    """What the figures depend on: CPU, core count, versions."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dirty = _run(["git", "status", "--porcelain", "--", "sioadapter"]) not in ("", "?")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": model,
        "nproc": os.cpu_count(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sioadapter": _version("sioadapter")
        + f" (git {_run(['git', 'rev-parse', '--short', 'HEAD'])}"
        + (", sioadapter/ modified)" if dirty else ")"),
        "python-socketio": _version("python-socketio"),
        "python-engineio": _version("python-engineio"),
        "redis-py": _version("redis"),
        "hiredis": _version("hiredis"),
        "orjson": _version("orjson"),
        "node": _run(["node", "--version"]),
        "socket.io": _node_package("socket.io"),
        "@socket.io/redis-adapter": _node_package("@socket.io/redis-adapter"),
        "redis (node)": _node_package("redis"),
        "redis-server": redis_version(),
        **brokers.versions(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--out", type=Path, help="results file (default docs/benchmarks.md)")
    parser.add_argument("--json", type=Path, help="also save the raw results as JSON")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=scenarios.SCENARIOS,
        metavar="SCENARIO",
        help=f"run only these scenarios ({', '.join(scenarios.SCENARIOS)})",
    )
    args = parser.parse_args(argv)
    # SIGTERM ends the run like Ctrl-C: the context managers stop every child and Redis.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    plan = scenarios.QUICK if args.quick else scenarios.Plan()
    out = args.out
    if out is None and not args.quick and not args.only:
        out = scenarios.ROOT / "docs" / "benchmarks.md"
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    if args.out is not None:
        command += f" --out {args.out}"
    scenarios.check_node_modules()
    info = machine()
    print(f"sioadapter benchmarks ({'quick' if args.quick else 'full'} run)", flush=True)
    started = time.monotonic()
    try:
        with private_redis() as url:
            print(f"private Redis at {url}", flush=True)
            results = scenarios.run_suite(
                url, plan, log=lambda s: print(s, flush=True), only=args.only
            )
    except ChildError as error:
        print(f"a node failed: {error}", file=sys.stderr)
        return 1
    info["duration"] = f"{time.monotonic() - started:.0f} s"
    data = {"machine": info, "command": command, "plan": vars(plan), "results": results}
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=1))
    drawn = out.with_suffix(".png") if out is not None and not args.only else None
    detail = drawn.with_name(f"{drawn.stem}-detail.png") if drawn is not None else None
    text = report.markdown(
        data, chart=drawn.name if drawn else None, detail=detail.name if detail else None
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        if drawn is not None and detail is not None:
            chart.headline(data, drawn)
            chart.chart(data, detail)
            scaling_cluster.draw(data, drawn.with_name(f"{drawn.stem}-scaling.png"))
            scaling_rooms.draw(data, drawn.with_name(f"{drawn.stem}-rooms.png"))
        print(f"wrote {out}" + (f", {drawn} and {detail}" if drawn and detail else ""))
    print(ratios.ratio_table(data))
    if backend_report.ran(data):
        print("\n### Backend targets: each broker against its own raw client\n")
        print(backend_report.targets(data))
    failed = backend_suite.failures(results.get("backends") or {})
    for line in failed:
        print(f"a node failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
