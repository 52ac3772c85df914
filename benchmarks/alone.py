"""``python -m benchmarks.<family>``: one benchmark family alone, on a private Redis.

Contract: :func:`main` parses ``[--quick] [--json PATH] [--png PATH]``, runs ``run(url, plan)``
(the quick or the full :class:`~benchmarks.scenarios.Plan`), prints the time taken and the
family's page part, saves ``{"results": {key: ...}}`` as JSON and draws its chart when asked;
returns 0. ``python -m benchmarks`` runs the same families among the others.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main(
    module: str,
    key: str,
    run: Callable[[str, Any], dict[str, Any]],
    sections: Callable[[dict[str, Any]], list[str]],
    draw: Callable[[dict[str, Any], Path], None],
    argv: list[str] | None = None,
) -> int:
    """See the module docstring (``module``: the family's, for the usage line)."""
    from . import scenarios
    from .redis_server import private_redis

    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--json", type=Path, help=f"save the results (as results[{key!r}])")
    parser.add_argument("--png", type=Path, help="draw the chart there")
    args = parser.parse_args(argv)
    scenarios.check_node_modules()
    started = time.monotonic()
    with private_redis() as url:
        results = run(url, scenarios.QUICK if args.quick else scenarios.Plan())
    data = {"results": {key: results}}
    print(f"{time.monotonic() - started:.0f} s", "\n".join(sections(data)), sep="\n")
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=1))
    if args.png is not None:
        draw(data, args.png)
    return 0
